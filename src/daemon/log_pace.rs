//! Warnings anyone can cause, paced: a request to `/hooks/okta` without the secret is refused
//! with a warning, and a flood of them would otherwise be a flood of log lines (journald
//! rate-limits a unit by dropping its lines, the useful ones with the rest). One warning per
//! [`Pace`] interval is written, saying how many were left unwritten since the last; the
//! metrics count every one.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// At most one warning per `every`.
#[derive(Debug)]
pub struct Pace {
    every: Duration,
    /// When the last warning was written, and how many were left unwritten since.
    state: Mutex<Option<(Instant, u64)>>,
}

impl Pace {
    pub const fn new(every: Duration) -> Pace {
        Pace {
            every,
            state: Mutex::new(None),
        }
    }

    /// Whether a warning may be written at `now`: `Some(n)` with the `n` left unwritten
    /// since the last one written, or `None` (this one is counted as unwritten).
    pub fn admit(&self, now: Instant) -> Option<u64> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        match *state {
            Some((last, ref mut unwritten)) if now.saturating_duration_since(last) < self.every => {
                *unwritten += 1;
                None
            }
            Some((_, unwritten)) => {
                *state = Some((now, 0));
                Some(unwritten)
            }
            None => {
                *state = Some((now, 0));
                Some(0)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_warning_per_interval_says_how_many_were_left_unwritten() {
        let pace = Pace::new(Duration::from_secs(60));
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        assert_eq!(pace.admit(at(0)), Some(0), "the first is written");
        for s in 1..=30 {
            assert_eq!(pace.admit(at(s)), None, "within the minute");
        }
        assert_eq!(pace.admit(at(59)), None);
        assert_eq!(
            pace.admit(at(60)),
            Some(31),
            "a minute on: with the 31 unwritten"
        );
        assert_eq!(pace.admit(at(61)), None);
        assert_eq!(pace.admit(at(500)), Some(1), "the count starts again");
        assert_eq!(pace.admit(at(1000)), Some(0));
    }
}
