//! The `revocations` audit trail: append-only and hash-chained. Each row holds the previous
//! row's hash and its own SHA-256 over a canonical encoding of all its fields (id included),
//! so an edited, deleted or reordered row breaks the chain at a nameable place. Appends run in
//! `BEGIN IMMEDIATE` transactions, so concurrent writers (even other processes) serialise; an
//! `irrevocable` row puts its notification in the outbox in the same transaction.

use serde_json::json;
use sha2::{Digest, Sha256};

use super::outbox::{self, NewEvent};
use super::{Error, Store};

/// The `prev_hash` of the first row.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The states a revocation passes through (`revocations.state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevocationState {
    /// Dry-run: would have been revoked.
    Planned,
    /// Intent committed before the DELETE.
    Pending,
    /// Okta answered 204.
    Done,
    /// Okta answered 404: the token was already gone.
    AlreadyGone,
    /// The DELETE failed; may be retried.
    Failed,
    /// Failed too many times.
    Irrevocable,
    /// An exemption won over the matching rules.
    SkippedExempt,
    /// The blast-radius guard tripped.
    SkippedSafety,
}

impl RevocationState {
    /// The spelling stored in `revocations.state`.
    pub fn as_str(self) -> &'static str {
        match self {
            RevocationState::Planned => "planned",
            RevocationState::Pending => "pending",
            RevocationState::Done => "done",
            RevocationState::AlreadyGone => "already_gone",
            RevocationState::Failed => "failed",
            RevocationState::Irrevocable => "irrevocable",
            RevocationState::SkippedExempt => "skipped_exempt",
            RevocationState::SkippedSafety => "skipped_safety",
        }
    }
}

/// A row to append.
#[derive(Debug, Clone)]
pub struct NewRevocation {
    /// The intent (first row) this row continues; `None` for an intent.
    pub intent_id: Option<i64>,
    /// `None` for a revoke-all of the pair.
    pub token_id: Option<String>,
    pub user_id: String,
    pub client_id: String,
    /// `policy`, `offboard` or `manual`.
    pub trigger: &'static str,
    /// Comma-separated names of the matching rules.
    pub policy: Option<String>,
    pub reason: Option<String>,
    /// `dry-run` or `enforce`.
    pub mode: &'static str,
    pub state: RevocationState,
    pub requested_at: String,
    pub completed_at: Option<String>,
    pub attempts: i64,
    pub http_status: Option<i64>,
    pub okta_request_id: Option<String>,
    pub error: Option<String>,
    pub sweep_id: Option<i64>,
    pub job_id: Option<i64>,
    /// When Okta confirmed the token gone.
    pub verified_at: Option<String>,
    /// For `failed` / `irrevocable`: when to try again.
    pub next_attempt_at: Option<String>,
}

impl NewRevocation {
    /// A row about `token_id` (or, with `None`, the whole pair) with every optional field
    /// empty; fill in the rest with struct update syntax.
    pub fn new(
        token_id: Option<String>,
        user_id: impl Into<String>,
        client_id: impl Into<String>,
        trigger: &'static str,
        mode: &'static str,
        state: RevocationState,
        requested_at: impl Into<String>,
    ) -> Self {
        NewRevocation {
            intent_id: None,
            token_id,
            user_id: user_id.into(),
            client_id: client_id.into(),
            trigger,
            policy: None,
            reason: None,
            mode,
            state,
            requested_at: requested_at.into(),
            completed_at: None,
            attempts: 0,
            http_status: None,
            okta_request_id: None,
            error: None,
            sweep_id: None,
            job_id: None,
            verified_at: None,
            next_attempt_at: None,
        }
    }
}

/// A `revocations` row as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AuditRow {
    pub id: i64,
    pub intent_id: Option<i64>,
    pub token_id: Option<String>,
    pub user_id: String,
    pub client_id: String,
    pub trigger: String,
    pub policy: Option<String>,
    pub reason: Option<String>,
    pub mode: String,
    pub state: String,
    pub requested_at: String,
    pub completed_at: Option<String>,
    pub attempts: i64,
    pub http_status: Option<i64>,
    pub okta_request_id: Option<String>,
    pub error: Option<String>,
    pub sweep_id: Option<i64>,
    pub job_id: Option<i64>,
    pub prev_hash: String,
    pub hash: String,
    pub verified_at: Option<String>,
    pub next_attempt_at: Option<String>,
}

impl AuditRow {
    /// The hash this row must carry: SHA-256 over a JSON array of every field but `hash`.
    pub fn expected_hash(&self) -> String {
        let canonical = json!([
            self.id,
            self.intent_id,
            self.token_id,
            self.user_id,
            self.client_id,
            self.trigger,
            self.policy,
            self.reason,
            self.mode,
            self.state,
            self.requested_at,
            self.completed_at,
            self.attempts,
            self.http_status,
            self.okta_request_id,
            self.error,
            self.sweep_id,
            self.job_id,
            self.prev_hash
        ]);
        hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
    }
}

/// Where the chain first breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditBreak {
    /// The first row that does not verify.
    pub id: i64,
    pub problem: String,
}

impl Store {
    /// Appends one row; returns its id.
    pub async fn append_revocation(&self, row: &NewRevocation) -> Result<i64, Error> {
        let ids = self.append_revocations(std::slice::from_ref(row)).await?;
        Ok(ids[0])
    }

    /// Appends rows in one transaction, chaining each to the one before; returns their ids.
    /// Each `irrevocable` row also enqueues an `irrevocable` notification (once per intent).
    pub async fn append_revocations(&self, rows: &[NewRevocation]) -> Result<Vec<i64>, Error> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let last: Option<(i64, String)> =
            sqlx::query_as("SELECT id, hash FROM revocations ORDER BY id DESC LIMIT 1")
                .fetch_optional(&mut *tx)
                .await?;
        let (mut id, mut prev) = last.unwrap_or((0, GENESIS.to_owned()));
        let mut ids = Vec::with_capacity(rows.len());
        for new in rows {
            id += 1;
            let mut row = AuditRow {
                id,
                intent_id: new.intent_id,
                token_id: new.token_id.clone(),
                user_id: new.user_id.clone(),
                client_id: new.client_id.clone(),
                trigger: new.trigger.to_owned(),
                policy: new.policy.clone(),
                reason: new.reason.clone(),
                mode: new.mode.to_owned(),
                state: new.state.as_str().to_owned(),
                requested_at: new.requested_at.clone(),
                completed_at: new.completed_at.clone(),
                attempts: new.attempts,
                http_status: new.http_status,
                okta_request_id: new.okta_request_id.clone(),
                error: new.error.clone(),
                sweep_id: new.sweep_id,
                job_id: new.job_id,
                prev_hash: prev,
                hash: String::new(),
                verified_at: new.verified_at.clone(),
                next_attempt_at: new.next_attempt_at.clone(),
            };
            row.hash = row.expected_hash();
            sqlx::query(
                "INSERT INTO revocations (id, intent_id, token_id, user_id, client_id, trigger, policy,
                    reason, mode, state, requested_at, completed_at, attempts, http_status,
                    okta_request_id, error, sweep_id, job_id, prev_hash, hash, verified_at,
                    next_attempt_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(row.id)
            .bind(row.intent_id)
            .bind(&row.token_id)
            .bind(&row.user_id)
            .bind(&row.client_id)
            .bind(&row.trigger)
            .bind(&row.policy)
            .bind(&row.reason)
            .bind(&row.mode)
            .bind(&row.state)
            .bind(&row.requested_at)
            .bind(&row.completed_at)
            .bind(row.attempts)
            .bind(row.http_status)
            .bind(&row.okta_request_id)
            .bind(&row.error)
            .bind(row.sweep_id)
            .bind(row.job_id)
            .bind(&row.prev_hash)
            .bind(&row.hash)
            .bind(&row.verified_at)
            .bind(&row.next_attempt_at)
            .execute(&mut *tx)
            .await?;
            if new.state == RevocationState::Irrevocable {
                outbox::insert_event(&mut tx, &NewEvent::irrevocable(&row)).await?;
            }
            ids.push(id);
            prev = row.hash;
        }
        sqlx::query(
            "INSERT INTO audit_head (id, last_id, last_hash) VALUES (1, ?, ?)
             ON CONFLICT (id) DO UPDATE SET last_id = excluded.last_id, last_hash = excluded.last_hash",
        )
        .bind(id)
        .bind(&prev)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(ids)
    }

    /// Every audit row, in chain order.
    pub async fn revocations(&self) -> Result<Vec<AuditRow>, Error> {
        Ok(
            sqlx::query_as::<_, AuditRow>("SELECT * FROM revocations ORDER BY id")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// Walks the chain; `Ok(n)` with the number of rows when whole, else the first break.
    pub async fn verify_audit(&self) -> Result<Result<u64, AuditBreak>, Error> {
        use futures::TryStreamExt;
        let mut rows = sqlx::query_as::<_, AuditRow>("SELECT * FROM revocations ORDER BY rowid")
            .fetch(&self.pool);
        let (mut prev, mut expected_id, mut n) = (GENESIS.to_owned(), 1_i64, 0_u64);
        while let Some(row) = rows.try_next().await? {
            let problem = if row.id != expected_id {
                Some(format!(
                    "expected record {expected_id} here, found {} (deleted or reordered)",
                    row.id
                ))
            } else if row.prev_hash != prev {
                Some("prev_hash does not match the previous record (a record before it was changed or removed)".to_owned())
            } else if row.hash != row.expected_hash() {
                Some("hash does not match the record's contents (the record was edited)".to_owned())
            } else {
                None
            };
            if let Some(problem) = problem {
                return Ok(Err(AuditBreak {
                    id: row.id,
                    problem,
                }));
            }
            prev = row.hash;
            expected_id += 1;
            n += 1;
        }
        drop(rows);
        let head: Option<(i64, String)> =
            sqlx::query_as("SELECT last_id, last_hash FROM audit_head WHERE id = 1")
                .fetch_optional(&self.pool)
                .await?;
        let last = expected_id - 1;
        match head {
            Some((head_id, _)) if head_id != last => Ok(Err(AuditBreak {
                id: last + 1,
                problem: format!(
                    "the chain ends at record {last} but its head says {head_id} (records at the end were deleted)"
                ),
            })),
            Some((_, head_hash)) if head_hash != prev => Ok(Err(AuditBreak {
                id: last,
                problem: "the last record's hash differs from the recorded head".to_owned(),
            })),
            None if n > 0 => Ok(Err(AuditBreak {
                id: 1,
                problem: "the audit head record is missing".to_owned(),
            })),
            _ => Ok(Ok(n)),
        }
    }

    /// The audit chain's head: the last record's id and hash (`None` while empty). Logged after
    /// each sweep so an external copy can anchor `revokd audit verify --anchor`.
    pub async fn audit_head(&self) -> Result<Option<(i64, String)>, Error> {
        Ok(
            sqlx::query_as("SELECT last_id, last_hash FROM audit_head WHERE id = 1")
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Whether record `id` exists with exactly `hash`: checks an externally kept anchor.
    pub async fn audit_has(&self, id: i64, hash: &str) -> Result<bool, Error> {
        let found: Option<String> = sqlx::query_scalar("SELECT hash FROM revocations WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(found.as_deref() == Some(hash))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(state: RevocationState, token: &str) -> NewRevocation {
        NewRevocation {
            policy: Some("idle-30d".into()),
            reason: Some("idle".into()),
            ..NewRevocation::new(
                Some(token.into()),
                "00u1",
                "0oa1",
                "policy",
                "enforce",
                state,
                "2026-11-29T00:00:00.000Z",
            )
        }
    }

    async fn seeded(pool: sqlx::SqlitePool) -> Store {
        let store = Store::from_pool(pool).await.unwrap();
        let intent = store
            .append_revocation(&new(RevocationState::Pending, "oar1"))
            .await
            .unwrap();
        let done = NewRevocation {
            intent_id: Some(intent),
            attempts: 1,
            http_status: Some(204),
            ..new(RevocationState::Done, "oar1")
        };
        store
            .append_revocations(&[
                done,
                new(RevocationState::Planned, "oar2"),
                new(RevocationState::Planned, "oar3"),
            ])
            .await
            .unwrap();
        store
    }

    #[sqlx::test(migrations = "./migrations")]
    async fn an_untouched_chain_verifies(pool: sqlx::SqlitePool) {
        let store = seeded(pool).await;
        assert_eq!(store.verify_audit().await.unwrap(), Ok(4));
        let rows = store.revocations().await.unwrap();
        assert_eq!(rows[0].prev_hash, GENESIS);
        assert_eq!(rows[1].prev_hash, rows[0].hash);
        assert_eq!(rows[1].intent_id, Some(1));
    }

    #[sqlx::test(migrations = "./migrations")]
    async fn the_table_refuses_updates_and_deletes(pool: sqlx::SqlitePool) {
        let store = seeded(pool).await;
        assert!(
            sqlx::query("UPDATE revocations SET state = 'done' WHERE id = 3")
                .execute(store.pool())
                .await
                .is_err()
        );
        assert!(
            sqlx::query("DELETE FROM revocations WHERE id = 3")
                .execute(store.pool())
                .await
                .is_err()
        );
    }

    async fn drop_guards(store: &Store) {
        for t in [
            "revocations_are_append_only_update",
            "revocations_are_append_only_delete",
        ] {
            sqlx::query(&format!("DROP TRIGGER {t}"))
                .execute(store.pool())
                .await
                .unwrap();
        }
    }

    #[sqlx::test(migrations = "./migrations")]
    async fn an_edited_row_is_named(pool: sqlx::SqlitePool) {
        let store = seeded(pool).await;
        drop_guards(&store).await;
        sqlx::query("UPDATE revocations SET reason = 'nothing to see' WHERE id = 3")
            .execute(store.pool())
            .await
            .unwrap();
        let broken = store.verify_audit().await.unwrap().unwrap_err();
        assert_eq!(broken.id, 3);
        assert!(broken.problem.contains("edited"));
    }

    #[sqlx::test(migrations = "./migrations")]
    async fn a_deleted_row_is_named(pool: sqlx::SqlitePool) {
        let store = seeded(pool).await;
        drop_guards(&store).await;
        sqlx::query("DELETE FROM revocations WHERE id = 2")
            .execute(store.pool())
            .await
            .unwrap();
        assert_eq!(store.verify_audit().await.unwrap().unwrap_err().id, 3);
    }

    #[sqlx::test(migrations = "./migrations")]
    async fn a_deleted_tail_is_caught_by_the_head(pool: sqlx::SqlitePool) {
        let store = seeded(pool).await;
        drop_guards(&store).await;
        sqlx::query("DELETE FROM revocations WHERE id = 4")
            .execute(store.pool())
            .await
            .unwrap();
        let broken = store.verify_audit().await.unwrap().unwrap_err();
        assert_eq!(broken.id, 4);
        assert!(broken.problem.contains("deleted"), "{}", broken.problem);
    }

    #[sqlx::test(migrations = "./migrations")]
    async fn an_anchor_confirms_a_record(pool: sqlx::SqlitePool) {
        let store = seeded(pool).await;
        let (id, hash) = store.audit_head().await.unwrap().unwrap();
        assert_eq!(id, 4);
        assert!(store.audit_has(id, &hash).await.unwrap());
        assert!(!store.audit_has(id, "00").await.unwrap());
    }

    #[sqlx::test(migrations = "./migrations")]
    async fn a_rehashed_forgery_still_breaks_the_next_link(pool: sqlx::SqlitePool) {
        let store = seeded(pool).await;
        drop_guards(&store).await;
        let mut row = store.revocations().await.unwrap()[1].clone();
        row.state = "failed".into();
        let forged = row.expected_hash();
        sqlx::query("UPDATE revocations SET state = 'failed', hash = ? WHERE id = 2")
            .bind(forged)
            .execute(store.pool())
            .await
            .unwrap();
        let broken = store.verify_audit().await.unwrap().unwrap_err();
        assert_eq!(broken.id, 3);
        assert!(broken.problem.contains("prev_hash"));
    }
}
