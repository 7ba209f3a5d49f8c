//! When and how long to wait before repeating an Okta request: one pure rule table
//! ([`retry_delay`]) and the loop that applies it ([`with_retries`]).
//!
//! | what happened                                   | retried?          | wait                                               |
//! |-------------------------------------------------|-------------------|----------------------------------------------------|
//! | 429, `X-Rate-Limit-Limit: 0` and `-Remaining: 0` | yes (concurrency) | exponential backoff, full jitter (Reset is a hint)   |
//! | 429 with `X-Rate-Limit-Reset` and `Date`         | yes (rate)        | `min(Reset) − Date + 1 s` + jitter, clamped to [min, max] |
//! | 429 without a usable Reset, with `Retry-After`  | yes (rate)        | `Retry-After` (seconds or a date) + jitter, clamped |
//! | 429 without either                              | yes (rate)        | exponential backoff, full jitter                   |
//! | 500, 502, 503, 504 on an idempotent request      | yes               | exponential backoff, full jitter                   |
//! | timeout, connect error, reset, on an idempotent request | yes        | exponential backoff, full jitter                   |
//! | any other status                                | no                |                                                    |
//! | attempts exhausted (`max_retries` after the first) | no             |                                                    |
//!
//! Repeated rate-limit headers (or comma-joined values) count by their minimum, as Okta's SDKs
//! do. A missing `Date` falls back to the local clock. Every wait is at least `min_backoff`
//! and at most `max_backoff`. A 429 waits as Okta's SDKs do, `Reset − Date + 1 s` (`Reset`
//! and `Date` are whole seconds; the extra second makes sure the new window has begun), plus
//! a random jitter of up to `rate_limit_jitter`, so workers do not retry in step. The pacing
//! budget reads window ends on the same clock ([`RateLimitHeaders::until_reset`]).//!
//! This file holds the rules; `retry/attempts.rs` holds the loop that applies them.

mod attempts;
#[cfg(test)]
mod tests;

pub use attempts::{Attempt, RetryInfo, with_retries, with_retries_unless};

use std::time::{Duration, SystemTime};

use reqwest::header::{DATE, HeaderMap, RETRY_AFTER};

/// Added to `Reset − Date` before a 429 is retried, as Okta's SDKs do.
pub const PAST_RESET: Duration = Duration::from_secs(1);

/// Retry settings, from `[okta]`.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    /// The largest random addition to a 429 wait.
    pub rate_limit_jitter: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 4,
            min_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(90),
            rate_limit_jitter: Duration::from_secs(1),
        }
    }
}

/// What one attempt produced, as far as retrying is concerned.
#[derive(Debug, Clone, Copy)]
pub enum Outcome<'a> {
    /// A response arrived.
    Response { status: u16, headers: &'a HeaderMap },
    /// No response: connect error, timeout, reset.
    Transport,
}

/// Why a wait happens, for counters and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitKind {
    /// 429 on a time-based bucket.
    RateLimit,
    /// 429 signalling Okta's concurrency limit.
    Concurrency,
    /// 5xx.
    ServerError,
    /// No response at all.
    Transport,
}

impl WaitKind {
    /// Lowercase name used in logs and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            WaitKind::RateLimit => "rate",
            WaitKind::Concurrency => "concurrency",
            WaitKind::ServerError => "server_error",
            WaitKind::Transport => "transport",
        }
    }
}

/// A decided wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delay {
    pub wait: Duration,
    pub kind: WaitKind,
}

/// The rate-limit headers of one response; repeated values reduced to their minimum.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateLimitHeaders {
    pub limit: Option<u64>,
    pub remaining: Option<u64>,
    /// UTC epoch seconds.
    pub reset: Option<u64>,
    /// The response's `Date`, if present and valid.
    pub date: Option<SystemTime>,
}

impl RateLimitHeaders {
    /// Reads the headers without failing: anything unparseable is absent.
    pub fn parse(headers: &HeaderMap) -> Self {
        RateLimitHeaders {
            limit: min_header(headers, "x-rate-limit-limit"),
            remaining: min_header(headers, "x-rate-limit-remaining"),
            reset: min_header(headers, "x-rate-limit-reset"),
            date: headers
                .get(DATE)
                .and_then(|v| v.to_str().ok())
                .and_then(|s| httpdate::parse_http_date(s).ok()),
        }
    }

    /// Okta's concurrency signal: limit and remaining both 0.
    pub fn is_concurrency_signal(&self) -> bool {
        self.limit == Some(0) && self.remaining == Some(0)
    }

    /// Time until the window resets, `Reset − Date`: measured on Okta's clock, the response's
    /// `Date`, and on `local_now` only when `Date` is missing. The one clock rule of both the
    /// 429 wait and the pacing budget.
    pub fn until_reset(&self, local_now: SystemTime) -> Option<Duration> {
        let reset = SystemTime::UNIX_EPOCH + Duration::from_secs(self.reset?);
        let now = self.date.unwrap_or(local_now);
        Some(reset.duration_since(now).unwrap_or(Duration::ZERO))
    }
}

/// A `Retry-After` header (RFC 9110): seconds, or an HTTP date read against `now` (the
/// response's `Date` when it has one). A date already past waits nothing more. Notification
/// receivers' answers are read with it too.
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    match value.parse::<u64>() {
        Ok(seconds) => Some(Duration::from_secs(seconds)),
        Err(_) => {
            let at = httpdate::parse_http_date(value).ok()?;
            Some(at.duration_since(now).unwrap_or(Duration::ZERO))
        }
    }
}

fn min_header(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|v| v.trim().parse::<u64>().ok())
        .min()
}

/// Decides whether attempt number `attempt` (1 for the first) is followed by another, and
/// after how long. `jitter` is a uniform draw in [0, 1), passed in to keep this function pure.
pub fn retry_delay(
    outcome: Outcome<'_>,
    attempt: u32,
    idempotent: bool,
    policy: &RetryPolicy,
    local_now: SystemTime,
    jitter: f64,
) -> Option<Delay> {
    if attempt > policy.max_retries {
        return None;
    }
    let kind = match outcome {
        Outcome::Response {
            status: 429,
            headers,
        } => {
            let rl = RateLimitHeaders::parse(headers);
            if rl.is_concurrency_signal() {
                WaitKind::Concurrency
            } else if let Some(until) = rl.until_reset(local_now) {
                let extra = policy.rate_limit_jitter.mul_f64(jitter.clamp(0.0, 1.0));
                let wait =
                    (until + PAST_RESET + extra).clamp(policy.min_backoff, policy.max_backoff);
                return Some(Delay {
                    wait,
                    kind: WaitKind::RateLimit,
                });
            } else if let Some(after) = retry_after(headers, rl.date.unwrap_or(local_now)) {
                // No Reset (an edge or a proxy answered): its own `Retry-After`, if it said one.
                let extra = policy.rate_limit_jitter.mul_f64(jitter.clamp(0.0, 1.0));
                return Some(Delay {
                    wait: (after + extra).clamp(policy.min_backoff, policy.max_backoff),
                    kind: WaitKind::RateLimit,
                });
            } else {
                WaitKind::RateLimit
            }
        }
        Outcome::Response {
            status: 500 | 502 | 503 | 504,
            ..
        } if idempotent => WaitKind::ServerError,
        Outcome::Transport if idempotent => WaitKind::Transport,
        _ => return None,
    };
    Some(Delay {
        wait: full_jitter(policy, attempt, jitter),
        kind,
    })
}

/// Exponential backoff with full jitter: uniform in [min, min(max, min · 2^(attempt−1))].
fn full_jitter(policy: &RetryPolicy, attempt: u32, jitter: f64) -> Duration {
    let exp = 2u32.saturating_pow(attempt.saturating_sub(1).min(30));
    let cap = policy
        .min_backoff
        .saturating_mul(exp)
        .min(policy.max_backoff);
    let span = cap.saturating_sub(policy.min_backoff);
    policy.min_backoff + span.mul_f64(jitter.clamp(0.0, 1.0))
}
