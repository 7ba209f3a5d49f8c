//! The retries this process is sending now: each retried intent from just before its
//! attempt's `pending` row to its outcome. Holds of the enforcer lease are shared within a
//! process, so a sweep's reconciliation can run beside the offboarding worker's retries (whose
//! job may have ended); it leaves these alone, as it leaves a live run's new intents.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

/// The set of intents in flight; clones share it.
#[derive(Debug, Clone, Default)]
pub struct InFlight(Arc<Mutex<HashSet<i64>>>);

/// An intent being sent: in flight until dropped.
#[derive(Debug)]
pub struct Sending {
    set: InFlight,
    intent: i64,
}

impl InFlight {
    /// Marks `intent` in flight until the returned guard is dropped.
    pub fn start(&self, intent: i64) -> Sending {
        self.lock().insert(intent);
        Sending {
            set: self.clone(),
            intent,
        }
    }

    /// Whether this process is sending an attempt of `intent` now.
    pub fn contains(&self, intent: i64) -> bool {
        self.lock().contains(&intent)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<i64>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Sending {
    fn drop(&mut self) {
        self.set.lock().remove(&self.intent);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_intent_is_in_flight_while_its_guard_lives_for_every_clone() {
        let set = InFlight::default();
        let seen_by = set.clone();
        let sending = set.start(7);
        assert!(seen_by.contains(7) && !seen_by.contains(8));
        drop(sending);
        assert!(!seen_by.contains(7));
    }
}
