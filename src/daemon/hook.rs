//! `/hooks/okta`: Okta event hooks (FACTS §3). `GET` answers the one-time verification
//! challenge (`X-Okta-Verification-Challenge` → `{"verification": …}`). `POST` deliveries must
//! carry the configured secret in `Authorization` (compared in constant time; 401 otherwise),
//! fit in [`MAX_BODY_BYTES`] (413) and parse (400). Events of `offboarding.event_types` become
//! `offboarding_jobs` rows, committed before the 200 and de-duplicated by event uuid; then the
//! worker is woken. Nothing here ever calls Okta. Without a configured secret the endpoint
//! answers 503 and says why in the log: unauthenticated deliveries are never accepted.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::Utc;
use secrecy::ExposeSecret;
use serde_json::json;
use sha2::{Digest, Sha256};
use tracing::{error, info, warn};

use super::context::Context;
use super::metrics;
use crate::offboard::{HookDelivery, jobs_from_events};

/// Largest delivery accepted; Okta batches are far smaller.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// The hook route, with its body cap.
pub fn routes() -> Router<Arc<Context>> {
    Router::new().route(
        "/hooks/okta",
        get(verify)
            .post(deliver)
            .layer(DefaultBodyLimit::max(MAX_BODY_BYTES)),
    )
}

fn no_secret() -> Response {
    warn!("an Okta event hook request was refused: no server.hook_secret is configured");
    metrics::hook_request("disabled");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "event hooks are disabled: no server.hook_secret is configured\n",
    )
        .into_response()
}

async fn verify(State(ctx): State<Arc<Context>>, headers: HeaderMap) -> Response {
    if ctx.current().config.server.hook_secret.is_none() {
        return no_secret();
    }
    match headers
        .get("x-okta-verification-challenge")
        .and_then(|v| v.to_str().ok())
    {
        Some(challenge) => {
            info!("answered Okta's event hook verification challenge");
            Json(json!({ "verification": challenge })).into_response()
        }
        None => (
            StatusCode::BAD_REQUEST,
            "missing X-Okta-Verification-Challenge\n",
        )
            .into_response(),
    }
}

async fn deliver(State(ctx): State<Arc<Context>>, headers: HeaderMap, body: Bytes) -> Response {
    let current = ctx.current();
    let Some(secret) = current.config.server.hook_secret.as_ref() else {
        return no_secret();
    };
    // A missing header never matches, whatever the secret (an empty one is refused at load).
    let authorized = headers
        .get(axum::http::header::AUTHORIZATION)
        .is_some_and(|given| {
            let expected = secret.expose_secret().as_bytes();
            !expected.is_empty() && secrets_match(given.as_bytes(), expected)
        });
    if !authorized {
        warn!("an Okta event hook delivery was refused: wrong or missing Authorization");
        metrics::hook_request("unauthorized");
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let delivery: HookDelivery = match serde_json::from_slice(&body) {
        Ok(d) => d,
        Err(e) => {
            warn!(error.message = %e, "an Okta event hook delivery was refused: malformed body");
            metrics::hook_request("malformed");
            return (StatusCode::BAD_REQUEST, "malformed event hook body\n").into_response();
        }
    };
    let jobs = jobs_from_events(
        &delivery.data.events,
        &current.config.offboarding.event_types,
        crate::store::JobSource::EventHook,
    );
    if jobs.is_empty() {
        metrics::hook_request("ignored");
        return StatusCode::OK.into_response();
    }
    match ctx.store.enqueue_jobs(&jobs, Utc::now()).await {
        Ok(created) => {
            info!(
                hook.delivery = delivery.event_id.as_deref().unwrap_or(""),
                events = jobs.len(),
                jobs_created = created.len(),
                "event hook delivery enqueued"
            );
            metrics::hook_request(if created.is_empty() {
                "duplicate"
            } else {
                "accepted"
            });
            if !created.is_empty() {
                ctx.offboard_wake.notify_one();
            }
            StatusCode::OK.into_response()
        }
        Err(e) => {
            // 5xx: Okta retries once; the uuid makes that retry safe.
            error!(error.message = %e, error.cause_chain = ?e, "cannot enqueue an event hook delivery");
            metrics::hook_request("failed");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

/// Compares the digests, so neither content nor length leaks through timing.
fn secrets_match(given: &[u8], expected: &[u8]) -> bool {
    let (a, b) = (Sha256::digest(given), Sha256::digest(expected));
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

#[cfg(test)]
mod tests {
    use super::secrets_match;

    #[test]
    fn secrets_match_only_when_identical() {
        assert!(secrets_match(b"s3cret", b"s3cret"));
        assert!(!secrets_match(b"s3cret", b"s3cres"));
        assert!(!secrets_match(b"", b"s3cret"));
        assert!(!secrets_match(b"s3cret-and-more", b"s3cret"));
    }
}
