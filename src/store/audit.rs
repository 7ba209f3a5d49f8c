//! The `revocations` audit trail: append-only and hash-chained. Each row holds the previous
//! row's hash and its own SHA-256 over a canonical encoding of all its fields (id included;
//! see [`super::audit_row`]), so an edited, deleted or reordered row breaks the chain at a
//! nameable place. Appends run in `BEGIN IMMEDIATE` transactions, so concurrent writers (even
//! other processes) serialise; an `irrevocable` row puts its notification in the outbox in
//! the same transaction.

use sqlx::{QueryBuilder, Sqlite};

use super::audit_row::{AuditRow, GENESIS, NewRevocation, RevocationState};
use super::observations::owned_runs;
use super::outbox::{self, NewEvent};
use super::{Error, Store};

const INSERT_REVOCATIONS: &str = "INSERT INTO revocations (id, intent_id, token_id, user_id,
    client_id, trigger, policy, reason, mode, state, requested_at, completed_at, attempts,
    http_status, okta_request_id, error, sweep_id, job_id, prev_hash, hash, verified_at,
    next_attempt_at, okta_error_id, hash_version) ";

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
        Ok(self.append_checked(rows, None).await?.unwrap_or_default())
    }

    /// Appends `row`, a row of an intent, only while record `latest` is still that intent's
    /// latest: `None` (nothing written) when another run appended to it since it was read.
    pub async fn append_revocation_if_latest(
        &self,
        row: &NewRevocation,
        latest: i64,
    ) -> Result<Option<i64>, Error> {
        let intent = row.intent_id.unwrap_or(latest);
        let ids = self
            .append_checked(vec![row.clone()], Some((intent, latest)))
            .await?;
        Ok(ids.map(|ids| ids[0]))
    }

    /// Appends `rows` in one transaction; with `check = (intent, latest)`, only while record
    /// `latest` is the intent's latest (`None`: nothing written).
    async fn append_checked(
        &self,
        rows: Vec<NewRevocation>,
        check: Option<(i64, i64)>,
    ) -> Result<Option<Vec<i64>>, Error> {
        if rows.is_empty() {
            return Ok(Some(Vec::new()));
        }
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        if let Some((intent, latest)) = check {
            let now: Option<i64> = sqlx::query_scalar(
                "SELECT MAX(id) FROM revocations WHERE id = ?1 OR intent_id = ?1",
            )
            .bind(intent)
            .fetch_one(&mut *tx)
            .await?;
            if now != Some(latest) {
                return Ok(None);
            }
        }
        let last: Option<(i64, String)> =
            sqlx::query_as("SELECT id, hash FROM revocations ORDER BY id DESC LIMIT 1")
                .fetch_optional(&mut *tx)
                .await?;
        let head: Option<(i64, String)> =
            sqlx::query_as("SELECT last_id, last_hash FROM audit_head WHERE id = 1")
                .fetch_optional(&mut *tx)
                .await?;
        if let Some(why) = end_mismatch(last.as_ref(), head.as_ref()) {
            return Err(Error::AuditBroken(why));
        }
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
        Ok(Some(ids))
    }

    /// Every audit row, in chain order.
    pub async fn revocations(&self) -> Result<Vec<AuditRow>, Error> {
        Ok(
            sqlx::query_as::<_, AuditRow>("SELECT * FROM revocations ORDER BY id")
                .fetch_all(&self.pool)
                .await?,
        )
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

/// Why the trail's last record (`last`) is not the one its head names, if it is not: an append
/// chained onto it would make a deleted tail, or a record added without an append, part of an
/// intact-looking chain.
fn end_mismatch(last: Option<&(i64, String)>, head: Option<&(i64, String)>) -> Option<String> {
    match (last, head) {
        (None, None) => None,
        // An empty trail whose head an append of nothing once wrote.
        (None, Some((0, _))) => None,
        (Some(last), Some(head)) if last == head => None,
        (Some((id, _)), Some((head_id, _))) if id == head_id => Some(format!(
            "record {id}'s hash differs from the one its head recorded"
        )),
        (Some((id, _)), Some((head_id, _))) => Some(format!(
            "the last record is {id}, but the head names record {head_id}"
        )),
        (None, Some((head_id, _))) => Some(format!(
            "the head names record {head_id}, but no record is left"
        )),
        (Some((id, _)), None) => Some(format!("record {id} is there, but the head is missing")),
    }
}

#[cfg(test)]
#[path = "tests_audit.rs"]
pub(super) mod tests;

#[cfg(test)]
#[path = "tests_audit_head.rs"]
mod tests_audit_head;

#[cfg(test)]
#[path = "tests_audit_latest.rs"]
mod tests_audit_latest;
