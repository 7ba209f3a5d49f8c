//! The SQL behind the reports: runtime `query_as` over the report views and tables, one
//! function per question. SQL only: no policy, no formatting.

use chrono::{DateTime, Utc};
use sqlx::SqlitePool;

use crate::store::{RevocationState, ts};

/// A token as the inventory lists it, now (`v_active_tokens`) or at a past instant (its
/// latest snapshot then).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TokenLine {
    pub token_id: String,
    pub user_id: String,
    pub client_id: String,
    /// JSON array of scope names.
    pub scopes: String,
    pub created_at: Option<String>,
    pub last_updated_at: Option<String>,
    pub expires_at: Option<String>,
    pub first_seen_at: String,
    pub last_seen_at: String,
    /// JSON array of the rules the sweep matched when it stored this token.
    pub policy_matches: String,
}

const ORDER: &str = " ORDER BY user_id, client_id, token_id";

/// The tokens active now, from `v_active_tokens`.
pub async fn active_tokens(pool: &SqlitePool) -> Result<Vec<TokenLine>, sqlx::Error> {
    sqlx::query_as::<_, TokenLine>(&format!(
        "SELECT token_id, user_id, client_id, scopes, created_at, last_updated_at, expires_at,
                first_seen_at, last_seen_at, policy_matches
         FROM v_active_tokens{ORDER}"
    ))
    .fetch_all(pool)
    .await
}

/// The tokens active at `at`: each token's latest snapshot at or before `at` (snapshots are a
/// change history: the latest is the record in force), when that snapshot says ACTIVE and the
/// token was not absent at `at` (`token_absences`: found gone and not yet back). A revocation
/// (`revoked_at`, or a `done`/`already_gone` revocation completed by then) opens an absence
/// when it is recorded, which ends when Okta lists the token again, so each of a token's
/// revocations and returns is read from its own interval. A revocation no absence holds (from
/// before absences were kept, or a crash between the two writes) counts from its instant
/// until the token's latest return (`reappeared_at`). `last_seen_at` is the token's last
/// sighting when that is before `at`, else the time of the snapshot in force.
pub async fn tokens_at(
    pool: &SqlitePool,
    at: DateTime<Utc>,
) -> Result<Vec<TokenLine>, sqlx::Error> {
    sqlx::query_as::<_, TokenLine>(&format!(
        "WITH latest AS (
             SELECT MAX(id) AS id FROM token_snapshots WHERE observed_at <= ?1 GROUP BY token_id
         )
         SELECT * FROM (
             SELECT t.token_id, t.user_id, t.client_id, s.scopes, t.created_at,
                    s.last_updated_at, s.expires_at, t.first_seen_at,
                    CASE WHEN t.last_seen_at <= ?1 THEN t.last_seen_at ELSE s.observed_at END
                        AS last_seen_at, t.policy_matches
             FROM latest l
             JOIN token_snapshots s ON s.id = l.id
             JOIN tokens t ON t.token_id = s.token_id
             WHERE COALESCE(s.status, 'ACTIVE') = 'ACTIVE'
               AND NOT EXISTS (
                   SELECT 1 FROM token_absences a
                   WHERE a.token_id = t.token_id AND a.gone_at <= ?1
                     AND (a.back_at IS NULL OR a.back_at > ?1))
               AND NOT EXISTS (
                   SELECT 1 FROM (
                       SELECT t.revoked_at AS at WHERE t.revoked_at IS NOT NULL
                       UNION ALL
                       SELECT r.completed_at FROM revocations r
                       WHERE r.token_id = t.token_id AND r.state IN (?2, ?3)
                   ) x
                   WHERE x.at <= ?1
                     AND NOT COALESCE(t.reappeared_at > x.at AND t.reappeared_at <= ?1, 0)
                     AND NOT EXISTS (
                         SELECT 1 FROM token_absences a
                         WHERE a.token_id = t.token_id AND a.gone_at <= x.at
                           AND (a.back_at IS NULL OR a.back_at > x.at)))
         ){ORDER}"
    ))
    .bind(ts(at))
    .bind(RevocationState::Done)
    .bind(RevocationState::AlreadyGone)
    .fetch_all(pool)
    .await
}

/// A `v_revocation_log` row: one revocation intent at its latest state.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RevocationLine {
    pub intent_id: i64,
    pub requested_at: String,
    pub completed_at: Option<String>,
    pub token_id: Option<String>,
    pub user_id: String,
    pub client_id: String,
    pub trigger: String,
    pub policy: Option<String>,
    pub reason: Option<String>,
    pub mode: String,
    pub state: String,
    pub attempts: i64,
    pub http_status: Option<i64>,
    pub okta_request_id: Option<String>,
    pub error: Option<String>,
    pub sweep_id: Option<i64>,
    pub job_id: Option<i64>,
}

/// Bounds of a report window on text timestamps; `None` is open.
fn window(since: Option<DateTime<Utc>>, until: Option<DateTime<Utc>>) -> (String, String) {
    // Every stored timestamp sorts between these two as text.
    (
        since.map_or_else(|| "0".to_owned(), ts),
        until.map_or_else(|| "\u{10FFFF}".to_owned(), ts),
    )
}

/// Revocation intents requested in `[since, until)`, oldest first.
pub async fn revocations(
    pool: &SqlitePool,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
) -> Result<Vec<RevocationLine>, sqlx::Error> {
    let (from, to) = window(since, until);
    sqlx::query_as::<_, RevocationLine>(
        "SELECT * FROM v_revocation_log WHERE requested_at >= ? AND requested_at < ?
         ORDER BY requested_at, intent_id",
    )
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await
}

/// A `v_policy_summary` row.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PolicyLine {
    pub policy: String,
    pub matched: i64,
    pub planned: i64,
    pub revoked: i64,
    pub failed: i64,
    pub exempted: i64,
    pub skipped_safety: i64,
    pub pending: i64,
    pub withdrawn: i64,
}

/// Per rule, over the intents requested in `[since, until)` (the aggregation of
/// `v_policy_summary`, restricted to the window), by rule name.
pub async fn policy_summary(
    pool: &SqlitePool,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
) -> Result<Vec<PolicyLine>, sqlx::Error> {
    let (from, to) = window(since, until);
    sqlx::query_as::<_, PolicyLine>(
        "SELECT policy,
                COUNT(*) AS matched,
                SUM(state = ?3) AS planned,
                SUM(state IN (?4, ?5)) AS revoked,
                SUM(state IN (?6, ?7)) AS failed,
                SUM(state = ?8) AS exempted,
                SUM(state = ?9) AS skipped_safety,
                SUM(state = ?10) AS pending,
                SUM(state = ?11) AS withdrawn
         FROM v_revocation_policies WHERE requested_at >= ?1 AND requested_at < ?2
         GROUP BY policy ORDER BY policy",
    )
    .bind(from)
    .bind(to)
    .bind(RevocationState::Planned)
    .bind(RevocationState::Done)
    .bind(RevocationState::AlreadyGone)
    .bind(RevocationState::Failed)
    .bind(RevocationState::Irrevocable)
    .bind(RevocationState::SkippedExempt)
    .bind(RevocationState::SkippedSafety)
    .bind(RevocationState::Pending)
    .bind(RevocationState::Withdrawn)
    .fetch_all(pool)
    .await
}

/// A `sweeps` row as the history shows it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SweepLine {
    pub id: i64,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub trigger: String,
    pub mode: String,
    pub status: String,
    pub targets_total: i64,
    pub targets_failed: i64,
    pub tokens_seen: i64,
    pub revocations_planned: i64,
    pub revocations_done: i64,
    pub revocations_failed: i64,
    pub http_requests: i64,
    pub http_429: i64,
    pub error: Option<String>,
}

/// Sweeps started in `[since, until)`, oldest first.
pub async fn sweeps(
    pool: &SqlitePool,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
) -> Result<Vec<SweepLine>, sqlx::Error> {
    let (from, to) = window(since, until);
    sqlx::query_as::<_, SweepLine>(
        "SELECT id, started_at, finished_at, trigger, mode, status, targets_total, targets_failed,
                tokens_seen, revocations_planned, revocations_done, revocations_failed,
                http_requests, http_429, error
         FROM sweeps WHERE started_at >= ? AND started_at < ? ORDER BY started_at, id",
    )
    .bind(from)
    .bind(to)
    .fetch_all(pool)
    .await
}

/// A `v_offboarded_users` row.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OffboardedLine {
    pub user_id: String,
    pub source: String,
    pub since: Option<String>,
}

/// Users known to be offboarded (`v_offboarded_users`), by user and source.
pub async fn offboarded_users(pool: &SqlitePool) -> Result<Vec<OffboardedLine>, sqlx::Error> {
    sqlx::query_as::<_, OffboardedLine>(
        "SELECT user_id, source, since FROM v_offboarded_users ORDER BY user_id, source",
    )
    .fetch_all(pool)
    .await
}
