//! Whether the audit hash chain verifies, as `/metrics` reports it. Walking the whole chain
//! at every scrape would grow with the trail (~0.85 s of CPU for 85k records), so the last
//! answer is kept. The chain is walked again at once when its head has moved; when the
//! database's `data_version` moved but the head did not (an edit in the middle of the chain
//! leaves the head alone), once the last walk is [`RECHECK`] old; and when nothing was
//! committed at all, once it is [`MAX_WALK_AGE`] old, for an edit made to the file behind
//! SQLite's back, which `data_version` cannot see. Reads only.

use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::store::{Error, Store, Version};

/// How old a walk may be before a commit that left the head alone makes it walk again.
pub const RECHECK: Duration = Duration::from_secs(60);

/// How old a walk may be while nothing at all was committed.
pub const MAX_WALK_AGE: Duration = Duration::from_secs(3600);

/// The last walk: the head and `data_version` it saw, when, and its verdict (`Ok(records)` or
/// broken).
#[derive(Debug)]
struct Walk {
    head: Option<(i64, String)>,
    version: Version,
    at: Instant,
    verdict: Result<u64, ()>,
}

impl Walk {
    /// Whether this walk still answers for a database at `head` and `version` at `now`.
    fn stands(&self, head: &Option<(i64, String)>, version: Version, now: Instant) -> bool {
        let age = now.saturating_duration_since(self.at);
        self.head == *head && age < MAX_WALK_AGE && (self.version == version || age < RECHECK)
    }
}

/// The cached verdict; one walk at a time.
#[derive(Debug, Default)]
pub struct AuditCheck {
    last: Mutex<Option<Walk>>,
}

impl AuditCheck {
    /// `Ok(records)` when the chain verifies, `Err(())` when it is broken, given the database's
    /// `data_version` read just now.
    pub async fn verdict(&self, store: &Store, version: Version) -> Result<Result<u64, ()>, Error> {
        self.verdict_at(store, version, Instant::now()).await
    }

    async fn verdict_at(
        &self,
        store: &Store,
        version: Version,
        now: Instant,
    ) -> Result<Result<u64, ()>, Error> {
        let mut last = self.last.lock().await;
        let head = store.audit_head().await?;
        if let Some(walk) = last.as_ref()
            && walk.stands(&head, version, now)
        {
            return Ok(walk.verdict);
        }
        let verdict = store.verify_audit().await?.map_err(|_| ());
        *last = Some(Walk {
            head,
            version,
            at: now,
            verdict,
        });
        Ok(verdict)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{DataVersion, NewRevocation, RevocationState};

    fn row(token: &str) -> NewRevocation {
        NewRevocation::new(
            Some(token.into()),
            "00u1",
            "0oa1",
            crate::store::RevocationTrigger::Policy,
            crate::config::Mode::DryRun,
            RevocationState::Planned,
            "2026-11-30T00:00:00.000Z",
        )
    }

    /// Edits record 1 in place, behind the append-only triggers.
    async fn edit_the_first_record(store: &Store) {
        for sql in [
            "DROP TRIGGER revocations_are_append_only_update",
            "UPDATE revocations SET reason = 'edited' WHERE id = 1",
        ] {
            sqlx::query(sql).execute(store.pool()).await.unwrap();
        }
    }

    #[sqlx::test(migrations = "./migrations")]
    async fn a_moved_head_is_walked_at_once_and_a_whole_chain_counts_its_records(
        pool: sqlx::SqlitePool,
    ) {
        let store = Store::from_pool(pool).await.unwrap();
        let version = DataVersion::default();
        let check = AuditCheck::default();
        let v = version.current(&store).await.unwrap();
        assert_eq!(check.verdict(&store, v).await.unwrap(), Ok(0));
        store.append_revocation(&row("oar1")).await.unwrap();
        store.append_revocation(&row("oar2")).await.unwrap();
        let v = version.current(&store).await.unwrap();
        assert_eq!(check.verdict(&store, v).await.unwrap(), Ok(2));
        edit_the_first_record(&store).await;
        store.append_revocation(&row("oar3")).await.unwrap();
        let v = version.current(&store).await.unwrap();
        assert_eq!(check.verdict(&store, v).await.unwrap(), Err(()));
    }

    #[sqlx::test(migrations = "./migrations")]
    async fn an_edit_behind_the_head_is_seen_a_minute_after_the_last_walk_and_an_idle_chain_hourly(
        pool: sqlx::SqlitePool,
    ) {
        let store = Store::from_pool(pool).await.unwrap();
        store.append_revocation(&row("oar1")).await.unwrap();
        let original: Option<String> =
            sqlx::query_scalar("SELECT reason FROM revocations WHERE id = 1")
                .fetch_one(store.pool())
                .await
                .unwrap();
        let version = DataVersion::default();
        let check = AuditCheck::default();
        let t0 = Instant::now();
        let v0 = version.current(&store).await.unwrap();
        assert_eq!(check.verdict_at(&store, v0, t0).await.unwrap(), Ok(1));

        // Nothing committed: the walk stands until it is an hour old, then the chain is walked
        // again (seen here by an edit the version is told nothing of).
        let before = MAX_WALK_AGE - Duration::from_secs(1);
        assert_eq!(
            check.verdict_at(&store, v0, t0 + before).await.unwrap(),
            Ok(1)
        );
        edit_the_first_record(&store).await;
        assert_eq!(
            check.verdict_at(&store, v0, t0 + before).await.unwrap(),
            Ok(1)
        );
        assert_eq!(
            check
                .verdict_at(&store, v0, t0 + MAX_WALK_AGE)
                .await
                .unwrap(),
            Err(())
        );

        // A commit behind the head (the record mended): the walk stands for a minute, then
        // the chain is walked again.
        let check = AuditCheck::default();
        let v1 = version.current(&store).await.unwrap();
        assert_eq!(check.verdict_at(&store, v1, t0).await.unwrap(), Err(()));
        sqlx::query("UPDATE revocations SET reason = ? WHERE id = 1")
            .bind(&original)
            .execute(store.pool())
            .await
            .unwrap();
        let v2 = version.current(&store).await.unwrap();
        assert_ne!(v2, v1);
        let soon = RECHECK - Duration::from_secs(1);
        assert_eq!(
            check.verdict_at(&store, v2, t0 + soon).await.unwrap(),
            Err(())
        );
        assert_eq!(
            check.verdict_at(&store, v2, t0 + RECHECK).await.unwrap(),
            Ok(1)
        );
    }
}
