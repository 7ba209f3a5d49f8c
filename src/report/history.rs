//! The history reports over a window: `revocations` (one row per intent at its latest state,
//! from `v_revocation_log`), `policies` (per rule counts, the windowed `v_policy_summary`) and
//! `sweeps` (one row per pass). Windows are half-open, `[since, until)`.

use chrono::{DateTime, Utc};
use sqlx::SqlitePool;

use super::Error;
use super::query;
use super::table::{Cell, Table};

/// Columns of `revokd report revocations`.
pub const REVOCATION_COLUMNS: &[&str] = &[
    "requested_at",
    "completed_at",
    "intent_id",
    "token_id",
    "user_id",
    "client_id",
    "trigger",
    "policy",
    "reason",
    "mode",
    "state",
    "attempts",
    "http_status",
    "okta_request_id",
    "error",
    "sweep_id",
];

/// Columns of `revokd report policies`.
pub const POLICY_COLUMNS: &[&str] = &[
    "policy",
    "matched",
    "planned",
    "revoked",
    "failed",
    "exempted",
    "skipped_safety",
    "pending",
    "withdrawn",
];

/// Columns of `revokd report sweeps`.
pub const SWEEP_COLUMNS: &[&str] = &[
    "sweep_id",
    "started_at",
    "duration_ms",
    "trigger",
    "mode",
    "status",
    "targets_total",
    "targets_failed",
    "tokens_seen",
    "revocations_planned",
    "revocations_done",
    "revocations_failed",
    "http_requests",
    "http_429",
    "error",
];

/// `revocations` requested in the window.
pub(super) async fn revocations(
    pool: &SqlitePool,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
) -> Result<Table, Error> {
    let mut table = Table::new(REVOCATION_COLUMNS);
    for r in query::revocations(pool, since, until).await? {
        table.push(vec![
            r.requested_at.into(),
            r.completed_at.into(),
            r.intent_id.into(),
            r.token_id.into(),
            r.user_id.into(),
            r.client_id.into(),
            r.trigger.into(),
            r.policy.map_or(Cell::Null, Cell::StoredNames),
            r.reason.into(),
            r.mode.into(),
            r.state.into(),
            r.attempts.into(),
            r.http_status.into(),
            r.okta_request_id.into(),
            r.error.into(),
            r.sweep_id.into(),
        ]);
    }
    Ok(table)
}

/// `policies`: per rule, over the intents requested in the window.
pub(super) async fn policies(
    pool: &SqlitePool,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
) -> Result<Table, Error> {
    let mut table = Table::new(POLICY_COLUMNS);
    for p in query::policy_summary(pool, since, until).await? {
        table.push(vec![
            p.policy.into(),
            p.matched.into(),
            p.planned.into(),
            p.revoked.into(),
            p.failed.into(),
            p.exempted.into(),
            p.skipped_safety.into(),
            p.pending.into(),
            p.withdrawn.into(),
        ]);
    }
    Ok(table)
}

fn duration_ms(started: &str, finished: Option<&str>) -> Cell {
    let parse = |t: &str| DateTime::parse_from_rfc3339(t).ok();
    match (parse(started), finished.and_then(parse)) {
        (Some(s), Some(f)) => Cell::Int((f - s).num_milliseconds()),
        _ => Cell::Null,
    }
}

/// `sweeps` started in the window.
pub(super) async fn sweeps(
    pool: &SqlitePool,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
) -> Result<Table, Error> {
    let mut table = Table::new(SWEEP_COLUMNS);
    for s in query::sweeps(pool, since, until).await? {
        let duration = duration_ms(&s.started_at, s.finished_at.as_deref());
        table.push(vec![
            s.id.into(),
            s.started_at.into(),
            duration,
            s.trigger.into(),
            s.mode.into(),
            s.status.into(),
            s.targets_total.into(),
            s.targets_failed.into(),
            s.tokens_seen.into(),
            s.revocations_planned.into(),
            s.revocations_done.into(),
            s.revocations_failed.into(),
            s.http_requests.into(),
            s.http_429.into(),
            s.error.into(),
        ]);
    }
    Ok(table)
}
