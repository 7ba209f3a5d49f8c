//! Okta's two throttles as the sim enforces them (FACTS.md §1): a per-bucket request budget
//! per window, keyed by method + path template ([`RouteKind`]) or, in the
//! [`BucketModel::SharedUserClients`] model, one bucket for every GET and DELETE under
//! `/api/v1/users/{id}/clients` (or, in [`BucketModel::UsersByMethod`], one for its GETs and a
//! smaller one for its DELETEs), with windows that start at the
//! whole second of a bucket's first request (for whole-second windows) rather than on the wall
//! clock's minute (so
//! `X-Rate-Limit-Reset`, in whole seconds, is exact for whole-second windows, as the windows in
//! Okta's docs are, e.g. 12:00:20–12:01:19); and an org-wide limit on requests in
//! flight. It also keeps what each window saw ([`WindowStats`]) and the most requests in flight
//! at any arrival, refused ones included, so tests can count what the client sent rather than
//! what the throttles let through.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;

use super::buckets::{BucketModel, SimBucket, USER_WRITES_SHARE, WindowStats};
use super::types::RouteKind;

/// Most finished windows [`Limits::windows`] remembers; older ones are dropped first.
const WINDOW_HISTORY: usize = 10_000;

/// The `X-Rate-Limit-*` values for one response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RateHeaders {
    pub(crate) limit: u32,
    pub(crate) remaining: u32,
    /// UTC epoch seconds.
    pub(crate) reset: i64,
}

/// The outcome of charging one request to its bucket.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Charge {
    Allowed(RateHeaders),
    Exhausted(RateHeaders),
}

#[derive(Debug)]
struct Bucket {
    window_end: Instant,
    stats: WindowStats,
}

/// Epoch seconds of `now + d`, rounded up so a client waiting until then is never early.
pub(crate) fn epoch_after(d: Duration) -> i64 {
    let at = Utc::now() + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX);
    let secs = at.timestamp();
    if at.timestamp_subsec_nanos() > 0 {
        secs + 1
    } else {
        secs
    }
}

/// Rate-limit and concurrency state.
#[derive(Debug)]
pub(crate) struct Limits {
    limit: u32,
    /// Requests per window of the `/api/v1/apps*` bucket.
    apps_limit: u32,
    /// Requests per window of the System Log bucket.
    logs_limit: u32,
    window: Duration,
    concurrency_limit: usize,
    model: BucketModel,
    buckets: Mutex<HashMap<SimBucket, Bucket>>,
    /// Finished windows, oldest first.
    history: Mutex<Vec<WindowStats>>,
    /// `f64` bits of the background-load fraction.
    background: AtomicU64,
    in_flight: AtomicUsize,
    peak: AtomicUsize,
    peak_arrivals: AtomicUsize,
}

/// A request's arrival: its place in flight if admitted, and how many were in flight.
pub(crate) struct Arrival<'a> {
    pub(crate) admitted: Option<InFlight<'a>>,
    /// Requests in flight as it arrived, itself included.
    pub(crate) concurrency: usize,
}

/// Marks a request as in flight until dropped (so cancelled requests are released too).
pub(crate) struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Limits {
    pub(crate) fn new(
        per_window: u32,
        apps_per_window: Option<u32>,
        logs_per_window: Option<u32>,
        window: Duration,
        concurrency_limit: usize,
        model: BucketModel,
    ) -> Limits {
        let unlimited_if_zero = |n: u32| if n == 0 { u32::MAX } else { n };
        Limits {
            limit: unlimited_if_zero(per_window),
            apps_limit: unlimited_if_zero(apps_per_window.unwrap_or(per_window)),
            logs_limit: unlimited_if_zero(logs_per_window.unwrap_or(per_window)),
            window,
            concurrency_limit,
            model,
            buckets: Mutex::new(HashMap::new()),
            history: Mutex::new(Vec::new()),
            background: AtomicU64::new(0f64.to_bits()),
            in_flight: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            peak_arrivals: AtomicUsize::new(0),
        }
    }

    pub(crate) fn set_background_load(&self, fraction: f64) {
        let fraction = if fraction.is_finite() {
            fraction.clamp(0.0, 1.0)
        } else {
            0.0
        };
        self.background.store(fraction.to_bits(), Ordering::SeqCst);
    }

    /// Counts an arrival and admits it, unless that would exceed the concurrency limit.
    pub(crate) fn admit(&self) -> Arrival<'_> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        let guard = InFlight(&self.in_flight);
        self.peak_arrivals.fetch_max(now, Ordering::SeqCst);
        if now > self.concurrency_limit {
            return Arrival {
                admitted: None,
                concurrency: now,
            };
        }
        self.peak.fetch_max(now, Ordering::SeqCst);
        Arrival {
            admitted: Some(guard),
            concurrency: now,
        }
    }

    pub(crate) fn peak_arrivals(&self) -> usize {
        self.peak_arrivals.load(Ordering::SeqCst)
    }

    fn lock_buckets(&self) -> std::sync::MutexGuard<'_, HashMap<SimBucket, Bucket>> {
        self.buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Every window so far, finished ones first (oldest first), then the open ones by bucket.
    pub(crate) fn windows(&self) -> Vec<WindowStats> {
        let mut all = self
            .history
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let mut open: Vec<WindowStats> = self.lock_buckets().values().map(|b| b.stats).collect();
        open.sort_by_key(|w| (w.bucket, w.reset));
        all.extend(open);
        all
    }

    fn remember(&self, finished: WindowStats) {
        let mut history = self
            .history
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if history.len() >= WINDOW_HISTORY {
            history.remove(0);
        }
        history.push(finished);
    }

    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    pub(crate) fn peak(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }

    /// Charge one request to the bucket `kind` draws on, opening a new window if the last one
    /// ended.
    pub(crate) fn charge(&self, kind: RouteKind) -> Charge {
        let now = Instant::now();
        let key = self.model.bucket_of(kind);
        let limit = match key {
            SimBucket::Apps => self.apps_limit,
            SimBucket::Route(RouteKind::Logs) => self.logs_limit,
            SimBucket::UserWrites if self.limit != u32::MAX => {
                let (num, den) = USER_WRITES_SHARE;
                (self.limit / den * num + self.limit % den * num / den).max(1)
            }
            _ => self.limit,
        };
        let mut buckets = self.lock_buckets();
        let bucket = buckets.entry(key).or_insert(Bucket {
            window_end: now,
            stats: WindowStats {
                bucket: key,
                reset: 0,
                limit,
                background: 0,
                served: 0,
                refused: 0,
            },
        });
        if now >= bucket.window_end {
            let background = f64::from_bits(self.background.load(Ordering::SeqCst));
            let now_ms = Utc::now().timestamp_millis();
            let window_ms = i64::try_from(self.window.as_millis()).unwrap_or(i64::MAX);
            // Whole-second windows start on a whole second, so Reset is exact; shorter or
            // fractional windows (tests) start now.
            let start_ms = if window_ms % 1000 == 0 {
                now_ms - now_ms.rem_euclid(1000)
            } else {
                now_ms
            };
            let end_ms = start_ms.saturating_add(window_ms);
            let left = u64::try_from(end_ms - now_ms).unwrap_or(0);
            bucket.window_end = now + Duration::from_millis(left);
            // Truncation is intended: other integrations use whole requests.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let pre = (background * f64::from(limit)) as u32;
            let finished = std::mem::replace(
                &mut bucket.stats,
                WindowStats {
                    bucket: key,
                    reset: end_ms.div_euclid(1000) + i64::from(end_ms.rem_euclid(1000) > 0),
                    limit,
                    background: pre,
                    served: 0,
                    refused: 0,
                },
            );
            if finished.received() + finished.background > 0 {
                self.remember(finished);
            }
        }
        let w = &mut bucket.stats;
        let used = w.background.saturating_add(w.served);
        if used >= limit {
            w.refused += 1;
            return Charge::Exhausted(RateHeaders {
                limit,
                remaining: 0,
                reset: w.reset,
            });
        }
        w.served += 1;
        Charge::Allowed(RateHeaders {
            limit,
            remaining: limit - used - 1,
            reset: w.reset,
        })
    }
}
