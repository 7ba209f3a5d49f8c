//! Okta's two throttles as the sim enforces them (FACTS.md §1): a per-bucket request budget
//! per window, keyed by method + path template ([`RouteKind`]), with windows that start at the
//! whole second of a bucket's first request (for whole-second windows) rather than on the wall
//! clock's minute (so
//! `X-Rate-Limit-Reset`, in whole seconds, is exact for whole-second windows, as the windows in
//! Okta's docs are, e.g. 12:00:20–12:01:19); and an org-wide limit on requests in
//! flight. A request refused with 429 is counted against its bucket, as Okta counts it; this
//! only matters for the headers, since the bucket is already empty then.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;

use super::types::RouteKind;

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
    reset_epoch: i64,
    used: u32,
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
    window: Duration,
    concurrency_limit: usize,
    buckets: Mutex<HashMap<RouteKind, Bucket>>,
    /// `f64` bits of the background-load fraction.
    background: AtomicU64,
    in_flight: AtomicUsize,
    peak: AtomicUsize,
}

/// Marks a request as in flight until dropped (so cancelled requests are released too).
pub(crate) struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Limits {
    pub(crate) fn new(per_window: u32, window: Duration, concurrency_limit: usize) -> Limits {
        Limits {
            limit: if per_window == 0 {
                u32::MAX
            } else {
                per_window
            },
            window,
            concurrency_limit,
            buckets: Mutex::new(HashMap::new()),
            background: AtomicU64::new(0f64.to_bits()),
            in_flight: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
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

    /// Admit a request, or `None` if that would exceed the concurrency limit.
    pub(crate) fn admit(&self) -> Option<InFlight<'_>> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        let guard = InFlight(&self.in_flight);
        if now > self.concurrency_limit {
            return None;
        }
        self.peak.fetch_max(now, Ordering::SeqCst);
        Some(guard)
    }

    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    pub(crate) fn peak(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }

    /// Charge one request to `kind`'s bucket, opening a new window if the last one ended.
    pub(crate) fn charge(&self, kind: RouteKind) -> Charge {
        let now = Instant::now();
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let bucket = buckets.entry(kind).or_insert(Bucket {
            window_end: now,
            reset_epoch: 0,
            used: 0,
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
            bucket.reset_epoch = end_ms.div_euclid(1000) + i64::from(end_ms.rem_euclid(1000) > 0);
            // Truncation is intended: other integrations use whole requests.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let pre = (background * f64::from(self.limit)) as u32;
            bucket.used = pre;
        }
        if bucket.used >= self.limit {
            return Charge::Exhausted(RateHeaders {
                limit: self.limit,
                remaining: 0,
                reset: bucket.reset_epoch,
            });
        }
        bucket.used += 1;
        Charge::Allowed(RateHeaders {
            limit: self.limit,
            remaining: self.limit - bucket.used,
            reset: bucket.reset_epoch,
        })
    }
}
