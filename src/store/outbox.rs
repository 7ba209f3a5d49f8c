//! The notification outbox (`notify_outbox`) and its deliveries (`notify_deliveries`). Events
//! are inserted inside the transaction of what causes them ([`insert_event`]), at most once
//! per kind and subject. The daemon routes each new event to the receivers configured then
//! (one delivery row each), claims due deliveries under a lease, and records each attempt.
//! SQL only: no HTTP, no rendering, no receiver URL or secret.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::SqliteConnection;

use super::{AuditRow, DeliveryState, Error, Store, ts};
use crate::config::EventKind;

/// An event to put in the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub kind: EventKind,
    /// What it is about (`sweep:12`): a second event of the same kind and subject is dropped.
    pub subject: String,
    pub occurred_at: String,
    /// The facts, as a JSON object.
    pub details: Value,
}

impl NewEvent {
    /// A sweep closed `failed`.
    pub fn sweep_failed(
        sweep: i64,
        trigger: &str,
        mode: &str,
        error: Option<&str>,
        at: &str,
    ) -> Self {
        NewEvent::new(
            EventKind::SweepFailed,
            format!("sweep:{sweep}"),
            at,
            json!({ "sweep_id": sweep, "trigger": trigger, "mode": mode, "error": error }),
        )
    }

    /// A sweep whose blast-radius guard tripped, saying why.
    pub fn guard_tripped(sweep: i64, trigger: &str, mode: &str, reason: &str, at: &str) -> Self {
        NewEvent::new(
            EventKind::GuardTripped,
            format!("sweep:{sweep}"),
            at,
            json!({ "sweep_id": sweep, "trigger": trigger, "mode": mode, "reason": reason }),
        )
    }

    /// A revocation recorded `irrevocable` (one event per intent, however often retried).
    pub fn irrevocable(row: &AuditRow) -> Self {
        let intent = row.intent_id.unwrap_or(row.id);
        NewEvent::new(
            EventKind::Irrevocable,
            format!("revocation:{intent}"),
            &row.requested_at,
            json!({
                "revocation_id": row.id, "intent_id": intent, "token_id": row.token_id,
                "user_id": row.user_id, "client_id": row.client_id, "trigger": row.trigger,
                "policy": row.policy, "attempts": row.attempts, "http_status": row.http_status,
                "okta_request_id": row.okta_request_id, "error": row.error,
                "sweep_id": row.sweep_id, "job_id": row.job_id,
            }),
        )
        .at(row.completed_at.as_deref())
    }

    /// An offboarding job that failed for good.
    pub fn offboarding_failed(job: &JobFacts, error: Option<&str>, at: &str) -> Self {
        NewEvent::new(
            EventKind::OffboardingFailed,
            format!("job:{}", job.id),
            at,
            json!({ "job_id": job.id, "user_id": job.user_id, "source": job.source,
                    "attempts": job.attempts, "error": error }),
        )
    }

    /// An automatic offboarding job held by `safety.max_offboarded_users_per_hour`.
    pub fn offboarding_held(job: &JobFacts, reason: &str, at: &str) -> Self {
        NewEvent::new(
            EventKind::OffboardingHeld,
            format!("job:{}", job.id),
            at,
            json!({ "job_id": job.id, "user_id": job.user_id, "source": job.source,
                    "reason": reason }),
        )
    }

    /// The audit chain breaks at record `id`.
    pub fn audit_broken(id: i64, problem: &str, at: &str) -> Self {
        NewEvent::new(
            EventKind::AuditBroken,
            format!("audit:{id}"),
            at,
            json!({ "record_id": id, "problem": problem }),
        )
    }

    fn new(kind: EventKind, subject: String, at: &str, details: Value) -> Self {
        NewEvent {
            kind,
            subject,
            occurred_at: at.to_owned(),
            details,
        }
    }

    fn at(mut self, at: Option<&str>) -> Self {
        if let Some(at) = at {
            at.clone_into(&mut self.occurred_at);
        }
        self
    }
}

/// What an offboarding event says about its job.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct JobFacts {
    pub id: i64,
    pub user_id: String,
    pub source: String,
    pub attempts: i64,
}

/// Puts `event` in the outbox on `conn` (inside the caller's transaction). Returns whether it
/// is new (an event of the same kind and subject makes no second one).
pub async fn insert_event(conn: &mut SqliteConnection, event: &NewEvent) -> Result<bool, Error> {
    let done = sqlx::query(
        "INSERT INTO notify_outbox (kind, subject, occurred_at, details) VALUES (?, ?, ?, ?)
         ON CONFLICT (kind, subject) DO NOTHING",
    )
    .bind(event.kind)
    .bind(&event.subject)
    .bind(&event.occurred_at)
    .bind(event.details.to_string())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A `notify_outbox` row.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OutboxRow {
    pub id: i64,
    pub event_id: String,
    pub kind: String,
    pub subject: String,
    pub occurred_at: String,
    pub details: String,
    pub routed_at: Option<String>,
}

/// A `notify_deliveries` row.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DeliveryRow {
    pub outbox_id: i64,
    pub receiver: String,
    pub state: String,
    pub attempts: i64,
    pub next_attempt_at: String,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
    pub delivered_at: Option<String>,
}

/// A delivery claimed for one attempt: the event, and which attempt this is.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub event: OutboxRow,
    pub receiver: String,
    pub attempt: i64,
}

fn later(now: DateTime<Utc>, wait: Duration) -> String {
    ts(now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX))
}

impl Store {
    /// Puts `event` in the outbox in a transaction of its own; see [`insert_event`].
    pub async fn enqueue_event(&self, event: &NewEvent) -> Result<bool, Error> {
        let mut tx = self.pool.begin().await?;
        let new = insert_event(&mut tx, event).await?;
        tx.commit().await?;
        Ok(new)
    }

    /// Gives each event not yet routed one delivery per receiver in `receivers` (its name and
    /// the kinds it wants), due at once, and marks it routed. Returns how many events.
    pub async fn route_events(
        &self,
        receivers: &[(&str, &[EventKind])],
        now: DateTime<Utc>,
    ) -> Result<usize, Error> {
        // Only kinds this version knows: an event a newer version wrote (to a shared database)
        // waits for a version that routes it, and never holds up the events after it.
        let known = serde_json::to_string(&EventKind::ALL.map(EventKind::as_str))
            .map_err(|e| sqlx::Error::Encode(e.into()))?;
        let unrouted = "FROM notify_outbox WHERE routed_at IS NULL
                          AND kind IN (SELECT value FROM json_each(?))";
        // Most calls find nothing: they need no write lock.
        let any: bool = sqlx::query_scalar(&format!("SELECT EXISTS (SELECT 1 {unrouted})"))
            .bind(&known)
            .fetch_one(&self.pool)
            .await?;
        if !any {
            return Ok(0);
        }
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let fresh: Vec<(i64, String)> =
            sqlx::query_as(&format!("SELECT id, kind {unrouted} ORDER BY id LIMIT 500"))
                .bind(&known)
                .fetch_all(&mut *tx)
                .await?;
        let at = ts(now);
        for (id, kind) in &fresh {
            let Some(kind) = EventKind::parse(kind) else {
                continue;
            };
            for (name, wants) in receivers {
                if wants.contains(&kind) {
                    sqlx::query(
                        "INSERT INTO notify_deliveries (outbox_id, receiver, next_attempt_at)
                         VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                    )
                    .bind(id)
                    .bind(name)
                    .bind(&at)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            sqlx::query("UPDATE notify_outbox SET routed_at = ? WHERE id = ?")
                .bind(&at)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(fresh.len())
    }

    /// Claims the oldest due pending delivery of `receiver` for one attempt: attempts + 1,
    /// and not due again before `lease` has passed (so a process that dies mid-attempt leaves
    /// it to be retried, and no other process sends it meanwhile).
    pub async fn claim_delivery(
        &self,
        receiver: &str,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<Option<Claimed>, Error> {
        let claimed: Option<(i64, i64)> = sqlx::query_as(
            "UPDATE notify_deliveries SET attempts = attempts + 1, next_attempt_at = ?1
             WHERE rowid = (SELECT rowid FROM notify_deliveries WHERE state = ?4
                            AND receiver = ?2 AND next_attempt_at <= ?3
                            ORDER BY outbox_id LIMIT 1)
             RETURNING outbox_id, attempts",
        )
        .bind(later(now, lease))
        .bind(receiver)
        .bind(ts(now))
        .bind(DeliveryState::Pending)
        .fetch_optional(&self.pool)
        .await?;
        let Some((outbox_id, attempt)) = claimed else {
            return Ok(None);
        };
        let event = sqlx::query_as::<_, OutboxRow>("SELECT * FROM notify_outbox WHERE id = ?")
            .bind(outbox_id)
            .fetch_one(&self.pool)
            .await?;
        Ok(Some(Claimed {
            event,
            receiver: receiver.to_owned(),
            attempt,
        }))
    }

    /// Records an attempt the receiver accepted (2xx): the delivery is done.
    pub async fn delivery_succeeded(
        &self,
        claimed: &Claimed,
        status: u16,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        sqlx::query(
            "UPDATE notify_deliveries SET state = ?, delivered_at = ?, last_status = ?,
                last_error = NULL WHERE outbox_id = ? AND receiver = ?",
        )
        .bind(DeliveryState::Delivered)
        .bind(ts(now))
        .bind(i64::from(status))
        .bind(claimed.event.id)
        .bind(&claimed.receiver)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records a failed attempt: retried after `retry_in`, or given up (`failed`) with `None`.
    pub async fn delivery_failed(
        &self,
        claimed: &Claimed,
        status: Option<u16>,
        error: &str,
        retry_in: Option<Duration>,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        let (state, next) = match retry_in {
            Some(wait) => (DeliveryState::Pending, later(now, wait)),
            None => (DeliveryState::Failed, ts(now)),
        };
        sqlx::query(
            "UPDATE notify_deliveries SET state = ?, next_attempt_at = ?, last_status = ?,
                last_error = ? WHERE outbox_id = ? AND receiver = ? AND state = ?",
        )
        .bind(state)
        .bind(next)
        .bind(status.map(i64::from))
        .bind(error)
        .bind(claimed.event.id)
        .bind(&claimed.receiver)
        // Given up meanwhile (its receiver removed by a reload): it stays given up.
        .bind(DeliveryState::Pending)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Gives up the pending deliveries to receivers no longer configured (removed or renamed
    /// by a reload): no process would ever attempt them. Returns each receiver's count.
    pub async fn fail_unconfigured_deliveries(
        &self,
        configured: &[&str],
        now: DateTime<Utc>,
    ) -> Result<Vec<(String, i64)>, Error> {
        let names = serde_json::to_string(configured).unwrap_or_else(|_| "[]".into());
        let failed: Vec<(String,)> = sqlx::query_as(
            "UPDATE notify_deliveries SET state = ?, next_attempt_at = ?,
                last_error = 'the receiver is no longer configured'
             WHERE state = ? AND receiver NOT IN (SELECT value FROM json_each(?))
             RETURNING receiver",
        )
        .bind(DeliveryState::Failed)
        .bind(ts(now))
        .bind(DeliveryState::Pending)
        .bind(names)
        .fetch_all(&self.pool)
        .await?;
        Ok(tally(failed))
    }

    /// When the earliest pending delivery of `receiver` comes due.
    pub async fn next_delivery_due(&self, receiver: &str) -> Result<Option<String>, Error> {
        Ok(sqlx::query_scalar(
            "SELECT MIN(next_attempt_at) FROM notify_deliveries
             WHERE state = ? AND receiver = ?",
        )
        .bind(DeliveryState::Pending)
        .bind(receiver)
        .fetch_one(&self.pool)
        .await?)
    }

    /// Every event in the outbox, oldest first.
    pub async fn outbox(&self) -> Result<Vec<OutboxRow>, Error> {
        Ok(
            sqlx::query_as::<_, OutboxRow>("SELECT * FROM notify_outbox ORDER BY id")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// Every delivery, by event then receiver.
    pub async fn deliveries(&self) -> Result<Vec<DeliveryRow>, Error> {
        Ok(sqlx::query_as::<_, DeliveryRow>(
            "SELECT * FROM notify_deliveries ORDER BY outbox_id, receiver",
        )
        .fetch_all(&self.pool)
        .await?)
    }
}

/// How many of `rows` name each receiver, in the order each first appears.
pub(super) fn tally(rows: Vec<(String,)>) -> Vec<(String, i64)> {
    let mut counts: Vec<(String, i64)> = Vec::new();
    for (receiver,) in rows {
        match counts.iter_mut().find(|(r, _)| *r == receiver) {
            Some((_, n)) => *n += 1,
            None => counts.push((receiver, 1)),
        }
    }
    counts
}
