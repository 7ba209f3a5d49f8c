//! Retention of `token_snapshots`: pruning observations older than
//! `database.snapshot_retention` while keeping what inventory-at-a-past-instant needs. Never
//! touches `revocations` (append-only; its triggers refuse deletes anyway) or `tokens`.

use chrono::{DateTime, Utc};

use super::{Error, Store, ts};

impl Store {
    /// Deletes snapshots observed before `older_than`, except, for every token, its newest
    /// snapshot overall (so a token still present keeps answering `--at`) and — with
    /// `keep_for_audit_window` — its newest snapshot before `older_than`, which is the answer
    /// to `report inventory --at T` for any `T` in the retention window until the token was
    /// observed again. Returns how many rows were deleted.
    pub async fn prune_snapshots(
        &self,
        older_than: DateTime<Utc>,
        keep_for_audit_window: bool,
    ) -> Result<u64, Error> {
        let cutoff = ts(older_than);
        let keep = if keep_for_audit_window {
            "SELECT MAX(id) FROM token_snapshots WHERE observed_at < ?1 GROUP BY token_id"
        } else {
            "SELECT MAX(id) FROM token_snapshots GROUP BY token_id"
        };
        let done = sqlx::query(&format!(
            "DELETE FROM token_snapshots
             WHERE observed_at < ?1
               AND id NOT IN (SELECT MAX(id) FROM token_snapshots GROUP BY token_id)
               AND id NOT IN ({keep})"
        ))
        .bind(cutoff)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{NewRevocation, RevocationState, TokenObservation};
    use chrono::Duration;

    fn obs(id: &str) -> TokenObservation {
        crate::store::tokens::observation("00u1", id, "{}")
    }

    async fn snapshot_times(store: &Store, token: &str) -> Vec<String> {
        sqlx::query_scalar("SELECT observed_at FROM token_snapshots WHERE token_id = ? ORDER BY id")
            .bind(token)
            .fetch_all(store.pool())
            .await
            .unwrap()
    }

    #[sqlx::test(migrations = "./migrations")]
    async fn pruning_keeps_each_tokens_newest_snapshots_and_never_touches_revocations(
        pool: sqlx::SqlitePool,
    ) {
        let store = Store::from_pool(pool).await.unwrap();
        let t0 = "2026-01-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap();
        // oar1 observed on days 0, 10, 20, 30; oar2 (then gone) on days 0 and 5 only.
        for day in [0, 10, 20, 30] {
            let mut page = vec![obs("oar1")];
            if day == 0 {
                page.push(obs("oar2"));
            }
            store
                .record_page(None, &page, t0 + Duration::days(day))
                .await
                .unwrap();
        }
        store
            .record_page(None, &[obs("oar2")], t0 + Duration::days(5))
            .await
            .unwrap();
        store
            .append_revocation(&NewRevocation::new(
                Some("oar2".into()),
                "00u1",
                "0oa1",
                "manual",
                "enforce",
                RevocationState::Planned,
                ts(t0),
            ))
            .await
            .unwrap();

        let cutoff = t0 + Duration::days(25);
        // Keeping the audit window: oar1 keeps day 20 (the answer for --at day 25..30) and 30.
        assert_eq!(store.prune_snapshots(cutoff, true).await.unwrap(), 3);
        let day = |d| ts(t0 + Duration::days(d));
        assert_eq!(snapshot_times(&store, "oar1").await, vec![day(20), day(30)]);
        assert_eq!(snapshot_times(&store, "oar2").await, vec![day(5)]);
        // Without it, only each token's newest survives.
        assert_eq!(store.prune_snapshots(cutoff, false).await.unwrap(), 1);
        assert_eq!(snapshot_times(&store, "oar1").await, vec![day(30)]);
        assert_eq!(snapshot_times(&store, "oar2").await, vec![day(5)]);
        assert_eq!(store.revocations().await.unwrap().len(), 1);
        assert_eq!(store.verify_audit().await.unwrap(), Ok(1));
    }
}
