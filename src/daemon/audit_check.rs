//! Whether the audit hash chain verifies, as `/metrics` reports it. Walking the whole chain
//! at every scrape would grow with the trail, so the last answer is kept and the chain walked
//! again only when its head has moved or the last walk is older than [`RECHECK`] (an edit in
//! the middle of the chain leaves the head alone, so time alone must also trigger a walk).
//! Reads only.

use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::store::{Error, Store};

/// The longest a verdict is reused while the head stays put.
pub const RECHECK: Duration = Duration::from_secs(60);

/// The last walk: the head it saw, when, and its verdict (`Ok(records)` or broken).
type Verdict = (Option<(i64, String)>, Instant, Result<u64, ()>);

/// The cached verdict; one walk at a time.
#[derive(Debug, Default)]
pub struct AuditCheck {
    last: Mutex<Option<Verdict>>,
}

impl AuditCheck {
    /// `Ok(records)` when the chain verifies, `Err(())` when it is broken.
    pub async fn verdict(&self, store: &Store) -> Result<Result<u64, ()>, Error> {
        let mut last = self.last.lock().await;
        let head = store.audit_head().await?;
        if let Some((seen, at, verdict)) = last.as_ref()
            && *seen == head
            && at.elapsed() < RECHECK
        {
            return Ok(*verdict);
        }
        let verdict = store.verify_audit().await?.map_err(|_| ());
        *last = Some((head, Instant::now(), verdict));
        Ok(verdict)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{NewRevocation, RevocationState};

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

    #[sqlx::test(migrations = "./migrations")]
    async fn an_edit_is_seen_once_the_head_moves_and_a_whole_chain_counts_its_records(
        pool: sqlx::SqlitePool,
    ) {
        let store = Store::from_pool(pool).await.unwrap();
        let check = AuditCheck::default();
        assert_eq!(check.verdict(&store).await.unwrap(), Ok(0));
        store.append_revocation(&row("oar1")).await.unwrap();
        store.append_revocation(&row("oar2")).await.unwrap();
        assert_eq!(check.verdict(&store).await.unwrap(), Ok(2));
        for sql in [
            "DROP TRIGGER revocations_are_append_only_update",
            "UPDATE revocations SET reason = 'edited' WHERE id = 1",
        ] {
            sqlx::query(sql).execute(store.pool()).await.unwrap();
        }
        // Same head, fresh verdict: reused (the walk is at most RECHECK old).
        assert_eq!(check.verdict(&store).await.unwrap(), Ok(2));
        store.append_revocation(&row("oar3")).await.unwrap();
        assert_eq!(check.verdict(&store).await.unwrap(), Err(()));
        // A new checker (as after RECHECK) walks at once.
        assert_eq!(
            AuditCheck::default().verdict(&store).await.unwrap(),
            Err(())
        );
    }
}
