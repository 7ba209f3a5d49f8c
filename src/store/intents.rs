//! Open revocation intents: those whose latest audit row is `pending`, `failed` or
//! `irrevocable`. A sweep retries the ones of tokens that are due; a restart resolves the
//! `pending` ones a dead process left behind; an offboarding picks up the revoke-all intents
//! (no token id) of its pair that its earlier try or a finished job left open.

use std::collections::BTreeMap;

use sqlx::Sqlite;
use sqlx::sqlite::SqliteArguments;

use super::{AuditRow, Error, JobState, NewRevocation, RevocationState, RevocationTrigger, Store};
use crate::config::Mode;

/// The open revoke-all intents (no token id) of `?2`'s pairs that job `?1` or a finished job
/// left: bound by [`bind_open_pair`].
const OPEN_PAIR: &str = "FROM v_revocation_state
    WHERE token_id IS NULL AND user_id = ?2 AND state IN (?3, ?4, ?5)
      AND (job_id = ?1 OR job_id IN (SELECT id FROM offboarding_jobs WHERE state IN (?6, ?7)))";

type PairQuery<'q, O> = sqlx::query::QueryAs<'q, Sqlite, O, SqliteArguments<'q>>;

/// Binds [`OPEN_PAIR`]'s parameters.
fn bind_open_pair<'q, O>(q: PairQuery<'q, O>, job_id: i64, user_id: &'q str) -> PairQuery<'q, O> {
    q.bind(job_id)
        .bind(user_id)
        .bind(RevocationState::Pending)
        .bind(RevocationState::Failed)
        .bind(RevocationState::Irrevocable)
        .bind(JobState::Done)
        .bind(JobState::Failed)
}

/// An open revoke-all intent of a pair ([`Store::open_pair_intents`]).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OpenPairIntent {
    /// The intent's id.
    pub id: i64,
    /// Attempts recorded so far.
    pub attempts: i64,
    /// Its latest state.
    pub state: RevocationState,
    /// The offboarding job that wrote it.
    pub job_id: Option<i64>,
    /// That job's reason, as the intent records it.
    pub reason: Option<String>,
}

impl AuditRow {
    /// The row that follows this one, the latest of an open intent: `state` at `at`, with
    /// `attempts` and why (`error`), the intent's identity carried over (its token, pair,
    /// trigger, rule, reason, sweep, job and request instant).
    pub fn followed_by(
        &self,
        state: RevocationState,
        attempts: i64,
        error: String,
        at: String,
    ) -> NewRevocation {
        NewRevocation {
            intent_id: Some(self.intent_id.unwrap_or(self.id)),
            attempts,
            completed_at: Some(at),
            error: Some(error),
            policy: self.policy.clone(),
            reason: self.reason.clone(),
            sweep_id: self.sweep_id,
            job_id: self.job_id,
            ..NewRevocation::new(
                self.token_id.clone(),
                self.user_id.clone(),
                self.client_id.clone(),
                self.trigger().unwrap_or(RevocationTrigger::Offboard),
                Mode::Enforce,
                state,
                self.requested_at.clone(),
            )
        }
    }
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

    /// Whether an offboarding job has begun revoking: an earlier attempt wrote a revocation
    /// intent in `enforce` (the row written before every DELETE) that was not withdrawn
    /// unsent. Rows of tokens the gate kept (`skipped_exempt`, `withdrawn` without an intent)
    /// and a preview's `planned` rows revoke nothing, so they do not count.
    pub async fn job_has_begun(&self, job_id: i64) -> Result<bool, Error> {
        Ok(sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM revocations i
                WHERE i.job_id = ?1 AND i.mode = ?2 AND i.intent_id IS NULL AND i.state = ?3
                  AND (SELECT c.state FROM revocations c WHERE c.intent_id = i.id
                       ORDER BY c.id DESC LIMIT 1) IS NOT ?4)",
        )
        .bind(job_id)
        .bind(crate::config::Mode::Enforce)
        .bind(RevocationState::Pending)
        .bind(RevocationState::Withdrawn)
        .fetch_one(&self.pool)
        .await?)
    }

    /// The latest row of each open intent (`pending`, `failed`, `irrevocable`) an offboarding
    /// job wrote, oldest intent first.
    pub async fn open_job_rows(&self, job_id: i64) -> Result<Vec<AuditRow>, Error> {
        Ok(sqlx::query_as::<_, AuditRow>(
            "SELECT * FROM v_revocation_state WHERE job_id = ? AND state IN (?, ?, ?)
             ORDER BY COALESCE(intent_id, id)",
        )
        .bind(job_id)
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
        // A `pending` latest row is an attempt interrupted before its outcome: it counts.
        let rows: Vec<(String, i64, i64)> = sqlx::query_as(
            "SELECT token_id, COALESCE(intent_id, id), attempts + (state = ?4)
             FROM v_revocation_state
             WHERE job_id = ?1 AND user_id = ?2 AND client_id = ?3 AND token_id IS NOT NULL
               AND state IN (?4, ?5, ?6)",
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
        let sql = format!(
            "SELECT COALESCE(intent_id, id) AS id, attempts, state, job_id, reason {OPEN_PAIR}
             AND client_id = ?8 ORDER BY COALESCE(intent_id, id)"
        );
        Ok(bind_open_pair(sqlx::query_as(&sql), job_id, user_id)
            .bind(client_id)
            .fetch_all(&self.pool)
            .await?)
    }

    /// The clients of `user_id` with an open revoke-all intent [`Store::open_pair_intents`]
    /// would pick up for `job_id`: an offboarding visits them, so each is settled.
    pub async fn clients_with_open_pair_intents(
        &self,
        job_id: i64,
        user_id: &str,
    ) -> Result<Vec<String>, Error> {
        let sql = format!("SELECT DISTINCT client_id {OPEN_PAIR} ORDER BY client_id");
        let rows: Vec<(String,)> = bind_open_pair(sqlx::query_as(&sql), job_id, user_id)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(|(c,)| c).collect())
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
    use crate::store::{JobState, NewRevocation, RevocationState, RevocationTrigger, Store};

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

    /// A job of `00u1` started now, then put in `state` (`None`: left running).
    async fn job_in(store: &Store, state: Option<JobState>) -> i64 {
        let job = crate::store::NewJob {
            user_id: "00u1".into(),
            source: crate::store::JobSource::Cli,
            event_id: None,
            event_type: None,
            reason: None,
        };
        let id = store
            .start_job(&job, "h:1:0", chrono::Utc::now())
            .await
            .unwrap();
        if let Some(state) = state {
            store
                .finish_job(id, state, None, chrono::Utc::now())
                .await
                .unwrap();
        }
        id
    }

    #[sqlx::test(migrations = "./migrations")]
    async fn open_pair_intents_are_the_jobs_own_and_ended_jobs(pool: sqlx::SqlitePool) {
        let store = Store::from_pool(pool).await.unwrap();
        let own = job_in(&store, None).await;
        let running = job_in(&store, None).await;
        let ended = job_in(&store, Some(JobState::Failed)).await;
        let done = job_in(&store, Some(JobState::Done)).await;
        let pair = |job: i64, client: &str, state| NewRevocation {
            job_id: Some(job),
            ..NewRevocation::new(
                None,
                "00u1",
                client,
                RevocationTrigger::Offboard,
                Mode::Enforce,
                state,
                "2026-11-29T00:00:00.000Z",
            )
        };
        let pending = RevocationState::Pending;
        let ids = store
            .append_revocations(&[
                pair(own, "0oa1", pending),
                pair(running, "0oa1", pending),
                pair(ended, "0oa1", pending),
                pair(done, "0oa2", pending),
                pair(own, "0oa3", pending),
            ])
            .await
            .unwrap();
        // A token's intent is not the pair's; a closed pair intent is not open.
        store
            .append_revocation(&row(pending, "oarA", None))
            .await
            .unwrap();
        let closed = NewRevocation {
            intent_id: Some(ids[4]),
            ..pair(own, "0oa3", RevocationState::Done)
        };
        store.append_revocation(&closed).await.unwrap();

        let found = store.open_pair_intents(own, "00u1", "0oa1").await.unwrap();
        let got: Vec<_> = found.iter().map(|f| (f.id, f.job_id)).collect();
        assert_eq!(got, vec![(ids[0], Some(own)), (ids[2], Some(ended))]);
        let clients = store
            .clients_with_open_pair_intents(own, "00u1")
            .await
            .unwrap();
        assert_eq!(clients, vec!["0oa1".to_owned(), "0oa2".to_owned()]);
        let none = store
            .clients_with_open_pair_intents(own, "00u2")
            .await
            .unwrap();
        assert!(none.is_empty());
    }
}
