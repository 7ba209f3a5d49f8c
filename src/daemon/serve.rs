//! The daemon's HTTP server: the router served over HTTP/1.1 with the limits a listener that
//! Okta's event hooks must reach (often from the internet) needs. A connection must send each
//! request's headers within [`Limits::header_timeout`] (an idle keep-alive connection too);
//! after [`Limits::connection_lifetime`] it is told to close once its request in flight is
//! answered, and is dropped [`Limits::grace`] later whatever it does (a body trickled byte by
//! byte included); at most [`Limits::max_connections`] are served at once, and one more is
//! closed at once, so slow clients cannot take every file descriptor. On shutdown every
//! connection is told to close the same way, and the server waits for them up to the grace.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tracing::{debug, warn};

/// What one connection may take.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub header_timeout: Duration,
    pub connection_lifetime: Duration,
    pub grace: Duration,
    pub max_connections: usize,
}

impl Default for Limits {
    /// Okta gives a hook delivery 3 seconds; Prometheus scrapes in well under a minute.
    fn default() -> Self {
        Limits {
            header_timeout: Duration::from_secs(10),
            connection_lifetime: Duration::from_secs(60),
            grace: Duration::from_secs(5),
            max_connections: 256,
        }
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets the connections finish
/// their requests in flight (up to [`Limits::grace`]).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let (stopping, stop) = watch::channel(false);
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    warn!(error.message = %e, "cannot accept an HTTP connection");
                    // Out of descriptors, say: let some close before trying again.
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_millis(50)) => continue,
                        () = &mut shutdown => break,
                    }
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            debug!(client.address = %peer, "HTTP connection refused: too many open");
            continue;
        };
        let (router, stop) = (router.clone(), stop.clone());
        tokio::spawn(async move {
            connection(stream, router, limits, stop).await;
            drop(permit);
        });
    }
    drop(listener);
    let _ = stopping.send(true);
    // Every place back means every connection closed.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(limits.grace, permits.acquire_many(all)).await;
}

/// Serves one connection within `limits`, until it ends, its lifetime is over or the server
/// stops: then it is told to close after its request in flight, and dropped after the grace.
async fn connection(
    stream: TcpStream,
    router: Router,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) {
    let service = TowerToHyperService::new(router);
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .serve_connection(TokioIo::new(stream), service);
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => return,
        () = tokio::time::sleep(limits.connection_lifetime) => {}
        _ = stop.wait_for(|stopping| *stopping) => {}
    }
    conn.as_mut().graceful_shutdown();
    let _ = tokio::time::timeout(limits.grace, conn).await;
}

#[cfg(test)]
#[path = "tests_serve.rs"]
mod tests;
