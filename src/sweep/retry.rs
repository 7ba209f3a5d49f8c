//! Retrying a revocation: when (the backoff across sweeps, daily once irrevocable), and on
//! what: the open intent as the retry read it, appended to only while no other run has
//! appended to it since, so a retry never acts on an intent another run settled.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tracing::info;

use super::Deps;
use crate::store::{self, NewRevocation, ts};

/// An open intent as a retry read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenIntent {
    pub id: i64,
    /// Attempts made so far.
    pub attempts: i64,
    /// The id of its latest record when read: a retry records nothing once another run has
    /// recorded a row of the intent since (see [`Store::append_revocation_if_latest`]).
    ///
    /// [`Store::append_revocation_if_latest`]: crate::store::Store::append_revocation_if_latest
    pub latest: i64,
}

/// The wait before trying a failed revocation again: 5 minutes doubling per attempt, capped
/// at a day, jittered into [½, 1] of that so retries of a batch spread out. `jitter` ∈ [0, 1).
pub fn retry_after(attempt: i64, jitter: f64) -> Duration {
    let exp = u32::try_from(attempt.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
    let full = Duration::from_secs(300)
        .saturating_mul(2u32.saturating_pow(exp))
        .min(DAY);
    full.mul_f64(0.5 + jitter.clamp(0.0, 1.0) / 2.0)
}

/// Irrevocable revocations are tried again once a day.
pub const DAY: Duration = Duration::from_secs(86_400);

pub(super) fn after(now: DateTime<Utc>, wait: Duration) -> String {
    ts(now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX))
}

/// Appends `row` of the retried intent `open` while its latest record is the one read;
/// `None`, logged, when another run recorded a row of it since.
pub(super) async fn append_after(
    deps: &Deps,
    row: &NewRevocation,
    open: OpenIntent,
) -> Result<Option<i64>, store::Error> {
    let id = deps
        .store
        .append_revocation_if_latest(row, open.latest)
        .await?;
    if id.is_none() {
        info!(
            intent_id = open.id,
            "another run recorded this revocation since it was read; nothing sent or recorded"
        );
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially_with_jitter_up_to_a_day() {
        assert_eq!(retry_after(1, 1.0), Duration::from_secs(300));
        assert_eq!(retry_after(1, 0.0), Duration::from_secs(150));
        assert_eq!(retry_after(3, 1.0), Duration::from_secs(1200));
        assert_eq!(retry_after(30, 1.0), DAY);
        assert_eq!(retry_after(0, 1.0), Duration::from_secs(300));
    }
}
