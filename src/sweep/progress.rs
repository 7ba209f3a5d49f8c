//! Live progress of a sweep, for a person watching a terminal: pairs done of total, tokens
//! seen, revocations done, 429s and time held back by the rate budget. The sweep only bumps
//! counters; rendering (and deciding whether there is a terminal at all) is the CLI's job.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::okta::stats::HttpStats;

/// Counters a running sweep updates.
#[derive(Debug, Default)]
pub struct Progress {
    targets_total: AtomicU64,
    targets_done: AtomicU64,
    tokens_seen: AtomicU64,
    revocations_done: AtomicU64,
    http: Mutex<Option<Arc<HttpStats>>>,
}

/// The counters at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProgressSnapshot {
    pub targets_total: u64,
    pub targets_done: u64,
    pub tokens_seen: u64,
    pub revocations_done: u64,
    pub http_429: u64,
    /// Waits on the rate-limit budget, summed over requests.
    pub budget_wait_ms: u64,
    /// Wall time during which at least one request was held back by the budget.
    pub budget_wall_ms: u64,
}

impl Progress {
    pub(crate) fn start(&self, targets: usize, http: Option<Arc<HttpStats>>) {
        self.targets_total.store(targets as u64, Ordering::Relaxed);
        self.targets_done.store(0, Ordering::Relaxed);
        self.tokens_seen.store(0, Ordering::Relaxed);
        self.revocations_done.store(0, Ordering::Relaxed);
        *self
            .http
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = http;
    }

    pub(crate) fn target_done(&self, tokens: u64) {
        self.targets_done.fetch_add(1, Ordering::Relaxed);
        self.tokens_seen.fetch_add(tokens, Ordering::Relaxed);
    }

    pub(super) fn revoked(&self) {
        self.revocations_done.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn revoked_many(&self, n: u64) {
        self.revocations_done.fetch_add(n, Ordering::Relaxed);
    }

    /// The counters now.
    pub fn snapshot(&self) -> ProgressSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let http = self
            .http
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
            .map(|h| h.snapshot())
            .unwrap_or_default();
        ProgressSnapshot {
            targets_total: get(&self.targets_total),
            targets_done: get(&self.targets_done),
            tokens_seen: get(&self.tokens_seen),
            revocations_done: get(&self.revocations_done),
            http_429: http.http_429(),
            budget_wait_ms: http.budget_wait_ms,
            budget_wall_ms: http.budget_wall_ms,
        }
    }
}

impl ProgressSnapshot {
    /// One line for a terminal, e.g.
    /// `[########............] pairs 96/240 · tokens 1034 · revoked 12 · 429s 0 · held back 3.1 s`
    /// (wall time held back by the rate budget so far).
    pub fn render(&self) -> String {
        const WIDTH: u64 = 20;
        let filled = (self.targets_done * WIDTH)
            .checked_div(self.targets_total)
            .unwrap_or(0)
            .min(WIDTH);
        let bar: String = (0..WIDTH)
            .map(|i| if i < filled { '#' } else { '.' })
            .collect();
        format!(
            "[{bar}] pairs {}/{} · tokens {} · revoked {} · 429s {} · held back {:.1} s",
            self.targets_done,
            self.targets_total,
            self.tokens_seen,
            self.revocations_done,
            self.http_429,
            self.budget_wall_ms as f64 / 1000.0
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_shows_the_share_of_pairs_done_and_the_counters() {
        let s = ProgressSnapshot {
            targets_total: 240,
            targets_done: 120,
            tokens_seen: 1034,
            revocations_done: 12,
            http_429: 2,
            budget_wait_ms: 24_800,
            budget_wall_ms: 3100,
        };
        assert_eq!(
            s.render(),
            "[##########..........] pairs 120/240 · tokens 1034 · revoked 12 · 429s 2 · held back 3.1 s"
        );
        assert!(
            ProgressSnapshot::default()
                .render()
                .starts_with("[....................] pairs 0/0")
        );
    }
}
