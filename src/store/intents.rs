//! Open revocation intents: those whose latest audit row is `pending`, `failed` or
//! `irrevocable`. A sweep retries the ones of tokens that are due; a restart resolves the
//! `pending` ones a dead process left behind; an offboarding picks up the revoke-all intents
//! (no token id) of its pair that its earlier try or a finished job left open.

use std::collections::BTreeMap;

use super::{AuditRow, Error, JobState, RevocationState, Store};

/// An open revoke-all intent of a pair ([`Store::open_pair_intents`]).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OpenPairIntent {
    /// The intent's id.
    pub id: i64,
    /// Attempts recorded so far.
    pub attempts: i64,
    /// Its latest state.
    pub state: RevocationState,
    /// The offboarding job that wrote it, and its reason.
    pub job_id: Option<i64>,
    pub reason: Option<String>,
}

impl Store {
    /// The latest row of every open intent (state `pending`, `failed` or `irrevocable`), by id.
    pub async fn open_intents(&self) -> Result<Vec<AuditRow>, Error> {
        Ok(sqlx::query_as::<_, AuditRow>(
            "SELECT * FROM v_revocation_state WHERE state IN (?, ?, ?)
             ORDER BY COALESCE(intent_id, id)",
        )
        .bind(RevocationState::Pending)
        .bind(RevocationState::Failed)
        .bind(RevocationState::Irrevocable)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The open intents an offboarding job left for one pair: token → (intent id, attempts).
    pub async fn open_job_intents(
        &self,
        job_id: i64,
        user_id: &str,
        client_id: &str,
    ) -> Result<BTreeMap<String, (i64, i64)>, Error> {
        let rows: Vec<(String, i64, i64)> = sqlx::query_as(
            "SELECT token_id, COALESCE(intent_id, id), attempts FROM v_revocation_state
             WHERE job_id = ? AND user_id = ? AND client_id = ? AND token_id IS NOT NULL
               AND state IN (?, ?, ?)",
        )
        .bind(job_id)
        .bind(user_id)
        .bind(client_id)
        .bind(RevocationState::Pending)
        .bind(RevocationState::Failed)
        .bind(RevocationState::Irrevocable)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(t, id, n)| (t, (id, n))).collect())
    }

    /// The open revoke-all intents (no token id) of one pair that are `job_id`'s or a finished
    /// job's (`done` or `failed`: no try of it will pick them up), oldest first.
    pub async fn open_pair_intents(
        &self,
        job_id: i64,
        user_id: &str,
        client_id: &str,
    ) -> Result<Vec<OpenPairIntent>, Error> {
        Ok(sqlx::query_as(
            "SELECT COALESCE(intent_id, id) AS id, attempts, state, job_id, reason FROM v_revocation_state
             WHERE token_id IS NULL AND user_id = ?2 AND client_id = ?3 AND state IN (?4, ?5, ?6)
               AND (job_id = ?1 OR job_id IN (SELECT id FROM offboarding_jobs
                                              WHERE state IN (?7, ?8)))
             ORDER BY COALESCE(intent_id, id)",
        )
        .bind(job_id)
        .bind(user_id)
        .bind(client_id)
        .bind(RevocationState::Pending)
        .bind(RevocationState::Failed)
        .bind(RevocationState::Irrevocable)
        .bind(JobState::Done)
        .bind(JobState::Failed)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The first row (the intent itself) of a revocation.
    pub async fn intent(&self, intent_id: i64) -> Result<Option<AuditRow>, Error> {
        Ok(
            sqlx::query_as::<_, AuditRow>("SELECT * FROM revocations WHERE id = ?")
                .bind(intent_id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Mode;
    use crate::store::{NewRevocation, RevocationState, RevocationTrigger, Store};

    fn row(state: RevocationState, token: &str, intent: Option<i64>) -> NewRevocation {
        NewRevocation {
            intent_id: intent,
            ..NewRevocation::new(
                Some(token.into()),
                "00u1",
                "0oa1",
                RevocationTrigger::Policy,
                Mode::Enforce,
                state,
                "2026-11-29T00:00:00.000Z",
            )
        }
    }

    #[sqlx::test(migrations = "./migrations")]
    async fn only_intents_whose_latest_state_is_open_are_listed(pool: sqlx::SqlitePool) {
        let store = Store::from_pool(pool).await.unwrap();
        let a = store
            .append_revocation(&row(RevocationState::Pending, "oarA", None))
            .await
            .unwrap();
        let b = store
            .append_revocation(&row(RevocationState::Pending, "oarB", None))
            .await
            .unwrap();
        let c = store
            .append_revocation(&row(RevocationState::Pending, "oarC", None))
            .await
            .unwrap();
        store
            .append_revocation(&row(RevocationState::Done, "oarA", Some(a)))
            .await
            .unwrap();
        store
            .append_revocation(&row(RevocationState::Failed, "oarB", Some(b)))
            .await
            .unwrap();
        store
            .append_revocation(&row(RevocationState::Planned, "oarD", None))
            .await
            .unwrap();
        let open = store.open_intents().await.unwrap();
        let seen: Vec<_> = open
            .iter()
            .map(|r| (r.token_id.clone().unwrap(), r.state.clone()))
            .collect();
        assert_eq!(
            seen,
            vec![
                ("oarB".into(), "failed".into()),
                ("oarC".into(), "pending".into())
            ]
        );
        assert_eq!(store.intent(c).await.unwrap().unwrap().state, "pending");
    }
}
