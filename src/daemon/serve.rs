//! The daemon's HTTP server: the router served over HTTP/1.1 with the limits a listener that
//! Okta's event hooks must reach (often from the internet) needs. A connection must send its
//! request headers within [`Limits::header_timeout`] and is closed after
//! [`Limits::connection_lifetime`] whatever it does (a body trickled byte by byte included);
//! at most [`Limits::max_connections`] are served at once, and one more is closed at once, so
//! slow clients cannot take every file descriptor. On shutdown, connections finish their
//! request in flight and close.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tracing::{debug, warn};

/// What one connection may take.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub header_timeout: Duration,
    pub connection_lifetime: Duration,
    pub max_connections: usize,
}

impl Default for Limits {
    /// Okta gives a hook delivery 3 seconds; Prometheus scrapes in well under a minute.
    fn default() -> Self {
        Limits {
            header_timeout: Duration::from_secs(10),
            connection_lifetime: Duration::from_secs(60),
            max_connections: 256,
        }
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets the connections finish
/// their requests in flight.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    warn!(error.message = %e, "cannot accept an HTTP connection");
                    // Out of descriptors, say: let some close before trying again.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            debug!(client.address = %peer, "HTTP connection refused: too many open");
            continue;
        };
        let service = TowerToHyperService::new(router.clone());
        let conn = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout)
            .serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = tokio::time::timeout(limits.connection_lifetime, conn).await;
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

#[cfg(test)]
#[path = "tests_serve.rs"]
mod tests;
