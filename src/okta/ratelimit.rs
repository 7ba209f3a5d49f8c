//! Proactive pacing: revokd's share of each Okta rate-limit bucket.
//!
//! revokd keys its state by method plus path template (the way Okta names buckets), but Okta
//! matches buckets by longest prefix and does not publish whether the GETs and DELETEs under
//! `/api/v1/users/{id}/clients` share one; so the pacing must hold whichever way Okta counts.
//! Two rules do that, both read from every response's `X-Rate-Limit-Limit/-Remaining/-Reset`:
//!
//! - **The floor.** `X-Rate-Limit-Remaining` is what the whole org has left. revokd never takes a
//!   bucket below `Limit − floor(Limit × okta.rate_limit.max_share)`: the lowest `Remaining` seen
//!   in the window, less every request revokd sent that Okta may not have counted in it (any
//!   sent after the request that reported it, or in flight when it was sent — to any bucket,
//!   since Okta does not say which of them share one), must stay at or above that line.
//! - **The share.** revokd also sends at most `floor(Limit × max_share)` requests to one of its
//!   buckets per window.
//!
//! Within those bounds requests are spread evenly over what is left of the window instead of
//! bursting at its start. When a window ends, one probe request learns the next window's limit
//! and reset before the rest follow; a bucket revokd has never used probes only while every
//! bucket it knows has room, since it may be one of them. Windows are Okta's: a window ends
//! `Reset − Date` after the response that opened it, on Okta's clock (the response's `Date`),
//! the one clock rule the retry loop's 429 waits use too ([`RateLimitHeaders::until_reset`]).
//! An optional `requests_per_minute` spaces all requests on top.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use reqwest::Method;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::retry::RateLimitHeaders;
use bucket::{Bucket, Mark, Traffic, learn, share_of};

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

/// revokd's key for a request's bucket: the method and the path with ids replaced,
/// e.g. `DELETE /api/v1/users/{id}/clients/{id}/tokens/{id}`. Okta's real bucket may be wider.
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
            after_collection =
                matches!(segment, "users" | "clients" | "tokens" | "grants" | "apps");
        }
    }
    key
}

#[derive(Debug, Default)]
struct State {
    buckets: HashMap<String, Bucket>,
    traffic: Traffic,
}

impl State {
    /// Counts a request to `key` about to go out, and returns where traffic stood before it.
    fn claim(&mut self, key: &str) -> Mark {
        let bucket = self
            .buckets
            .get_mut(key)
            .expect("a claimed bucket is known");
        bucket.used += 1;
        let mark = Mark {
            sent_before: self.traffic.sent,
            in_flight: self.traffic.in_flight,
            bucket_before: bucket.sent,
        };
        bucket.sent += 1;
        self.traffic.sent += 1;
        self.traffic.in_flight += 1;
        mark
    }

    /// The earliest end of a known open window that has no room left, if any.
    fn some_bucket_full(&self, now: Instant, max_share: f64) -> Option<Instant> {
        self.buckets
            .values()
            .filter_map(|b| b.window_end.filter(|end| *end > now).map(|end| (b, end)))
            .filter(|(b, _)| b.headroom(&self.traffic, max_share) == 0)
            .map(|(_, end)| end)
            .min()
    }
}

enum Step {
    /// Send after this long.
    Go(Duration, Mark),
    /// Wait until this instant (or a response changes things), then decide again.
    Retry(Instant),
}

/// Shared pacing state of one client and its clones.
#[derive(Debug)]
pub struct Budget {
    settings: std::sync::RwLock<BudgetSettings>,
    state: Mutex<State>,
    next_rpm_slot: Mutex<Option<Instant>>,
    changed: Notify,
}

/// A claimed send. Complete it with the response's headers; dropping it unanswered (an error
/// or a cancelled request) releases the claim.
pub struct Ticket<'a> {
    budget: &'a Budget,
    bucket: String,
    mark: Mark,
    /// How long the request was held back.
    pub waited: Duration,
    done: bool,
}

impl Ticket<'_> {
    /// Feeds the response's rate-limit headers back into the bucket.
    pub fn complete(mut self, rl: &RateLimitHeaders, status: u16) {
        self.done = true;
        self.budget
            .observe(&self.bucket, self.mark, Some(rl), status);
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.budget.observe(&self.bucket, self.mark, None, 0);
        }
    }
}

impl Budget {
    /// A budget with the given settings.
    pub fn new(settings: BudgetSettings) -> Self {
        Budget {
            settings: std::sync::RwLock::new(settings),
            state: Mutex::new(State::default()),
            next_rpm_slot: Mutex::new(None),
            changed: Notify::new(),
        }
    }

    /// The settings in force.
    fn settings(&self) -> BudgetSettings {
        *self
            .settings
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Puts new settings in force (a reload); what is known of each bucket is kept.
    pub fn put_in_force(&self, settings: BudgetSettings) {
        *self
            .settings
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = settings;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits until a request to `bucket` may be sent within revokd's share, and claims it.
    pub async fn acquire(&self, bucket: &str) -> Ticket<'_> {
        let started = Instant::now();
        loop {
            let notified = self.changed.notified();
            match self.step(bucket, Instant::now()) {
                Step::Go(wait, mark) => {
                    let wait = wait.max(self.rpm_wait());
                    // Claimed already: if this future is dropped while it waits, the
                    // ticket's drop releases the claim.
                    let mut ticket = Ticket {
                        budget: self,
                        bucket: bucket.to_owned(),
                        mark,
                        waited: Duration::ZERO,
                        done: false,
                    };
                    tokio::time::sleep(wait).await;
                    ticket.waited = started.elapsed();
                    return ticket;
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
        let Some(rpm) = self.settings().requests_per_minute.filter(|r| *r > 0) else {
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
        let max_share = self.settings().max_share;
        let mut state = self.lock();
        let never_used = !state.buckets.contains_key(key);
        if never_used && let Some(until) = state.some_bucket_full(now, max_share) {
            return Step::Retry(until);
        }
        let state = &mut *state;
        let b = state
            .buckets
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
            return Step::Go(Duration::ZERO, state.claim(key));
        };
        let by_share = share_of(b.limit, max_share).saturating_sub(b.used);
        let allowance = by_share.min(b.headroom(&state.traffic, max_share));
        if allowance == 0 {
            return Step::Retry(end);
        }
        let slot = b.next_slot.max(now);
        if slot >= end {
            return Step::Retry(end);
        }
        // Spread what is left of the allowance evenly over what is left of the window.
        let interval = (end - slot) / u32::try_from(allowance).unwrap_or(u32::MAX);
        b.next_slot = slot + interval;
        Step::Go(slot - now, state.claim(key))
    }

    /// Learns from the response to a request sent under a ticket (or from its absence).
    fn observe(&self, key: &str, mark: Mark, rl: Option<&RateLimitHeaders>, status: u16) {
        {
            let mut state = self.lock();
            state.traffic.in_flight = state.traffic.in_flight.saturating_sub(1);
            let Some(b) = state.buckets.get_mut(key) else {
                return;
            };
            if b.window_end.is_none() {
                b.probe_out = false;
            }
            if let Some(rl) = rl.filter(|rl| !rl.is_concurrency_signal()) {
                learn(b, rl, mark, status, self.settings().max_wait);
                metrics::gauge!(super::stats::RATE_LIMIT_REMAINING_METRIC, "bucket" => key.to_owned())
                    .set(b.remaining as f64);
                metrics::gauge!(super::stats::RATE_LIMIT_LIMIT_METRIC, "bucket" => key.to_owned())
                    .set(b.limit as f64);
            }
        }
        self.changed.notify_waiters();
    }
}

mod bucket;

#[cfg(test)]
mod tests;
