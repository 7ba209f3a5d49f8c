//! What the simulated org keeps of the traffic it receives: counters by route and status, and
//! the request log. Every request is logged when it arrives, before any throttle or fault can
//! turn it away, and its status is filled in once the org has decided it, so tests count what
//! the client sent, not what the org let through.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::REQUEST_LOG_CAPACITY;
use super::limits::RateHeaders;
use super::types::{RequestRecord, RouteKind, SimStats};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Counters and the request log.
#[derive(Debug)]
pub(crate) struct Recorder {
    /// Keep the log (`SimConfig::record_requests`); counters are always kept.
    keep_log: bool,
    /// Counters behind [`SimStats`], minus the live concurrency figures.
    counters: Mutex<SimStats>,
    log: Mutex<VecDeque<RequestRecord>>,
}

impl Recorder {
    pub(crate) fn new(keep_log: bool) -> Recorder {
        Recorder {
            keep_log,
            counters: Mutex::new(SimStats::default()),
            log: Mutex::new(VecDeque::new()),
        }
    }

    /// The counters so far (concurrency figures are the caller's to fill in).
    pub(crate) fn counters(&self) -> SimStats {
        lock(&self.counters).clone()
    }

    /// The log, in order of arrival.
    pub(crate) fn requests(&self) -> Vec<RequestRecord> {
        lock(&self.log).iter().cloned().collect()
    }

    /// Counts one answered request.
    pub(crate) fn count(&self, route: RouteKind, status: u16, rate: RateHeaders) {
        let mut c = lock(&self.counters);
        c.requests += 1;
        *c.by_route.entry(route).or_insert(0) += 1;
        match status {
            429 if rate.limit == 0 => c.concurrency_limited += 1,
            429 => c.rate_limited += 1,
            500..=599 => c.server_errors += 1,
            _ => {}
        }
    }

    /// Logs a request as it arrives.
    pub(crate) fn arrived(&self, record: RequestRecord) {
        if !self.keep_log {
            return;
        }
        let mut log = lock(&self.log);
        if log.len() >= REQUEST_LOG_CAPACITY {
            log.pop_front();
        }
        log.push_back(record);
    }

    /// Fills in the status of a logged request (searched from the newest end: it is recent).
    pub(crate) fn decided(&self, request_id: &str, status: u16, answered: bool) {
        if !self.keep_log {
            return;
        }
        let mut log = lock(&self.log);
        if let Some(r) = log.iter_mut().rev().find(|r| r.request_id == request_id) {
            r.status = status;
            r.answered = answered;
        }
    }
}
