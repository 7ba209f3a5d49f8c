//! Counters of one client's traffic with Okta: requests sent, 429s by kind, retries and time
//! spent waiting. A sweep takes a fresh set so its `sweeps` row counts only its own requests.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::retry::WaitKind;

/// Prometheus counter of requests sent, by `operation` (the rate-limit bucket: method and
/// path template) and `status` (HTTP status, or `error` when no response came). Recorded
/// through the `metrics` facade: a no-op unless a recorder is installed (`revokd run`).
pub const REQUESTS_METRIC: &str = "revokd_okta_requests_total";

/// Prometheus counter of 429s from Okta, by `kind` (`rate`, or `concurrency` for Okta's
/// concurrent-request limit), counted as they come on every path (sweeps, offboarding,
/// retries), so a rate over minutes reads what Okta is answering now.
pub const RATE_LIMITED_METRIC: &str = "revokd_okta_429_total";

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
    responses: AtomicU64,
    successes: AtomicU64,
    rate_429: AtomicU64,
    concurrency_429: AtomicU64,
    server_errors: AtomicU64,
    transport_errors: AtomicU64,
    retries: AtomicU64,
    wait_ms: AtomicU64,
    budget_waits: AtomicU64,
    budget_wait_ms: AtomicU64,
    held: Mutex<Held>,
}

/// Wall time during which at least one request was held back by the budget.
#[derive(Debug, Default)]
struct Held {
    waiting: u32,
    since: Option<Instant>,
    total: Duration,
}

impl Held {
    fn now_total(&self, now: Instant) -> Duration {
        match self.since {
            Some(since) if self.waiting > 0 => self.total + now.saturating_duration_since(since),
            _ => self.total,
        }
    }
}

/// A request held back by the budget, from creation until dropped (see
/// [`HttpStats::held_back`]).
#[derive(Debug)]
pub(crate) struct HeldBack<'s>(&'s HttpStats);

impl Drop for HeldBack<'_> {
    fn drop(&mut self) {
        let mut held = self
            .0
            .held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        held.waiting = held.waiting.saturating_sub(1);
        if held.waiting == 0
            && let Some(since) = held.since.take()
        {
            held.total += since.elapsed();
        }
    }
}

/// A copy of the counters at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    pub requests: u64,
    /// Requests Okta answered, whatever the status.
    pub responses: u64,
    /// Requests Okta answered with a 2xx status.
    pub successes: u64,
    pub rate_429: u64,
    pub concurrency_429: u64,
    pub server_errors: u64,
    pub transport_errors: u64,
    pub retries: u64,
    /// Milliseconds spent waiting before retries.
    pub wait_ms: u64,
    /// Requests held back by the rate-limit budget.
    pub budget_waits: u64,
    /// Milliseconds spent waiting on the rate-limit budget, summed over requests (eight
    /// requests held back together for one second count eight seconds).
    pub budget_wait_ms: u64,
    /// Wall-clock milliseconds during which at least one request was held back by the
    /// rate-limit budget: how much the budget slowed the work down.
    pub budget_wall_ms: u64,
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
        self.responses.fetch_add(1, Ordering::Relaxed);
        if (200..300).contains(&status) {
            self.successes.fetch_add(1, Ordering::Relaxed);
        }
        if status == 429 {
            let kind = if concurrency { "concurrency" } else { "rate" };
            metrics::counter!(RATE_LIMITED_METRIC, "kind" => kind).increment(1);
        }
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

    /// Marks a request as held back by the budget until the returned guard is dropped.
    pub(crate) fn held_back(&self) -> HeldBack<'_> {
        let mut held = self
            .held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if held.waiting == 0 {
            held.since = Some(Instant::now());
        }
        held.waiting += 1;
        HeldBack(self)
    }

    pub(crate) fn budget_waited(&self, wait: Duration) {
        self.budget_waits.fetch_add(1, Ordering::Relaxed);
        let ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
        metrics::counter!(BUDGET_WAIT_METRIC).increment(ms);
        self.budget_wait_ms.fetch_add(ms, Ordering::Relaxed);
    }

    /// Whether Okta has answered any request counted here.
    pub fn answered(&self) -> bool {
        self.responses.load(Ordering::Relaxed) > 0
    }

    /// Whether Okta has answered any request counted here with a 2xx status.
    pub fn succeeded(&self) -> bool {
        self.successes.load(Ordering::Relaxed) > 0
    }

    /// The counters now.
    pub fn snapshot(&self) -> StatsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StatsSnapshot {
            requests: get(&self.requests),
            responses: get(&self.responses),
            successes: get(&self.successes),
            rate_429: get(&self.rate_429),
            concurrency_429: get(&self.concurrency_429),
            server_errors: get(&self.server_errors),
            transport_errors: get(&self.transport_errors),
            retries: get(&self.retries),
            wait_ms: get(&self.wait_ms),
            budget_waits: get(&self.budget_waits),
            budget_wait_ms: get(&self.budget_wait_ms),
            budget_wall_ms: {
                let held = self
                    .held
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                u64::try_from(held.now_total(Instant::now()).as_millis()).unwrap_or(u64::MAX)
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_held_back_together_count_their_wall_time_once() {
        let stats = HttpStats::default();
        // `outer` bounds the held-back wall time from above, `started` from below: the
        // guards start between the two.
        let outer = Instant::now();
        let held: Vec<_> = (0..8).map(|_| stats.held_back()).collect();
        let started = Instant::now();
        let mut spin = 0_u64;
        while started.elapsed() < Duration::from_millis(20) {
            spin = spin.wrapping_add(1);
        }
        for _ in &held {
            stats.budget_waited(started.elapsed());
        }
        drop(held);
        let elapsed = u64::try_from(outer.elapsed().as_millis()).unwrap();
        let s = stats.snapshot();
        assert!(
            s.budget_wall_ms >= 20 && s.budget_wall_ms <= elapsed,
            "{s:?} {spin}"
        );
        assert!(
            s.budget_wait_ms >= 8 * 20,
            "the sum counts each request: {s:?}"
        );
    }
}
