//! The `revocations` audit trail: append-only and hash-chained. Each row holds the previous
//! row's hash and its own SHA-256 over a canonical encoding of all its fields (id included;
//! see [`super::audit_row`]), so an edited, deleted or reordered row breaks the chain at a
//! nameable place. Appends run in `BEGIN IMMEDIATE` transactions, so concurrent writers (even
//! other processes) serialise; an `irrevocable` row puts its notification in the outbox in
//! the same transaction.

use serde_json::value::RawValue;
use sqlx::{QueryBuilder, Sqlite};

use super::audit_row::{AuditRow, GENESIS, HASH_VERSION, NewRevocation, RevocationState};
use super::observations::owned_runs;
use super::outbox::{self, NewEvent};
use super::{Error, Store};

const INSERT_REVOCATIONS: &str = "INSERT INTO revocations (id, intent_id, token_id, user_id,
    client_id, trigger, policy, reason, mode, state, requested_at, completed_at, attempts,
    http_status, okta_request_id, error, sweep_id, job_id, prev_hash, hash, verified_at,
    next_attempt_at, okta_error_id, hash_version) ";

/// Rows [`Store::verify_audit`] reads at a time, as one JSON array: handing rows over one by
/// one from SQLite's thread costs several times more than reading and hashing them.
const WALK_BATCH: i64 = 2_000;

/// The rows after an id, in chain order, each a JSON array of the columns in [`AuditRow`]'s
/// field order.
const WALK_ROWS: &str = "SELECT json_group_array(json_array(id, intent_id, token_id, user_id,
    client_id, trigger, policy, reason, mode, state, requested_at, completed_at, attempts,
    http_status, okta_request_id, error, sweep_id, job_id, prev_hash, hash, verified_at,
    next_attempt_at, okta_error_id, hash_version) ORDER BY id)
    FROM (SELECT * FROM revocations WHERE id > ? ORDER BY id LIMIT ?)";

/// A walk of the chain, row by row: what the next row must hold.
struct Walk {
    prev: String,
    expected_id: i64,
    version: i64,
    n: u64,
}

impl Default for Walk {
    fn default() -> Walk {
        Walk {
            prev: GENESIS.to_owned(),
            expected_id: 1,
            version: 1,
            n: 0,
        }
    }
}

impl Walk {
    /// Checks the next row as read (a JSON array of its columns), or says where it breaks.
    fn step(&mut self, raw: &RawValue) -> Result<(), AuditBreak> {
        let row: AuditRow = serde_json::from_str(raw.get()).map_err(|_| {
            let id = serde_json::from_str::<Vec<serde_json::Value>>(raw.get())
                .ok()
                .and_then(|columns| columns.first()?.as_i64());
            AuditBreak {
                id: id.unwrap_or(self.expected_id),
                problem: "a column holds a value of the wrong type (the record was edited)"
                    .to_owned(),
            }
        })?;
        let expected_id = self.expected_id;
        let problem = if row.id != expected_id {
            Some(format!(
                "expected record {expected_id} here, found {} (deleted or reordered)",
                row.id
            ))
        } else if row.prev_hash != self.prev {
            Some("prev_hash does not match the previous record (a record before it was changed or removed)".to_owned())
        } else if !(self.version..=HASH_VERSION).contains(&row.hash_version) {
            Some(format!(
                "hash version {} where {} to {HASH_VERSION} is expected (the record was edited)",
                row.hash_version, self.version
            ))
        } else if row.hash != row.expected_hash() {
            Some("hash does not match the record's contents (the record was edited)".to_owned())
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err(AuditBreak {
                id: row.id,
                problem,
            });
        }
        self.prev = row.hash;
        self.version = row.hash_version;
        self.expected_id += 1;
        self.n += 1;
        Ok(())
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
        self.append_owned_revocations(rows.to_vec()).await
    }

    /// [`Store::append_revocations`] of rows the caller gives up: their values move into the
    /// statement instead of being copied. Rows go in as multi-row INSERTs of a few fixed sizes
    /// (each statement prepared once).
    pub async fn append_owned_revocations(
        &self,
        rows: Vec<NewRevocation>,
    ) -> Result<Vec<i64>, Error> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let last: Option<(i64, String)> =
            sqlx::query_as("SELECT id, hash FROM revocations ORDER BY id DESC LIMIT 1")
                .fetch_optional(&mut *tx)
                .await?;
        let (mut id, mut prev) = last.unwrap_or((0, GENESIS.to_owned()));
        let mut ids = Vec::with_capacity(rows.len());
        for run in owned_runs(rows) {
            let chained: Vec<AuditRow> = run
                .into_iter()
                .map(|new| {
                    id += 1;
                    let row = new.into_row(id, std::mem::take(&mut prev));
                    prev.clone_from(&row.hash);
                    row
                })
                .collect();
            let events: Vec<NewEvent> = chained
                .iter()
                .filter(|row| row.state() == Some(RevocationState::Irrevocable))
                .map(NewEvent::irrevocable)
                .collect();
            ids.extend(chained.iter().map(|row| row.id));
            let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(INSERT_REVOCATIONS);
            q.push_values(chained, |mut b, row| {
                b.push_bind(row.id)
                    .push_bind(row.intent_id)
                    .push_bind(row.token_id)
                    .push_bind(row.user_id)
                    .push_bind(row.client_id)
                    .push_bind(row.trigger)
                    .push_bind(row.policy)
                    .push_bind(row.reason)
                    .push_bind(row.mode)
                    .push_bind(row.state)
                    .push_bind(row.requested_at)
                    .push_bind(row.completed_at)
                    .push_bind(row.attempts)
                    .push_bind(row.http_status)
                    .push_bind(row.okta_request_id)
                    .push_bind(row.error)
                    .push_bind(row.sweep_id)
                    .push_bind(row.job_id)
                    .push_bind(row.prev_hash)
                    .push_bind(row.hash)
                    .push_bind(row.verified_at)
                    .push_bind(row.next_attempt_at)
                    .push_bind(row.okta_error_id)
                    .push_bind(row.hash_version);
            });
            q.build().execute(&mut *tx).await?;
            for event in &events {
                outbox::insert_event(&mut tx, event).await?;
            }
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
        self.verify_audit_by(WALK_BATCH).await
    }

    /// [`Store::verify_audit`], reading `batch` rows at a time.
    async fn verify_audit_by(&self, batch: i64) -> Result<Result<u64, AuditBreak>, Error> {
        let mut walk = Walk::default();
        loop {
            // From the start, any id: a record slipped in before record 1 is found too.
            let after = if walk.n == 0 {
                i64::MIN
            } else {
                walk.expected_id - 1
            };
            let text: String = sqlx::query_scalar(WALK_ROWS)
                .bind(after)
                .bind(batch)
                .fetch_one(&self.pool)
                .await?;
            let rows: Vec<&RawValue> =
                serde_json::from_str(&text).map_err(|e| sqlx::Error::Decode(e.into()))?;
            if rows.is_empty() {
                break;
            }
            for raw in rows {
                if let Err(broken) = walk.step(raw) {
                    return Ok(Err(broken));
                }
            }
        }
        let (prev, expected_id, n) = (walk.prev, walk.expected_id, walk.n);
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
#[path = "tests_audit.rs"]
mod tests;

#[cfg(test)]
#[path = "tests_audit_walk.rs"]
mod tests_walk;
