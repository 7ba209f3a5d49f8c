//! `/hooks/okta`: Okta event hooks (FACTS §3). `GET` answers the one-time verification
//! challenge (`X-Okta-Verification-Challenge` → `{"verification": …}`). `POST` deliveries must
//! carry the configured secret in `Authorization` (or, while it is rotated,
//! `server.hook_secret_previous`; compared in constant time, before the body is read; 401
//! otherwise), fit in [`MAX_BODY_BYTES`] (413), arrive within [`BODY_TIMEOUT`]
//! (408) and parse (400). Events of `offboarding.event_types` become `offboarding_jobs` rows,
//! committed before the 200 (in a task Okta hanging up cannot cancel; 503 when that takes
//! longer than [`SAVE_WAIT`]) and de-duplicated by event uuid; then the worker is woken.
//! Nothing here ever calls Okta. Without a configured secret the endpoint answers 503 and says
//! why in the log: unauthenticated deliveries are never accepted. What anyone can cause (a
//! refusal, a challenge answered) is logged at most once a minute (`super::log_pace`).

use std::sync::Arc;

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::Utc;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use sha2::{Digest, Sha256};
use tracing::{error, info, warn};

use super::context::Context;
use super::log_pace::Pace;
use super::metrics;
use http_body_util::{BodyExt, LengthLimitError, Limited};

use crate::offboard::{HookDelivery, jobs_from_events};
use crate::store::NewJob;

/// Largest delivery read (from a request with the secret only). Okta publishes no bound on
/// a batch; a `LogEvent` is a few KiB, so this is hundreds of events.
pub const MAX_BODY_BYTES: usize = 4 << 20;

/// Longest a delivery's body may take to arrive once its head is read (Okta waits 3 s for the
/// answer to the whole request).
pub const BODY_TIMEOUT: Duration = Duration::from_secs(5);

/// Longest a delivery waits for its jobs to be committed before it is answered 503: Okta
/// waits 3 s for an answer, and retries a 5xx once.
pub const SAVE_WAIT: Duration = Duration::from_secs(2);

/// The hook route.
pub fn routes() -> Router<Arc<Context>> {
    Router::new().route("/hooks/okta", get(verify).post(deliver))
}

/// Says, at start and at each reload, that a previous hook secret is still accepted: it is
/// meant for a rotation's overlap, not to stay.
pub fn note_rotation(config: &crate::config::Config) {
    if config.server.hook_secret_previous.is_some() {
        warn!(
            "server.hook_secret_previous is set: event hook deliveries with it are accepted too; \
             remove it once Okta's hook sends server.hook_secret"
        );
    }
}

/// How often what anyone can cause (a refusal: no secret configured, a wrong secret; an
/// answered verification challenge) is logged.
const REFUSAL_LOG_EVERY: Duration = Duration::from_secs(60);
static NO_SECRET_LOG: Pace = Pace::new(REFUSAL_LOG_EVERY);
static UNAUTHORIZED_LOG: Pace = Pace::new(REFUSAL_LOG_EVERY);
static CHALLENGE_LOG: Pace = Pace::new(REFUSAL_LOG_EVERY);

fn no_secret() -> Response {
    if let Some(unwritten) = NO_SECRET_LOG.admit(std::time::Instant::now()) {
        warn!(
            refused_unlogged = unwritten,
            "an Okta event hook request was refused: no server.hook_secret is configured \
             (logged once a minute; refused_unlogged: refusals since the last line)"
        );
    }
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
            // Okta's verification GET may carry no secret, so anyone can send one: paced.
            if let Some(unlogged) = CHALLENGE_LOG.admit(std::time::Instant::now()) {
                info!(
                    answered_unlogged = unlogged,
                    "answered Okta's event hook verification challenge (logged once a minute; \
                     answered_unlogged: challenges since the last line)"
                );
            }
            Json(json!({ "verification": challenge })).into_response()
        }
        None => (
            StatusCode::BAD_REQUEST,
            "missing X-Okta-Verification-Challenge\n",
        )
            .into_response(),
    }
}

async fn deliver(State(ctx): State<Arc<Context>>, request: Request) -> Response {
    let current = ctx.current();
    let Some(secret) = current.config.server.hook_secret.as_ref() else {
        return no_secret();
    };
    // Before a byte of the body is read: a client without the secret holds no connection
    // open by trickling one. A missing header never matches (an empty secret is refused at
    // load).
    let given = request.headers().get(header::AUTHORIZATION);
    let matches = |secret: &SecretString| {
        given.is_some_and(|given| {
            let expected = secret.expose_secret().as_bytes();
            !expected.is_empty() && secrets_match(given.as_bytes(), expected)
        })
    };
    // Both compared, whichever matches: how long the check takes says nothing of which.
    let (current_matches, previous_matches) = (
        matches(secret),
        (current.config.server.hook_secret_previous.as_ref()).is_some_and(matches),
    );
    if !(current_matches || previous_matches) {
        if let Some(unwritten) = UNAUTHORIZED_LOG.admit(std::time::Instant::now()) {
            warn!(
                refused_unlogged = unwritten,
                "an Okta event hook delivery was refused: wrong or missing Authorization \
                 (logged once a minute; refused_unlogged: refusals since the last line; \
                 revokd_hook_requests_total{{result=\"unauthorized\"}} counts each)"
            );
        }
        metrics::hook_request("unauthorized");
        return StatusCode::UNAUTHORIZED.into_response();
    }
    // While a rotation is under way, which secret each delivery came with: the operator
    // removes the previous one once deliveries come with the new one.
    if previous_matches && !current_matches {
        info!("an Okta event hook delivery came with server.hook_secret_previous");
    } else if current.config.server.hook_secret_previous.is_some() {
        info!(
            "an Okta event hook delivery came with server.hook_secret: once none comes with \
             server.hook_secret_previous, remove it and reload"
        );
    }
    let body = match read_body(request).await {
        Ok(body) => body,
        Err(refused) => return refused.into_response(),
    };
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
    // Saved in a task of its own: Okta hanging up after its 3 s drops this handler, and must
    // not roll the jobs back. Not saved within [`SAVE_WAIT`] (a busy database), the answer is
    // 503 and Okta retries; the save goes on, and the retry finds its jobs (a duplicate).
    let delivery_id = delivery.event_id.unwrap_or_default();
    let save = tokio::spawn(save(Arc::clone(&ctx), jobs, delivery_id));
    match tokio::time::timeout(SAVE_WAIT, save).await {
        Ok(Ok(true)) => StatusCode::OK.into_response(),
        // 5xx: Okta retries once; the uuid makes that retry safe.
        Ok(Ok(false) | Err(_)) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
        Err(_) => {
            warn!(
                wait_ms = SAVE_WAIT.as_millis() as u64,
                "an event hook delivery is not saved yet (the database is busy): answered 503 \
                 so Okta sends it again; it is still being saved"
            );
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

/// Reads a delivery's body: at most [`MAX_BODY_BYTES`] (413), within [`BODY_TIMEOUT`] (408).
async fn read_body(request: Request) -> Result<Bytes, StatusCode> {
    let refuse = |status: StatusCode, result: &'static str, why: &'static str| {
        warn!(
            hook.result = result,
            "an Okta event hook delivery was refused: {why}"
        );
        metrics::hook_request(result);
        Err(status)
    };
    let declared = (request.headers().get(header::CONTENT_LENGTH))
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let too_large = "its body is larger than the limit";
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return refuse(StatusCode::PAYLOAD_TOO_LARGE, "too_large", too_large);
    }
    let limited = Limited::new(request.into_body(), MAX_BODY_BYTES);
    match tokio::time::timeout(BODY_TIMEOUT, limited.collect()).await {
        Ok(Ok(body)) => Ok(body.to_bytes()),
        Ok(Err(e)) if e.is::<LengthLimitError>() => {
            refuse(StatusCode::PAYLOAD_TOO_LARGE, "too_large", too_large)
        }
        Ok(Err(_)) => refuse(
            StatusCode::BAD_REQUEST,
            "malformed",
            "its body could not be read",
        ),
        Err(_) => refuse(
            StatusCode::REQUEST_TIMEOUT,
            "slow_body",
            "its body did not arrive in time",
        ),
    }
}

/// Commits the jobs of one delivery, logs and counts the outcome and wakes the worker for a
/// new job. Whether they are saved (new, or there from an earlier delivery of the same events).
async fn save(ctx: Arc<Context>, jobs: Vec<NewJob>, delivery: String) -> bool {
    match ctx.store.enqueue_jobs(&jobs, Utc::now()).await {
        Ok(created) => {
            info!(
                hook.delivery = delivery.as_str(),
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
            true
        }
        Err(e) => {
            error!(error.message = %e, error.cause_chain = ?e, "cannot enqueue an event hook delivery");
            metrics::hook_request("failed");
            false
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
