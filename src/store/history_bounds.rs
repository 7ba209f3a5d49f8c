//! Where a token's history answers exactly: from the end of the first sweep that listed every
//! target (before it, revokd had not looked at all of them), and, once the prune job may have
//! removed records superseded before a cutoff (`history_pruned`, recorded before it deletes
//! anything, so a prune cut short leaves its bound), from the latest such cutoff on.
//! `revokd report … --at` refuses an instant before it.

use chrono::{DateTime, Utc};

use super::{Error, Store, SweepStatus, ts};

/// Why history cannot answer for an instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistoryBound {
    /// Before the first sweep that listed every target ended (`sweeps.finished_at`).
    Begins(String),
    /// Before the cutoff of a prune that removed history.
    Pruned(String),
}

impl Store {
    /// Records that a prune, at `now`, may remove history before `cutoff`.
    pub(super) async fn record_pruned(
        &self,
        cutoff: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        sqlx::query("INSERT INTO history_pruned (pruned_at, cutoff) VALUES (?, ?)")
            .bind(ts(now))
            .bind(ts(cutoff))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Why history cannot answer exactly for `at`, if it cannot: an instant before the first
    /// sweep that listed every target ended, or before the latest cutoff of a prune. A database
    /// no such sweep wrote (offboarding alone) has no first bound.
    pub async fn history_bound(&self, at: DateTime<Utc>) -> Result<Option<HistoryBound>, Error> {
        let (begins, pruned): (Option<String>, Option<String>) = sqlx::query_as(
            "SELECT (SELECT min(finished_at) FROM sweeps WHERE status = ?),
                    (SELECT max(cutoff) FROM history_pruned)",
        )
        .bind(SweepStatus::Ok)
        .fetch_one(&self.pool)
        .await?;
        let at = ts(at);
        Ok(match (begins, pruned) {
            (_, Some(cutoff)) if at < cutoff => Some(HistoryBound::Pruned(cutoff)),
            (Some(first), _) if at < first => Some(HistoryBound::Begins(first)),
            _ => None,
        })
    }
}
