//! Proactive pacing: revokd's share of each Okta rate-limit bucket.
//!
//! Every response's `X-Rate-Limit-Limit/-Remaining/-Reset` (with `Date`) updates the state of
//! its bucket: the method plus the path template, the way Okta matches buckets. Within one
//! window revokd sends at most `floor(limit × okta.rate_limit.max_share)` requests to a bucket,
//! never more than `Remaining` allows, and spreads them evenly over what is left of the window
//! instead of bursting at its start. When a window ends, one probe request learns the next
//! window's limit and reset before the rest follow. Windows are Okta's: their end comes from
//! `X-Rate-Limit-Reset`, measured on Okta's clock when ours is off by more than `Date`'s
//! one-second precision. An optional `requests_per_minute` spaces all requests on top.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use reqwest::Method;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::retry::RateLimitHeaders;

/// Pacing settings, from `[okta.rate_limit]`.
#[derive(Debug, Clone, Copy)]
pub struct BudgetSettings {
    /// Largest fraction of a bucket revokd may use per window, in (0, 1].
    pub max_share: f64,
    /// Optional cap on requests per minute across all buckets.
    pub requests_per_minute: Option<u32>,
    /// The longest a bucket is ever held closed on the strength of one response.
    pub max_wait: Duration,
}

impl Default for BudgetSettings {
    fn default() -> Self {
        BudgetSettings {
            max_share: 0.5,
            requests_per_minute: None,
            max_wait: Duration::from_secs(90),
        }
    }
}

/// Okta's bucket key for a request: the method and the path with ids replaced,
/// e.g. `DELETE /api/v1/users/{id}/clients/{id}/tokens/{id}`.
pub fn bucket_of(method: &Method, path: &str) -> String {
    let mut key = format!("{method} ");
    let mut after_collection = false;
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        key.push('/');
        if after_collection {
            key.push_str("{id}");
            after_collection = false;
        } else {
            key.push_str(segment);
            after_collection = matches!(segment, "users" | "clients" | "tokens" | "grants");
        }
    }
    key
}

/// What revokd knows of one bucket.
#[derive(Debug)]
struct Bucket {
    limit: u64,
    /// The lowest `Remaining` seen in the current window.
    remaining: u64,
    /// `X-Rate-Limit-Reset` of the current window; identifies it.
    reset_epoch: u64,
    /// When the current window ends; `None` until a response says (first use, or after a
    /// window ended), during which one probe request at a time goes out.
    window_end: Option<Instant>,
    /// Requests revokd sent (or is about to send) in the current window.
    used: u64,
    /// Requests sent whose response has not been seen.
    outstanding: u64,
    next_slot: Instant,
    probe_out: bool,
}

impl Bucket {
    fn new(now: Instant) -> Self {
        Bucket {
            limit: 0,
            remaining: 0,
            reset_epoch: 0,
            window_end: None,
            used: 0,
            outstanding: 0,
            next_slot: now,
            probe_out: false,
        }
    }
}

enum Step {
    /// Send after this long.
    Go(Duration),
    /// Wait until this instant (or a response changes things), then decide again.
    Retry(Instant),
}

/// Shared pacing state of one client and its clones.
#[derive(Debug)]
pub struct Budget {
    settings: BudgetSettings,
    buckets: Mutex<HashMap<String, Bucket>>,
    next_rpm_slot: Mutex<Option<Instant>>,
    changed: Notify,
}

/// A claimed send. Complete it with the response's headers; dropping it unanswered (an error
/// or a cancelled request) releases the claim.
pub struct Ticket<'a> {
    budget: &'a Budget,
    bucket: String,
    /// How long the request was held back.
    pub waited: Duration,
    done: bool,
}

impl Ticket<'_> {
    /// Feeds the response's rate-limit headers back into the bucket.
    pub fn complete(mut self, rl: &RateLimitHeaders, status: u16) {
        self.done = true;
        self.budget.observe(&self.bucket, Some(rl), status);
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.budget.observe(&self.bucket, None, 0);
        }
    }
}

impl Budget {
    /// A budget with the given settings.
    pub fn new(settings: BudgetSettings) -> Self {
        Budget {
            settings,
            buckets: Mutex::new(HashMap::new()),
            next_rpm_slot: Mutex::new(None),
            changed: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Bucket>> {
        self.buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits until a request to `bucket` may be sent within revokd's share, and claims it.
    pub async fn acquire(&self, bucket: &str) -> Ticket<'_> {
        let started = Instant::now();
        loop {
            let notified = self.changed.notified();
            match self.step(bucket, Instant::now()) {
                Step::Go(wait) => {
                    let wait = wait.max(self.rpm_wait());
                    tokio::time::sleep(wait).await;
                    return Ticket {
                        budget: self,
                        bucket: bucket.to_owned(),
                        waited: started.elapsed(),
                        done: false,
                    };
                }
                Step::Retry(until) => {
                    tokio::select! {
                        () = notified => {}
                        () = tokio::time::sleep_until(until) => {}
                    }
                }
            }
        }
    }

    fn rpm_wait(&self) -> Duration {
        let Some(rpm) = self.settings.requests_per_minute.filter(|r| *r > 0) else {
            return Duration::ZERO;
        };
        let now = Instant::now();
        let mut next = self
            .next_rpm_slot
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let slot = next.filter(|s| *s > now).unwrap_or(now);
        *next = Some(slot + Duration::from_secs(60) / rpm);
        slot - now
    }

    fn step(&self, key: &str, now: Instant) -> Step {
        let mut buckets = self.lock();
        let b = buckets
            .entry(key.to_owned())
            .or_insert_with(|| Bucket::new(now));
        if b.window_end.is_some_and(|end| now >= end) {
            b.window_end = None;
            b.used = 0;
        }
        let Some(end) = b.window_end else {
            if b.probe_out {
                // A probe is learning the window; others wait for its answer (or a second).
                return Step::Retry(now + Duration::from_secs(1));
            }
            b.probe_out = true;
            b.used += 1;
            b.outstanding += 1;
            return Step::Go(Duration::ZERO);
        };
        let share = ((b.limit as f64 * self.settings.max_share).floor() as u64).max(1);
        let by_share = share.saturating_sub(b.used);
        let by_remaining = b.remaining.saturating_sub(b.outstanding);
        let allowance = by_share.min(by_remaining);
        if allowance == 0 {
            return Step::Retry(end);
        }
        let slot = b.next_slot.max(now);
        if slot >= end {
            return Step::Retry(end);
        }
        // Spread what is left of the share evenly over what is left of the window.
        let interval = (end - slot) / u32::try_from(allowance).unwrap_or(u32::MAX);
        b.next_slot = slot + interval;
        b.used += 1;
        b.outstanding += 1;
        Step::Go(slot - now)
    }

    /// Learns from the response to a request sent under a ticket (or from its absence).
    fn observe(&self, key: &str, rl: Option<&RateLimitHeaders>, status: u16) {
        {
            let mut buckets = self.lock();
            let Some(b) = buckets.get_mut(key) else {
                return;
            };
            b.outstanding = b.outstanding.saturating_sub(1);
            if b.window_end.is_none() {
                b.probe_out = false;
            }
            if let Some(rl) = rl.filter(|rl| !rl.is_concurrency_signal()) {
                learn(b, rl, status, self.settings.max_wait);
                metrics::gauge!(super::stats::RATE_LIMIT_REMAINING_METRIC, "bucket" => key.to_owned())
                    .set(b.remaining as f64);
                metrics::gauge!(super::stats::RATE_LIMIT_LIMIT_METRIC, "bucket" => key.to_owned())
                    .set(b.limit as f64);
            }
        }
        self.changed.notify_waiters();
    }
}

fn learn(b: &mut Bucket, rl: &RateLimitHeaders, status: u16, max_wait: Duration) {
    let (Some(limit), Some(remaining), Some(reset)) = (rl.limit, rl.remaining, rl.reset) else {
        return;
    };
    if reset < b.reset_epoch {
        return; // a late answer from an earlier window
    }
    let remaining = if status == 429 { 0 } else { remaining };
    if reset > b.reset_epoch || b.window_end.is_none() {
        let until = until_reset(reset, rl.date).min(max_wait);
        let now = Instant::now();
        b.reset_epoch = reset;
        b.window_end = Some(now + until);
        b.remaining = remaining;
        b.next_slot = b.next_slot.max(now);
    } else {
        b.remaining = b.remaining.min(remaining);
    }
    b.limit = limit;
}

/// Time until `reset` (epoch seconds) on Okta's clock: the local clock unless it disagrees
/// with the response's `Date` by more than `Date`'s one-second precision can explain.
fn until_reset(reset: u64, date: Option<SystemTime>) -> Duration {
    let local = SystemTime::now();
    let okta_now = match date {
        Some(d)
            if d.duration_since(local)
                .or_else(|_| local.duration_since(d))
                .unwrap_or_default()
                > Duration::from_secs(2) =>
        {
            d
        }
        _ => local,
    };
    (SystemTime::UNIX_EPOCH + Duration::from_secs(reset))
        .duration_since(okta_now)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(limit: u64, remaining: u64, reset_in: u64) -> RateLimitHeaders {
        let now = SystemTime::now();
        let reset = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + reset_in;
        RateLimitHeaders {
            limit: Some(limit),
            remaining: Some(remaining),
            reset: Some(reset),
            date: Some(now),
        }
    }

    #[test]
    fn buckets_are_keyed_by_method_and_path_template() {
        assert_eq!(
            bucket_of(&Method::GET, "/api/v1/users/00u1/clients/0oa2/tokens"),
            "GET /api/v1/users/{id}/clients/{id}/tokens"
        );
        assert_eq!(
            bucket_of(
                &Method::DELETE,
                "/api/v1/users/00u1/clients/0oa2/tokens/oar3"
            ),
            "DELETE /api/v1/users/{id}/clients/{id}/tokens/{id}"
        );
        assert_eq!(
            bucket_of(&Method::GET, "/api/v1/users/00u1/clients"),
            "GET /api/v1/users/{id}/clients"
        );
    }

    #[test]
    fn okta_clock_is_used_only_when_the_local_clock_is_clearly_off() {
        let now = SystemTime::now();
        let reset = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 10;
        let near = until_reset(reset, Some(now - Duration::from_millis(900)));
        assert!(
            near <= Duration::from_secs(10) && near > Duration::from_secs(8),
            "{near:?}"
        );
        let skewed = until_reset(reset, Some(now - Duration::from_secs(3600)));
        assert!(skewed > Duration::from_secs(3600), "{skewed:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn the_first_request_probes_and_the_rest_wait_for_its_answer() {
        let budget = Budget::new(BudgetSettings::default());
        let probe = budget.acquire("b").await;
        assert!(matches!(budget.step("b", Instant::now()), Step::Retry(_)));
        probe.complete(&headers(100, 99, 60), 200);
        assert!(matches!(budget.step("b", Instant::now()), Step::Go(_)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_window_allows_the_share_spread_evenly_and_no_more() {
        let budget = Budget::new(BudgetSettings::default());
        budget
            .acquire("b")
            .await
            .complete(&headers(100, 99, 10), 200);
        // Share is 50 of 100; the probe used one, 49 remain for about 10 s: ~200 ms apart.
        let mut waits = Vec::new();
        for _ in 0..49 {
            match budget.step("b", Instant::now()) {
                Step::Go(w) => waits.push(w),
                Step::Retry(_) => panic!("refused within the share"),
            }
        }
        assert!(
            waits[1] > Duration::from_millis(150) && waits[1] < Duration::from_millis(250),
            "{:?}",
            waits[1]
        );
        assert!(waits[48] < Duration::from_secs(10));
        assert!(
            matches!(budget.step("b", Instant::now()), Step::Retry(_)),
            "the 51st must wait for the next window"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn others_using_the_bucket_shrink_revokds_allowance() {
        let budget = Budget::new(BudgetSettings::default());
        budget
            .acquire("b")
            .await
            .complete(&headers(100, 2, 10), 200);
        assert!(matches!(budget.step("b", Instant::now()), Step::Go(_)));
        assert!(matches!(budget.step("b", Instant::now()), Step::Go(_)));
        assert!(matches!(budget.step("b", Instant::now()), Step::Retry(_)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_closes_the_bucket_until_its_reset() {
        let budget = Budget::new(BudgetSettings::default());
        budget.acquire("b").await.complete(&headers(100, 0, 5), 429);
        assert!(matches!(budget.step("b", Instant::now()), Step::Retry(_)));
        tokio::time::advance(Duration::from_secs(6)).await;
        assert!(
            matches!(budget.step("b", Instant::now()), Step::Go(Duration::ZERO)),
            "a new window starts with a probe"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_unanswered_probe_releases_its_claim() {
        let budget = Budget::new(BudgetSettings::default());
        drop(budget.acquire("b").await);
        assert!(matches!(budget.step("b", Instant::now()), Step::Go(_)));
    }

    #[tokio::test(start_paused = true)]
    async fn requests_per_minute_spaces_requests_evenly() {
        let budget = Budget::new(BudgetSettings {
            requests_per_minute: Some(120),
            ..BudgetSettings::default()
        });
        let waits: Vec<_> = (0..3).map(|_| budget.rpm_wait()).collect();
        assert_eq!(
            waits,
            vec![
                Duration::ZERO,
                Duration::from_millis(500),
                Duration::from_secs(1)
            ]
        );
    }
}
