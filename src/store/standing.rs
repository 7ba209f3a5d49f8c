//! Standing sweep records: the `planned` (dry-run) and `skipped_exempt` intents a sweep
//! wrote that no later row has closed. A sweep records such a state once while it stands and
//! closes it (`withdrawn`) when a later sweep no longer finds it, so an unchanged sweep
//! appends nothing to the audit trail (the comparison itself is the plan stage's).

use super::{Error, RevocationState, RevocationTrigger, StagedEntry, Store};

/// A standing record: an intent in `planned` or `skipped_exempt` without a later row.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StandingRecord {
    /// The intent's id (the row itself).
    pub id: i64,
    pub token_id: String,
    pub user_id: String,
    pub client_id: String,
    /// The matching rule names, comma-separated.
    pub policy: Option<String>,
    /// `dry-run` or `enforce`.
    pub mode: String,
}

impl Store {
    /// Every standing record of a sweep (trigger `policy`, one token) in `state`, oldest
    /// first. Offboarding's records and closed intents are not standing.
    pub async fn standing_records(
        &self,
        state: RevocationState,
    ) -> Result<Vec<StandingRecord>, Error> {
        let sql = format!(
            "SELECT r.id, r.token_id, r.user_id, r.client_id, r.policy, r.mode
             FROM revocations r WHERE {} ORDER BY r.id",
            standing_clause(state),
        );
        Ok(sqlx::query_as(&sql).fetch_all(&self.pool).await?)
    }

    /// Up to `limit` standing records in `state` and `mode` of the pairs `pairs`
    /// (`[user, client]`) with an id above `after`, oldest first, each as the entry it records
    /// and its id: the plans of pairs whose listing was unchanged, which stand as they are.
    pub async fn standing_of_pairs(
        &self,
        state: RevocationState,
        mode: &str,
        pairs: &[[String; 2]],
        after: i64,
        limit: usize,
    ) -> Result<Vec<(i64, StagedEntry)>, Error> {
        // From each pair's tokens to their records by the token index: `revocations` has no
        // index by pair.
        let sql = format!(
            "SELECT r.id, r.token_id, r.user_id, r.client_id, COALESCE(r.policy, ''),
                    COALESCE(r.reason, '')
             FROM json_each(?1) AS j
             JOIN token_pairs p ON p.user_id = j.value ->> 0 AND p.client_id = j.value ->> 1
             JOIN token_state s ON s.pair_id = p.id
             JOIN revocations r INDEXED BY revocations_by_token ON r.token_id = s.token_id
             WHERE {} AND r.user_id = p.user_id AND r.client_id = p.client_id AND r.mode = ?4
               AND r.id > ?2
             ORDER BY r.id LIMIT ?3",
            standing_clause(state),
        );
        let pairs = serde_json::to_string(pairs).map_err(|e| sqlx::Error::Encode(e.into()))?;
        let rows: Vec<EntryRow> = sqlx::query_as(&sql)
            .bind(pairs)
            .bind(after)
            .bind(limit as i64)
            .bind(mode)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(entry_of).collect())
    }
}

/// The terms that make `r` a standing record in `state` (see [`Store::standing_records`]),
/// as literals in the index's own terms so `revocations_standing` serves.
pub(super) fn standing_clause(state: RevocationState) -> String {
    format!(
        "r.intent_id IS NULL AND r.state IN ('{planned}', '{exempt}')
         AND r.state = '{state}' AND r.trigger = '{policy}' AND r.token_id IS NOT NULL
         AND NOT EXISTS (SELECT 1 FROM main.revocations c WHERE c.intent_id = r.id)",
        planned = RevocationState::Planned.as_str(),
        exempt = RevocationState::SkippedExempt.as_str(),
        state = state.as_str(),
        policy = RevocationTrigger::Policy.as_str(),
    )
}

/// An entry as read: its position (or record id), `token_id, user_id, client_id, policy,
/// reason`.
pub(super) type EntryRow = (i64, String, String, String, String, String);

/// The entry a row reads, with its position.
pub(super) fn entry_of(row: EntryRow) -> (i64, StagedEntry) {
    let (at, token_id, user_id, client_id, policy, reason) = row;
    let entry = StagedEntry {
        token_id,
        user_id,
        client_id,
        policy,
        reason,
    };
    (at, entry)
}

#[cfg(test)]
mod tests {
    use crate::config::Mode;
    use crate::store::{NewRevocation, RevocationState, RevocationTrigger, Store};

    fn row(state: RevocationState, token: &str, trigger: RevocationTrigger) -> NewRevocation {
        NewRevocation::new(
            Some(token.into()),
            "00u1",
            "0oa1",
            trigger,
            Mode::DryRun,
            state,
            "2026-11-30T00:00:00.000Z",
        )
    }

    #[sqlx::test(migrations = "./migrations")]
    async fn only_unclosed_sweep_records_in_the_state_are_standing(pool: sqlx::SqlitePool) {
        let store = Store::from_pool(pool).await.unwrap();
        let planned = RevocationState::Planned;
        let a = store
            .append_revocation(&row(planned, "oarA", RevocationTrigger::Policy))
            .await
            .unwrap();
        let b = store
            .append_revocation(&row(planned, "oarB", RevocationTrigger::Policy))
            .await
            .unwrap();
        store
            .append_revocation(&row(planned, "oarC", RevocationTrigger::Offboard))
            .await
            .unwrap();
        store
            .append_revocation(&row(
                RevocationState::SkippedExempt,
                "oarD",
                RevocationTrigger::Policy,
            ))
            .await
            .unwrap();
        store
            .append_revocation(&NewRevocation {
                intent_id: Some(b),
                ..row(
                    RevocationState::Withdrawn,
                    "oarB",
                    RevocationTrigger::Policy,
                )
            })
            .await
            .unwrap();
        let standing = store.standing_records(planned).await.unwrap();
        let ids: Vec<_> = standing
            .iter()
            .map(|s| (s.id, s.token_id.as_str()))
            .collect();
        assert_eq!(ids, vec![(a, "oarA")]);
        let exempt = store
            .standing_records(RevocationState::SkippedExempt)
            .await
            .unwrap();
        assert_eq!(exempt.len(), 1);
        assert_eq!(exempt[0].token_id, "oarD");
    }

    #[sqlx::test(migrations = "./migrations")]
    async fn a_token_seen_active_is_no_longer_gone_and_its_absence_closes(pool: sqlx::SqlitePool) {
        let store = Store::from_pool(pool).await.unwrap();
        sqlx::query(
            "INSERT INTO tokens (token_id, user_id, client_id, status, first_seen_at, last_seen_at)
             VALUES ('oar1', '00u1', '0oa1', 'ACTIVE', '2026-11-01T00:00:00.000Z',
                     '2026-11-01T00:00:00.000Z')",
        )
        .execute(store.pool())
        .await
        .unwrap();
        let gone = chrono::DateTime::parse_from_rfc3339("2026-11-02T00:00:00Z").unwrap();
        store.mark_token_gone("oar1", gone.into()).await.unwrap();
        let seen = chrono::DateTime::parse_from_rfc3339("2026-11-03T00:00:00Z").unwrap();
        // Okta answers a GET of it ACTIVE: recorded as a listing records it.
        let found = crate::store::tokens::observation("00u1", "oar1", r#"{"id":"oar1"}"#);
        store
            .record_page(None, &[found], seen.into())
            .await
            .unwrap();
        let row = store.token("oar1").await.unwrap().unwrap();
        assert_eq!(row.gone_at, None);
        let back: Option<String> =
            sqlx::query_scalar("SELECT back_at FROM token_absences WHERE token_id = 'oar1'")
                .fetch_one(store.pool())
                .await
                .unwrap();
        assert_eq!(back.as_deref(), Some("2026-11-03T00:00:00.000Z"));
    }
}
