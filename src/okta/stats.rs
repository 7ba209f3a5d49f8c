//! Counters of one client's traffic with Okta: requests sent, 429s by kind, retries and time
//! spent waiting. A sweep takes a fresh set so its `sweeps` row counts only its own requests.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::retry::WaitKind;

/// Prometheus counter of requests sent, by `operation` (the rate-limit bucket: method and
/// path template) and `status` (HTTP status, or `error` when no response came). Recorded
/// through the `metrics` facade: a no-op unless a recorder is installed (`revokd run`).
pub const REQUESTS_METRIC: &str = "revokd_okta_requests_total";

/// Prometheus gauge of the `X-Rate-Limit-Remaining` last seen, by `bucket`.
pub const RATE_LIMIT_REMAINING_METRIC: &str = "revokd_okta_rate_limit_remaining";

/// Prometheus gauge of the `X-Rate-Limit-Limit` last seen, by `bucket`.
pub const RATE_LIMIT_LIMIT_METRIC: &str = "revokd_okta_rate_limit_limit";

/// Prometheus counter of the milliseconds requests were held back by the rate-limit budget
/// (to stay within `okta.rate_limit.max_share`), summed over requests.
pub const BUDGET_WAIT_METRIC: &str = "revokd_okta_rate_budget_wait_milliseconds_total";

/// Live counters, shared by the clones of one client.
#[derive(Debug, Default)]
pub struct HttpStats {
    requests: AtomicU64,
    rate_429: AtomicU64,
    concurrency_429: AtomicU64,
    server_errors: AtomicU64,
    transport_errors: AtomicU64,
    retries: AtomicU64,
    wait_ms: AtomicU64,
    budget_waits: AtomicU64,
    budget_wait_ms: AtomicU64,
}

/// A copy of the counters at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    pub requests: u64,
    pub rate_429: u64,
    pub concurrency_429: u64,
    pub server_errors: u64,
    pub transport_errors: u64,
    pub retries: u64,
    /// Milliseconds spent waiting before retries.
    pub wait_ms: u64,
    /// Requests held back by the rate-limit budget.
    pub budget_waits: u64,
    /// Milliseconds spent waiting on the rate-limit budget.
    pub budget_wait_ms: u64,
}

impl StatsSnapshot {
    /// All 429s, whatever their kind.
    pub fn http_429(&self) -> u64 {
        self.rate_429 + self.concurrency_429
    }
}

impl HttpStats {
    pub(crate) fn request_sent(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn status_seen(&self, status: u16, concurrency: bool) {
        let counter = match status {
            429 if concurrency => &self.concurrency_429,
            429 => &self.rate_429,
            500..=599 => &self.server_errors,
            _ => return,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn transport_failed(&self) {
        self.transport_errors.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn waited(&self, kind: WaitKind, wait: Duration) {
        let _ = kind;
        self.retries.fetch_add(1, Ordering::Relaxed);
        let ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
        self.wait_ms.fetch_add(ms, Ordering::Relaxed);
    }

    pub(crate) fn budget_waited(&self, wait: Duration) {
        self.budget_waits.fetch_add(1, Ordering::Relaxed);
        let ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
        metrics::counter!(BUDGET_WAIT_METRIC).increment(ms);
        self.budget_wait_ms.fetch_add(ms, Ordering::Relaxed);
    }

    /// The counters now.
    pub fn snapshot(&self) -> StatsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StatsSnapshot {
            requests: get(&self.requests),
            rate_429: get(&self.rate_429),
            concurrency_429: get(&self.concurrency_429),
            server_errors: get(&self.server_errors),
            transport_errors: get(&self.transport_errors),
            retries: get(&self.retries),
            wait_ms: get(&self.wait_ms),
            budget_waits: get(&self.budget_waits),
            budget_wait_ms: get(&self.budget_wait_ms),
        }
    }
}
