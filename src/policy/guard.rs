//! The blast-radius guard: a sweep whose plan is too large revokes nothing.

use std::fmt;

use crate::config::SafetyConfig;

/// Why the guard refused a sweep's plan; names the limit, the numbers and the config key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardTrip {
    /// Human text, e.g. `planned 600 revocations, above safety.max_revocations_per_sweep = 500`.
    pub reason: String,
}

impl fmt::Display for GuardTrip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "safety guard tripped: {}", self.reason)
    }
}

impl std::error::Error for GuardTrip {}

/// Checks a sweep's plan against `[safety]`.
///
/// Trips when `planned > safety.max_revocations_per_sweep`, or when `active_seen > 0` and
/// `planned / active_seen > safety.max_revocation_fraction` (equal to either limit passes).
/// The count limit is checked first.
pub fn check_guard(planned: u64, active_seen: u64, safety: &SafetyConfig) -> Result<(), GuardTrip> {
    let max = safety.max_revocations_per_sweep;
    if planned > max {
        return Err(GuardTrip {
            reason: format!(
                "planned {planned} revocations, above safety.max_revocations_per_sweep = {max}"
            ),
        });
    }
    if active_seen > 0 {
        #[allow(clippy::cast_precision_loss)] // counts far below 2^52
        let fraction = planned as f64 / active_seen as f64;
        let limit = safety.max_revocation_fraction;
        if fraction > limit {
            return Err(GuardTrip {
                reason: format!(
                    "planned {planned} revocations of {active_seen} active tokens seen \
                     ({:.1}%), above safety.max_revocation_fraction = {limit}",
                    fraction * 100.0
                ),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard_trips_just_above_each_limit_and_names_the_key() {
        let safety = SafetyConfig {
            max_revocations_per_sweep: 10,
            max_revocation_fraction: 0.5,
            ..SafetyConfig::default()
        };
        let ok = [(10, 20), (0, 0), (5, 10), (1, 2), (0, 100)];
        for (planned, active) in ok {
            assert_eq!(
                check_guard(planned, active, &safety),
                Ok(()),
                "{planned}/{active}"
            );
        }
        let err = check_guard(11, 1000, &safety).unwrap_err();
        assert!(
            err.reason.contains("11") && err.reason.contains("safety.max_revocations_per_sweep")
        );
        let err = check_guard(6, 11, &safety).unwrap_err();
        assert!(err.reason.contains("6 revocations of 11"), "{err}");
        assert!(
            err.to_string()
                .contains("safety.max_revocation_fraction = 0.5")
        );
        assert!(
            check_guard(3, 0, &safety).is_ok(),
            "no active tokens seen: only the count applies"
        );
    }
}
