//! Housekeeping of the history: pruning snapshots (`token_history`, read through the
//! `token_snapshots` view; a change history) older than
//! `database.snapshot_retention` without ever dropping a token's latest state, pruning closed
//! absences, giving free pages back to the file system (incremental auto-vacuum), truncating
//! the WAL, and the database's size. Never touches `revocations` (append-only; its triggers
//! refuse deletes anyway) or `token_state`. The `tokens` view reads each token's newest record,
//! which pruning never deletes, so no token's row changes.

use chrono::{DateTime, Utc};

use super::{Error, RevocationState, Store, ts};

/// Pages given back per `PRAGMA incremental_vacuum` step, so one pass never holds the write
/// lock for long.
const VACUUM_STEP: u32 = 2_048;

/// What a prune did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Snapshots deleted.
    pub snapshots: u64,
    /// Closed absences deleted.
    pub absences: u64,
    /// Pages given back to the file system.
    pub pages_freed: u64,
}

impl Store {
    /// Deletes the snapshots that stopped being a token's state before `older_than` (a newer
    /// snapshot of the token was taken at or before it), so every token keeps its newest
    /// snapshot and — with `keep_for_audit_window` — the snapshot in force at `older_than`,
    /// which answers `report inventory --at T` for any `T` in the retention window. Without
    /// it, only each token's newest snapshot is kept. Returns how many rows were deleted.
    pub async fn prune_snapshots(
        &self,
        older_than: DateTime<Utc>,
        keep_for_audit_window: bool,
    ) -> Result<u64, Error> {
        let superseded = if keep_for_audit_window {
            "n.observed_at <= ?1"
        } else {
            "1"
        };
        let done = sqlx::query(&format!(
            "DELETE FROM token_history AS s
             WHERE s.observed_at < ?1
               AND EXISTS (SELECT 1 FROM token_history n
                           WHERE n.token_id = s.token_id AND n.id > s.id AND {superseded})"
        ))
        .bind(ts(older_than))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// The prune job: snapshots (see [`Store::prune_snapshots`], keeping the audit window),
    /// absences that ended before `older_than` (but those of tokens revoked), then free pages
    /// given back. Before anything is deleted, `older_than` is recorded as where `--at` stops
    /// being exact (see [`Store::history_bound`]).
    pub async fn prune(&self, older_than: DateTime<Utc>) -> Result<Pruned, Error> {
        // First: a prune cut short after deleting still leaves its bound.
        self.record_pruned(older_than, Utc::now()).await?;
        let snapshots = self.prune_snapshots(older_than, true).await?;
        // An absence a revocation opened is kept: `--at` reads each revocation of a token
        // revoked, back and revoked again from its own absence.
        let absences = sqlx::query(
            "DELETE FROM token_absences AS a WHERE back_at < ?
               AND NOT EXISTS (SELECT 1 FROM token_state s
                               WHERE s.token_id = a.token_id AND s.revoked_at IS NOT NULL)
               AND NOT EXISTS (SELECT 1 FROM revocations r
                               WHERE r.token_id = a.token_id AND r.state IN (?, ?))",
        )
        .bind(ts(older_than))
        .bind(RevocationState::Done)
        .bind(RevocationState::AlreadyGone)
        .execute(&self.pool)
        .await?
        .rows_affected();
        let pages_freed = self.vacuum().await?;
        Ok(Pruned {
            snapshots,
            absences,
            pages_freed,
        })
    }

    /// Gives free pages back to the file system. A database created before revokd turned on
    /// incremental auto-vacuum is switched over once (a full `VACUUM`); afterwards each call
    /// releases the free list in small steps. Returns how many pages were released.
    pub async fn vacuum(&self) -> Result<u64, Error> {
        let mut conn = self.pool.acquire().await?;
        let mode: i64 = sqlx::query_scalar("PRAGMA auto_vacuum")
            .fetch_one(&mut *conn)
            .await?;
        let before: i64 = sqlx::query_scalar("PRAGMA freelist_count")
            .fetch_one(&mut *conn)
            .await?;
        if mode != 2 {
            sqlx::query("PRAGMA auto_vacuum = INCREMENTAL")
                .execute(&mut *conn)
                .await?;
            sqlx::query("VACUUM").execute(&mut *conn).await?;
        } else {
            loop {
                let left: i64 = sqlx::query_scalar("PRAGMA freelist_count")
                    .fetch_one(&mut *conn)
                    .await?;
                if left == 0 {
                    break;
                }
                sqlx::query(&format!("PRAGMA incremental_vacuum({VACUUM_STEP})"))
                    .execute(&mut *conn)
                    .await?;
            }
        }
        self.truncate_wal().await?;
        Ok(u64::try_from(before).unwrap_or(0))
    }

    /// Copies the WAL into the database and truncates it to nothing, so the WAL does not stay
    /// at the high-water mark of the last sweep. Waits (within the busy timeout) for readers.
    pub async fn truncate_wal(&self) -> Result<(), Error> {
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The database's size in bytes: its pages (free pages included) plus its WAL file.
    pub async fn size_bytes(&self) -> Result<u64, Error> {
        let pages: i64 = sqlx::query_scalar(
            "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
        )
        .fetch_one(&self.pool)
        .await?;
        let file: Option<String> =
            sqlx::query_scalar("SELECT file FROM pragma_database_list WHERE name = 'main'")
                .fetch_optional(&self.pool)
                .await?;
        let wal = file
            .filter(|f| !f.is_empty())
            .and_then(|f| std::fs::metadata(format!("{f}-wal")).ok())
            .map_or(0, |m| m.len());
        Ok(u64::try_from(pages).unwrap_or(0) + wal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Mode;
    use crate::store::{
        NewRevocation, ObservedRecord, RevocationState, RevocationTrigger, TokenObservation,
    };
    use chrono::Duration;

    fn obs(id: &str, version: i64) -> TokenObservation {
        crate::store::tokens::observation("00u1", id, &format!(r#"{{"v":{version}}}"#))
    }

    async fn snapshot_times(store: &Store, token: &str) -> Vec<String> {
        sqlx::query_scalar("SELECT observed_at FROM token_snapshots WHERE token_id = ? ORDER BY id")
            .bind(token)
            .fetch_all(store.pool())
            .await
            .unwrap()
    }

    #[sqlx::test(migrations = "./migrations")]
    async fn pruning_keeps_each_tokens_state_at_the_cutoff_and_newest_and_never_touches_revocations(
        pool: sqlx::SqlitePool,
    ) {
        let store = Store::from_pool(pool).await.unwrap();
        let t0 = "2026-01-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap();
        // oar1 changes on days 0, 10, 20, 30 (and is seen unchanged on day 25); oar2 changes
        // on days 0 and 5 only.
        for (day, version) in [(0, 0), (10, 1), (20, 2), (25, 2), (30, 3)] {
            let mut page = vec![obs("oar1", version)];
            if day == 0 {
                page.push(obs("oar2", 0));
            }
            store
                .record_page(None, &page, t0 + Duration::days(day))
                .await
                .unwrap();
        }
        store
            .record_page(None, &[obs("oar2", 1)], t0 + Duration::days(5))
            .await
            .unwrap();
        let day = |d| ts(t0 + Duration::days(d));
        assert_eq!(
            snapshot_times(&store, "oar1").await,
            vec![day(0), day(10), day(20), day(30)],
            "an unchanged observation writes no snapshot"
        );
        store
            .append_revocation(&NewRevocation::new(
                Some("oar2".into()),
                "00u1",
                "0oa1",
                RevocationTrigger::Manual,
                Mode::Enforce,
                RevocationState::Planned,
                ts(t0),
            ))
            .await
            .unwrap();

        let cutoff = t0 + Duration::days(25);
        // Keeping the audit window: oar1 keeps day 20 (its state from day 25 to 30) and 30.
        assert_eq!(store.prune_snapshots(cutoff, true).await.unwrap(), 3);
        assert_eq!(snapshot_times(&store, "oar1").await, vec![day(20), day(30)]);
        assert_eq!(snapshot_times(&store, "oar2").await, vec![day(5)]);
        // Without it, only each token's newest survives.
        assert_eq!(store.prune_snapshots(cutoff, false).await.unwrap(), 1);
        assert_eq!(snapshot_times(&store, "oar1").await, vec![day(30)]);
        assert_eq!(snapshot_times(&store, "oar2").await, vec![day(5)]);
        assert_eq!(store.revocations().await.unwrap().len(), 1);
        assert_eq!(store.verify_audit().await.unwrap(), Ok(1));
    }

    #[sqlx::test(migrations = "./migrations")]
    async fn the_prune_job_drops_old_absences_and_gives_free_pages_back(pool: sqlx::SqlitePool) {
        let store = Store::from_pool(pool).await.unwrap();
        let t0 = "2026-01-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap();
        let page: Vec<_> = (0..2_000)
            .map(|i| {
                let mut o = obs(&format!("oar{i:05}"), 0);
                o.record =
                    ObservedRecord::split_json(format!(r#"{{"v":0,"pad":"{}"}}"#, "x".repeat(400)));
                o
            })
            .collect();
        store.record_page(None, &page, t0).await.unwrap();
        // Everything changes on day 1, gone on day 2, back on day 3.
        let changed: Vec<_> = page
            .iter()
            .map(|o| TokenObservation {
                record: ObservedRecord::split_json(r#"{"v":1}"#),
                ..o.clone()
            })
            .collect();
        store
            .record_page(None, &changed, t0 + Duration::days(1))
            .await
            .unwrap();
        store
            .mark_gone(
                "00u1",
                "0oa1",
                t0 + Duration::days(2),
                t0 + Duration::days(2),
            )
            .await
            .unwrap();
        store
            .record_page(None, &changed, t0 + Duration::days(3))
            .await
            .unwrap();
        let pages = || async {
            let n: i64 = sqlx::query_scalar("PRAGMA page_count")
                .fetch_one(store.pool())
                .await
                .unwrap();
            n
        };
        let before = pages().await;
        let pruned = store.prune(t0 + Duration::days(10)).await.unwrap();
        assert_eq!((pruned.snapshots, pruned.absences), (2_000, 2_000));
        assert!(pruned.pages_freed > 100, "{pruned:?}");
        let free: i64 = sqlx::query_scalar("PRAGMA freelist_count")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(free, 0);
        assert!(pages().await < before - 100, "the file shrank");
    }
}
