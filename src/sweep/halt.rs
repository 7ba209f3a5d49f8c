//! Failing fast. When Okta cannot be reached at all (DNS, connect, TLS) or refuses the
//! credentials (HTTP 401), and has not answered one request of the sweep with success, the
//! listings already under way end and the remaining targets are not listed: one cause, said
//! once, instead of the same failure for every target. A sweep in which Okta has answered
//! with success never halts (a fault then fails only its target). An offboarding reports the
//! same [`Halt`] when its first request failed so and Okta answered none of its requests with
//! success.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::okta::{self, stats::HttpStats};

/// Why a sweep stopped early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HaltKind {
    /// No connection could be made: DNS, connect or TLS failed.
    Unreachable,
    /// Okta refused the credentials.
    CredentialsRefused,
}

/// A run's early stop (a sweep's or an offboarding's), with the first error that caused it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Halt {
    pub kind: HaltKind,
    /// The error as recorded for its target.
    pub error: String,
    /// For an unreachable org, the transport's cause (`tcp connect error: …`); else the error.
    pub cause: String,
    /// Targets not listed because of the halt.
    pub targets_skipped: u64,
}

impl Halt {
    /// The halt `error` means while Okta has answered nothing with success: Okta unreachable
    /// or the credentials refused; `None` for any other error.
    pub fn of(error: &okta::Error) -> Option<Halt> {
        let kind = if error.is_unreachable() {
            HaltKind::Unreachable
        } else if error.is_credentials_refused() {
            HaltKind::CredentialsRefused
        } else {
            return None;
        };
        Some(Halt {
            kind,
            error: error.to_string(),
            cause: error.cause(),
            targets_skipped: 0,
        })
    }

    /// The `sweeps.error` text.
    pub fn message(&self) -> String {
        match self.kind {
            HaltKind::Unreachable => format!("stopped early: Okta is unreachable: {}", self.cause),
            HaltKind::CredentialsRefused => {
                format!(
                    "stopped early: Okta refused the credentials: {}",
                    self.error
                )
            }
        }
    }
}

/// Shared by the listings of one sweep.
#[derive(Debug)]
pub(super) struct Breaker {
    stats: Arc<HttpStats>,
    halt: Mutex<Option<Halt>>,
    skipped: AtomicU64,
}

impl Breaker {
    /// A closed breaker over the sweep's own request counters.
    pub fn new(stats: Arc<HttpStats>) -> Self {
        Breaker {
            stats,
            halt: Mutex::new(None),
            skipped: AtomicU64::new(0),
        }
    }

    /// Whether the sweep has halted: targets not yet listed are then not listed (and counted).
    pub fn skips(&self) -> bool {
        let open = self
            .halt
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some();
        if open {
            self.skipped.fetch_add(1, Ordering::Relaxed);
        }
        open
    }

    /// Notes a target's failure; returns whether it is (part of) a halt, and so is told once
    /// by whoever reads [`Breaker::take`] rather than per target.
    pub fn observe(&self, error: &okta::Error) -> bool {
        if self.stats.succeeded() {
            return false;
        }
        let Some(this) = Halt::of(error) else {
            return false;
        };
        let mut halt = self.halt.lock().unwrap_or_else(PoisonError::into_inner);
        halt.get_or_insert(this);
        true
    }

    /// The halt, if the sweep halted.
    pub fn take(&self) -> Option<Halt> {
        let mut halt = self
            .halt
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()?;
        halt.targets_skipped = self.skipped.load(Ordering::Relaxed);
        Some(halt)
    }
}
