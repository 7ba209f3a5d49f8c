//! Where a token's history answers exactly: from the end of the first sweep that listed every
//! configured target (before it, revokd had not looked at all of them; a pass over pairs named
//! for it alone does not count), and, once the prune job may have
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
    /// Sweeps have run, but none has yet listed every target.
    NotYet,
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
    /// sweep that listed every configured target ended (`ok`, or `partial` for what it did
    /// with them: a guard that tripped, a revocation that failed), or before the latest cutoff
    /// of a prune; any instant while sweeps have run but none listed every target. A database
    /// no sweep wrote (offboarding alone) has no first bound.
    pub async fn history_bound(&self, at: DateTime<Utc>) -> Result<Option<HistoryBound>, Error> {
        let (begins, swept, pruned): (Option<String>, bool, Option<String>) = sqlx::query_as(
            "SELECT (SELECT min(finished_at) FROM sweeps
                     WHERE status IN (?, ?) AND targets_failed = 0 AND named_targets = 0),
                    EXISTS (SELECT 1 FROM sweeps),
                    (SELECT max(cutoff) FROM history_pruned)",
        )
        .bind(SweepStatus::Ok)
        .bind(SweepStatus::Partial)
        .fetch_one(&self.pool)
        .await?;
        let at = ts(at);
        Ok(match (begins, pruned) {
            (_, Some(cutoff)) if at < cutoff => Some(HistoryBound::Pruned(cutoff)),
            (Some(first), _) if at < first => Some(HistoryBound::Begins(first)),
            (None, _) if swept => Some(HistoryBound::NotYet),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Mode;
    use crate::store::Trigger;

    async fn swept(store: &Store, at: &str, status: SweepStatus, failed: i64, named: bool) {
        sqlx::query(
            "INSERT INTO sweeps (started_at, finished_at, trigger, mode, status, runner,
                                 targets_total, targets_failed, named_targets)
             VALUES (?1, ?1, ?2, ?3, ?4, 'test', 3, ?5, ?6)",
        )
        .bind(at)
        .bind(Trigger::Cli)
        .bind(Mode::DryRun)
        .bind(status)
        .bind(failed)
        .bind(named)
        .execute(store.pool())
        .await
        .unwrap();
    }

    async fn bound(store: &Store, at: &str) -> Option<HistoryBound> {
        store.history_bound(at.parse().unwrap()).await.unwrap()
    }

    /// History begins with the first sweep that listed every configured target, whatever it
    /// then did with them (a tripped guard ends it `partial`); a trial over named pairs, or a
    /// sweep a target failed in, does not begin it, and until one does no instant is answered.
    #[sqlx::test(migrations = "./migrations")]
    async fn history_begins_with_the_first_sweep_that_listed_every_target(pool: sqlx::SqlitePool) {
        let store = Store::from_pool(pool).await.unwrap();
        assert_eq!(
            bound(&store, "2020-01-01T00:00:00Z").await,
            None,
            "no sweep yet"
        );
        swept(&store, "2027-01-01T00:00:00.000Z", SweepStatus::Ok, 0, true).await;
        swept(
            &store,
            "2027-01-02T00:00:00.000Z",
            SweepStatus::Partial,
            1,
            false,
        )
        .await;
        swept(
            &store,
            "2027-01-03T00:00:00.000Z",
            SweepStatus::Failed,
            0,
            false,
        )
        .await;
        for at in [
            "2026-12-31T00:00:00Z",
            "2027-01-01T12:00:00Z",
            "2027-01-04T00:00:00Z",
        ] {
            assert_eq!(bound(&store, at).await, Some(HistoryBound::NotYet), "{at}");
        }
        // The guard tripped: every target was listed, the plan held back.
        swept(
            &store,
            "2027-01-05T00:00:00.000Z",
            SweepStatus::Partial,
            0,
            false,
        )
        .await;
        swept(
            &store,
            "2027-01-06T00:00:00.000Z",
            SweepStatus::Ok,
            0,
            false,
        )
        .await;
        let first = HistoryBound::Begins("2027-01-05T00:00:00.000Z".into());
        assert_eq!(
            bound(&store, "2027-01-01T12:00:00Z").await,
            Some(first.clone())
        );
        assert_eq!(bound(&store, "2027-01-04T23:59:59Z").await, Some(first));
        assert_eq!(bound(&store, "2027-01-05T00:00:01Z").await, None);
    }
}
