//! Proactive pacing: revokd's share of each Okta rate-limit bucket. Every response's
//! `X-Rate-Limit-Limit/-Remaining/-Reset` (with `Date`) updates the state of its bucket (method
//! plus path template, the way Okta matches buckets). Once `Remaining` falls to the part of the
//! limit reserved for the org's other integrations (`1 − okta.rate_limit.max_share`), requests
//! to that bucket wait for its reset instead of spending the rest. An optional fixed
//! `requests_per_minute` spaces all requests evenly on top of that.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use reqwest::Method;
use tokio::time::Instant;

use super::retry::RateLimitHeaders;

/// Pacing settings, from `[okta.rate_limit]`.
#[derive(Debug, Clone, Copy)]
pub struct BudgetSettings {
    /// Largest fraction of a bucket revokd may use, in (0, 1].
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

/// Shared pacing state of one client and its clones.
#[derive(Debug)]
pub struct Budget {
    settings: BudgetSettings,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Buckets closed until an instant.
    closed_until: HashMap<String, Instant>,
    /// The next free slot under `requests_per_minute`.
    next_slot: Option<Instant>,
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

impl Budget {
    /// A budget with the given settings.
    pub fn new(settings: BudgetSettings) -> Self {
        Budget {
            settings,
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How long a request to `bucket` must wait before it may be sent, claiming its
    /// `requests_per_minute` slot. Zero when it may go now.
    pub fn reserve(&self, bucket: &str) -> Duration {
        let now = Instant::now();
        let mut state = self.lock();
        let mut at = state
            .closed_until
            .get(bucket)
            .copied()
            .filter(|t| *t > now)
            .unwrap_or(now);
        if let Some(rpm) = self.settings.requests_per_minute.filter(|r| *r > 0) {
            let spacing = Duration::from_secs(60) / rpm;
            let slot = state.next_slot.filter(|s| *s > at).unwrap_or(at);
            state.next_slot = Some(slot + spacing);
            at = slot;
        }
        at.saturating_duration_since(now)
    }

    /// Learns from a response to `bucket`. Returns true when the bucket was closed until its
    /// reset because revokd's share is spent.
    pub fn observe(&self, bucket: &str, rl: &RateLimitHeaders, status: u16) -> bool {
        if rl.is_concurrency_signal() {
            return false;
        }
        let (Some(limit), Some(remaining)) = (rl.limit, rl.remaining) else {
            return false;
        };
        let reserve = (limit as f64 * (1.0 - self.settings.max_share)).floor() as u64;
        if remaining > reserve && status != 429 {
            return false;
        }
        let Some(wait) = rl.until_reset(SystemTime::now()) else {
            return false;
        };
        // Reset is second-granular: the window may end up to a second after it says.
        let wait = (wait + Duration::from_millis(250)).min(self.settings.max_wait);
        let until = Instant::now() + wait;
        let mut state = self.lock();
        let entry = state.closed_until.entry(bucket.to_owned()).or_insert(until);
        if *entry < until {
            *entry = until;
        }
        true
    }
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

    #[tokio::test(start_paused = true)]
    async fn a_bucket_closes_when_remaining_reaches_the_others_reserve() {
        let budget = Budget::new(BudgetSettings::default());
        let b = "GET /x";
        assert!(!budget.observe(b, &headers(100, 51, 30), 200));
        assert_eq!(budget.reserve(b), Duration::ZERO);
        assert!(budget.observe(b, &headers(100, 50, 30), 200));
        let wait = budget.reserve(b);
        assert!(
            wait >= Duration::from_secs(29) && wait <= Duration::from_secs(31),
            "{wait:?}"
        );
        assert_eq!(budget.reserve("GET /other"), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn concurrency_signals_and_headerless_responses_do_not_close_buckets() {
        let budget = Budget::new(BudgetSettings::default());
        let conc = RateLimitHeaders {
            limit: Some(0),
            remaining: Some(0),
            ..headers(0, 0, 5)
        };
        assert!(!budget.observe("b", &conc, 429));
        assert!(!budget.observe("b", &RateLimitHeaders::default(), 200));
        assert_eq!(budget.reserve("b"), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn requests_per_minute_spaces_requests_evenly() {
        let budget = Budget::new(BudgetSettings {
            requests_per_minute: Some(120),
            ..BudgetSettings::default()
        });
        let waits: Vec<_> = (0..3).map(|_| budget.reserve("b")).collect();
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
