//! A local webhook receiver for the notification tests: an axum server on 127.0.0.1:0 that
//! records every request it gets (path, headers, JSON body) and answers by path: `/…/ok` 200,
//! `/…/flaky` 500 (echoing the request's `Authorization` and path in its body) for the first
//! [`FLAKY_FAILURES`] requests of each event id then 200, `/…/hang` never, `/…/redirect` 302 to `/trap`,
//! `/…/huge` 500 with a 64 MiB body, `/…/gone` 410 (as Slack answers for a webhook removed),
//! `/…/slow` 429 with `Retry-After: 1` for the first request of each event id, then 200.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use tokio::sync::watch;

use crate::daemon::harness::PATIENCE;

/// How many times `/…/flaky` answers 500 before 200.
pub const FLAKY_FAILURES: usize = 2;

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Value,
    /// Whether it was answered 2xx (recorded before answering).
    pub accepted: bool,
}

impl Received {
    /// The `X-Revokd-Event-Id` header.
    pub fn event_id(&self) -> &str {
        self.headers
            .get("x-revokd-event-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

#[derive(Default)]
struct Inner {
    log: watch::Sender<Vec<Received>>,
    /// `/…/flaky` and `/…/slow` requests so far, by path and event id.
    tries: Mutex<HashMap<String, usize>>,
    /// `/…/hang` requests whose connection is still open.
    hanging: AtomicUsize,
}

/// The running receiver.
pub struct Receiver {
    pub base: String,
    inner: Arc<Inner>,
}

/// Counts an open `/hang` request until the client gives up and drops it.
struct Hanging(Arc<Inner>);

impl Drop for Hanging {
    fn drop(&mut self) {
        self.0.hanging.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Receiver {
    /// Binds 127.0.0.1:0 first, then serves.
    pub async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let inner = Arc::new(Inner::default());
        let app = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&inner));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { base, inner }
    }

    /// Every request so far.
    pub fn received(&self) -> Vec<Received> {
        self.inner.log.borrow().clone()
    }

    /// Requests so far to `path`.
    pub fn at(&self, path: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }

    /// `/hang` requests still held open.
    pub fn hanging(&self) -> usize {
        self.inner.hanging.load(Ordering::SeqCst)
    }

    /// Waits (at most [`PATIENCE`]) until the requests so far satisfy `done`.
    pub async fn wait_until(
        &self,
        what: &str,
        done: impl Fn(&[Received]) -> bool,
    ) -> Vec<Received> {
        let mut rx = self.inner.log.subscribe();
        match tokio::time::timeout(PATIENCE, rx.wait_for(|log| done(log))).await {
            Ok(Ok(log)) => log.clone(),
            _ => panic!("no {what} within {PATIENCE:?}: {:#?}", self.received()),
        }
    }

    /// Waits until `path` has accepted `n` requests.
    pub async fn wait_accepted(&self, path: &str, n: usize) -> Vec<Received> {
        let log = self
            .wait_until(&format!("{n} accepted at {path}"), |log| {
                log.iter().filter(|r| r.path == path && r.accepted).count() >= n
            })
            .await;
        log.into_iter()
            .filter(|r| r.path == path && r.accepted)
            .collect()
    }
}

async fn handle(State(inner): State<Arc<Inner>>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let uri = request.uri().to_string();
    let headers = request.headers().clone();
    let bytes = axum::body::to_bytes(request.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let event = headers
        .get("x-revokd-event-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let tries = (path.ends_with("/flaky") || path.ends_with("/slow")).then(|| {
        let mut seen = inner.tries.lock().expect("lock");
        let n = seen.entry(format!("{path} {event}")).or_default();
        *n += 1;
        *n
    });
    let (accepted, response) = if path.ends_with("/flaky")
        && tries.is_some_and(|n| n <= FLAKY_FAILURES)
    {
        let text = format!("temporarily down; you sent authorization {auth} to POST {uri}");
        (
            false,
            (StatusCode::INTERNAL_SERVER_ERROR, text).into_response(),
        )
    } else if path.ends_with("/slow") && tries == Some(1) {
        let wait = [(header::RETRY_AFTER, "1")];
        let response = (StatusCode::TOO_MANY_REQUESTS, wait, "slow down");
        (false, response.into_response())
    } else if path.ends_with("/gone") {
        let response = (StatusCode::GONE, "no_service");
        (false, response.into_response())
    } else if path.ends_with("/hang") {
        (false, StatusCode::OK.into_response())
    } else if path.ends_with("/redirect") {
        let to = [(header::LOCATION, "/trap")];
        (false, (StatusCode::FOUND, to).into_response())
    } else if path.ends_with("/huge") {
        let chunk = Bytes::from(vec![b'x'; 64 << 10]);
        let chunks =
            futures::stream::iter(std::iter::repeat_n(chunk, 1024).map(Ok::<_, std::io::Error>));
        let response = (StatusCode::INTERNAL_SERVER_ERROR, Body::from_stream(chunks));
        (false, response.into_response())
    } else {
        (true, StatusCode::OK.into_response())
    };
    let open = path.ends_with("/hang").then(|| {
        inner.hanging.fetch_add(1, Ordering::SeqCst);
        Hanging(Arc::clone(&inner))
    });
    inner.log.send_modify(|log| {
        log.push(Received {
            path: path.clone(),
            headers,
            body,
            accepted,
        });
    });
    if let Some(_open) = open {
        std::future::pending::<()>().await;
    }
    response
}
