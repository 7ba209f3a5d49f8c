//! The retry loop: sends an attempt, asks [`retry_delay`] whether and how long to wait, waits,
//! and sends again with `X-Okta-Retry-Count` and `X-Okta-Retry-For`, until an attempt succeeds,
//! fails for good or the attempts run out. What counts as an attempt is the [`Attempt`] trait,
//! so the loop is tested with scripted closures instead of sockets.

use std::future::Future;
use std::time::SystemTime;

use reqwest::header::HeaderMap;

use super::{Delay, Outcome, RetryPolicy, retry_delay};

/// An HTTP response as the retry loop needs to see it.
pub trait Attempt {
    fn status(&self) -> u16;
    fn headers(&self) -> &HeaderMap;
    /// `X-Okta-Request-Id`, sent back as `X-Okta-Retry-For` on the retry.
    fn request_id(&self) -> Option<String> {
        self.headers()
            .get("x-okta-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }
}

impl Attempt for reqwest::Response {
    fn status(&self) -> u16 {
        self.status().as_u16()
    }
    fn headers(&self) -> &HeaderMap {
        self.headers()
    }
}

/// What the loop tells the sender about the attempt it is about to make.
#[derive(Debug, Clone, Default)]
pub struct RetryInfo {
    /// 0 on the first attempt, then 1, 2, …: sent as `X-Okta-Retry-Count`.
    pub retry_count: u32,
    /// The failed attempt's request id: sent as `X-Okta-Retry-For`.
    pub retry_for: Option<String>,
}

/// Runs `send` until it succeeds, fails for good, or the rules say stop. `on_wait` observes
/// each wait (counters, logs) before it is slept. Returns the last attempt's result and the
/// number of attempts made.
pub async fn with_retries<R, E, F, Fut, W>(
    policy: &RetryPolicy,
    idempotent: bool,
    send: F,
    on_wait: W,
) -> (Result<R, E>, u32)
where
    R: Attempt,
    F: FnMut(RetryInfo) -> Fut,
    Fut: Future<Output = Result<R, E>>,
    W: FnMut(&Delay, u32, Option<u16>),
{
    with_retries_unless(policy, idempotent, send, on_wait, |_| false).await
}

/// [`with_retries`], except that a failure `is_final` says is not retried, whatever the
/// table says (a connect error before Okta has ever answered: the org is out of reach, and
/// waiting on it would only delay saying so).
pub async fn with_retries_unless<R, E, F, Fut, W, G>(
    policy: &RetryPolicy,
    idempotent: bool,
    mut send: F,
    mut on_wait: W,
    is_final: G,
) -> (Result<R, E>, u32)
where
    R: Attempt,
    F: FnMut(RetryInfo) -> Fut,
    Fut: Future<Output = Result<R, E>>,
    W: FnMut(&Delay, u32, Option<u16>),
    G: Fn(&E) -> bool,
{
    let mut info = RetryInfo::default();
    let mut attempt = 1;
    loop {
        let result = send(info.clone()).await;
        let (delay, status, request_id) = match &result {
            Ok(resp) => {
                let outcome = Outcome::Response {
                    status: resp.status(),
                    headers: resp.headers(),
                };
                let d = retry_delay(
                    outcome,
                    attempt,
                    idempotent,
                    policy,
                    SystemTime::now(),
                    rand::random(),
                );
                (d, Some(resp.status()), resp.request_id())
            }
            Err(e) if is_final(e) => (None, None, None),
            Err(_) => {
                let d = retry_delay(
                    Outcome::Transport,
                    attempt,
                    idempotent,
                    policy,
                    SystemTime::now(),
                    rand::random(),
                );
                (d, None, None)
            }
        };
        let Some(delay) = delay else {
            return (result, attempt);
        };
        on_wait(&delay, attempt, status);
        drop(result);
        tokio::time::sleep(delay.wait).await;
        info = RetryInfo {
            retry_count: attempt,
            retry_for: request_id,
        };
        attempt += 1;
    }
}
