//! One bucket as revokd knows it from Okta's answers: its window, the lowest `Remaining`
//! seen in it and where revokd's own traffic stood then, and what revokd sent to it. The
//! scheduling across buckets is the parent module's.

use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use super::RateLimitHeaders;

/// Where revokd's own traffic stood when a request was sent: the baseline for what a
/// `Remaining` reported in answer to it may not include.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Mark {
    /// Requests revokd had sent before this one.
    pub(super) sent_before: u64,
    /// Requests revokd had in flight as this one went out.
    pub(super) in_flight: u64,
    /// Requests revokd had sent to this one's bucket before it.
    pub(super) bucket_before: u64,
}

/// What revokd knows of one bucket. Invariants, kept under the state's lock:
/// - `window_end` is `None` until a response of the current window is seen; while it is, at
///   most one request (the probe, `probe_out`) is out, and nothing else is sent;
/// - `used ≤ sent`; `used` counts the requests of the current window only: it restarts at 0
///   when `window_end` passes, and at the requests sent from the reporting one on when a
///   response shows a window Okta opened earlier than revokd's estimate;
/// - `remaining` is the lowest `Remaining` of the window identified by `reset_epoch`, and
///   `remaining_mark` where revokd's traffic stood when the request reporting it went out;
/// - `window_end` only moves earlier within a window (each response bounds it from above).
#[derive(Debug)]
pub(super) struct Bucket {
    /// `X-Rate-Limit-Limit`; 0 until a response says.
    pub(super) limit: u64,
    /// The lowest `Remaining` seen in the current window.
    pub(super) remaining: u64,
    /// Where revokd's traffic stood when the request that reported `remaining` was sent.
    pub(super) remaining_mark: Mark,
    /// `X-Rate-Limit-Reset` of the current window; identifies it.
    pub(super) reset_epoch: u64,
    /// When the current window ends; `None` until a response says (first use, or after a
    /// window ended), during which one probe request at a time goes out.
    pub(super) window_end: Option<Instant>,
    /// Requests revokd sent (or is about to send) to this bucket in the current window.
    pub(super) used: u64,
    /// Requests revokd sent to this bucket ever; `used` never exceeds it.
    pub(super) sent: u64,
    pub(super) next_slot: Instant,
    pub(super) probe_out: bool,
}

impl Bucket {
    pub(super) fn new(now: Instant) -> Self {
        Bucket {
            limit: 0,
            remaining: 0,
            remaining_mark: Mark::default(),
            reset_epoch: 0,
            window_end: None,
            used: 0,
            sent: 0,
            next_slot: now,
            probe_out: false,
        }
    }

    /// Requests revokd may still send in this window without taking the bucket below its
    /// floor, given revokd's traffic now.
    pub(super) fn headroom(&self, traffic: &Traffic, max_share: f64) -> u64 {
        let share = share_of(self.limit, max_share);
        let floor = self.limit.saturating_sub(share);
        let uncounted = traffic
            .sent
            .saturating_sub(self.remaining_mark.sent_before + 1)
            + self.remaining_mark.in_flight;
        self.remaining
            .saturating_sub(floor)
            .saturating_sub(uncounted)
    }
}

/// revokd's share of a bucket of `limit`: `floor(limit × max_share)`, at least 1.
pub(super) fn share_of(limit: u64, max_share: f64) -> u64 {
    // Truncation is the rule: a share is whole requests, rounded down.
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let share = (limit as f64 * max_share).floor() as u64;
    share.clamp(1, limit.max(1))
}

/// revokd's own traffic, across every bucket.
#[derive(Debug, Default)]
pub(super) struct Traffic {
    pub(super) sent: u64,
    pub(super) in_flight: u64,
}

pub(super) fn learn(
    b: &mut Bucket,
    rl: &RateLimitHeaders,
    mark: Mark,
    status: u16,
    max_wait: Duration,
) {
    let (Some(limit), Some(remaining), Some(reset)) = (rl.limit, rl.remaining, rl.reset) else {
        return;
    };
    if reset < b.reset_epoch {
        return; // a late answer from an earlier window
    }
    let remaining = if status == 429 { 0 } else { remaining };
    let now = Instant::now();
    let end = now
        + rl.until_reset(SystemTime::now())
            .unwrap_or_default()
            .min(max_wait);
    if reset > b.reset_epoch || b.window_end.is_none() {
        b.reset_epoch = reset;
        b.window_end = Some(end);
        b.remaining = remaining;
        b.remaining_mark = mark;
        b.next_slot = b.next_slot.max(now);
        // Okta opened this window at or before this request's arrival: of revokd's
        // requests, this one and those sent after it may be in it.
        b.used = b.sent.saturating_sub(mark.bucket_before);
    } else {
        // `Date` has whole seconds, so each answer's end is late by up to a second; the
        // earliest of them is the closest.
        b.window_end = b.window_end.map(|e| e.min(end));
        if remaining <= b.remaining {
            b.remaining = remaining;
            b.remaining_mark = mark;
        }
    }
    b.limit = limit;
}
