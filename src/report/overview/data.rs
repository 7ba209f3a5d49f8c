//! The numbers of the overview, read from the views of
//! `migrations/20261209000000_create_overview_views.sql` and the earlier report views. One
//! query per figure, each naming its view in [`Overview::sources`]; SQL only, apart from the
//! per-rule exposure, which is decided by the configured policies like `revokd report exposure`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::SqlitePool;

use crate::report::Error;
use crate::store::{RevocationState, Store, ts};

/// `v_active_tokens_by_client_age`: active tokens of one client in one age band.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct ClientAge {
    pub client_id: String,
    pub age_band: String,
    pub tokens: i64,
}

/// `v_active_tokens_by_scope_risk`: active tokens of one client at one risk level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct ClientRisk {
    pub client_id: String,
    pub risk: String,
    pub tokens: i64,
}

/// `v_revocations_daily`'s rows: revocation intents requested on one UTC day, by latest state
/// (from `--since`'s instant on).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct DayOutcome {
    pub day: String,
    pub state: String,
    pub intents: i64,
}

/// `v_revocation_policies` (and, for intents naming no rule, `v_revocation_log` by trigger):
/// intents naming one rule, by latest state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct PolicyOutcome {
    pub policy: String,
    pub state: String,
    pub intents: i64,
}

/// Per configured rule with `older_than`: active tokens older than its threshold, and those
/// of them the whole rule matches now (still active: exempt, flagged, planned or not yet
/// revoked).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleExposure {
    pub policy: String,
    /// The rule's `older_than`, in whole days (cut: see `older_than`).
    pub older_than_days: i64,
    /// The rule's `older_than` as configuration writes it (`7d`, `1d 12h`).
    pub older_than: String,
    pub older_than_threshold: i64,
    pub matched_by_rule: i64,
}

/// `v_revocation_problems`: an intent that is `failed` or `irrevocable` now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct RevocationProblem {
    pub intent_id: i64,
    pub requested_at: String,
    pub token_id: Option<String>,
    pub user_id: String,
    pub client_id: String,
    pub policy: Option<String>,
    pub state: String,
    pub attempts: i64,
    pub http_status: Option<i64>,
    pub okta_request_id: Option<String>,
    pub error: Option<String>,
}

/// `v_offboarding_problems`: an offboarding job `held` or `failed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct OffboardingProblem {
    pub id: i64,
    pub user_id: String,
    pub source: String,
    pub state: String,
    pub created_at: String,
    pub attempts: i64,
    pub error: Option<String>,
}

/// `v_sweep_log`: one sweep.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct SweepLine {
    pub sweep_id: i64,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub duration_ms: Option<i64>,
    pub trigger: String,
    pub mode: String,
    pub status: String,
    pub tokens_seen: i64,
    pub revocations_done: i64,
    pub revocations_failed: i64,
    pub http_429: i64,
    pub error: Option<String>,
}

/// The audit chain: its head (`audit_head`) and whether walking `revocations` verifies it
/// (what `revokd audit verify` does).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditStatus {
    pub head_id: Option<i64>,
    pub head_hash: Option<String>,
    pub verified: bool,
    /// Records walked when whole.
    pub records: Option<u64>,
    /// The first broken record and why, when broken.
    pub broken_at: Option<i64>,
    pub problem: Option<String>,
}

/// How many sweeps the overview lists.
pub const RECENT_SWEEPS: i64 = 10;

pub(super) async fn client_ages(pool: &SqlitePool) -> Result<Vec<ClientAge>, Error> {
    Ok(sqlx::query_as(
        "SELECT client_id, age_band, tokens FROM v_active_tokens_by_client_age
         ORDER BY client_id, age_band",
    )
    .fetch_all(pool)
    .await?)
}

pub(super) async fn client_risks(pool: &SqlitePool) -> Result<Vec<ClientRisk>, Error> {
    Ok(sqlx::query_as(
        "SELECT client_id, risk, tokens FROM v_active_tokens_by_scope_risk
         ORDER BY client_id, risk",
    )
    .fetch_all(pool)
    .await?)
}

pub(super) async fn daily(
    pool: &SqlitePool,
    since: Option<DateTime<Utc>>,
) -> Result<Vec<DayOutcome>, Error> {
    // The rows of `v_revocations_daily`, from `since`'s instant rather than its whole day.
    let since = since.map_or_else(String::new, ts);
    Ok(sqlx::query_as(
        "SELECT substr(requested_at, 1, 10) AS day, state, COUNT(*) AS intents
         FROM v_revocation_log WHERE requested_at >= ? GROUP BY 1, 2 ORDER BY 1, 2",
    )
    .bind(since)
    .fetch_all(pool)
    .await?)
}

/// Token revocations requested at or after `since` that took effect.
pub(super) async fn tokens_revoked(
    pool: &SqlitePool,
    since: Option<DateTime<Utc>>,
) -> Result<i64, Error> {
    let since = since.map_or_else(String::new, ts);
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM v_revocation_log
         WHERE requested_at >= ? AND token_id IS NOT NULL AND state IN (?, ?)",
    )
    .bind(since)
    .bind(RevocationState::Done)
    .bind(RevocationState::AlreadyGone)
    .fetch_one(pool)
    .await?)
}

pub(super) async fn by_policy(
    pool: &SqlitePool,
    since: Option<DateTime<Utc>>,
) -> Result<Vec<PolicyOutcome>, Error> {
    let since = since.map_or_else(String::new, ts);
    Ok(sqlx::query_as(
        "SELECT policy, state, COUNT(*) AS intents FROM v_revocation_policies
         WHERE requested_at >= ?1 GROUP BY 1, 2
         UNION ALL
         SELECT '(' || trigger || ')', state, COUNT(*) FROM v_revocation_log
         WHERE requested_at >= ?1 AND COALESCE(policy, '') = '' GROUP BY 1, 2
         ORDER BY 1, 2",
    )
    .bind(since)
    .fetch_all(pool)
    .await?)
}

pub(super) async fn revocation_problems(
    pool: &SqlitePool,
) -> Result<Vec<RevocationProblem>, Error> {
    Ok(sqlx::query_as(
        "SELECT intent_id, requested_at, token_id, user_id, client_id, policy, state, attempts,
                http_status, okta_request_id, error
         FROM v_revocation_problems ORDER BY intent_id DESC",
    )
    .fetch_all(pool)
    .await?)
}

pub(super) async fn offboarding_problems(
    pool: &SqlitePool,
) -> Result<Vec<OffboardingProblem>, Error> {
    Ok(sqlx::query_as(
        "SELECT id, user_id, source, state, created_at, attempts, error
         FROM v_offboarding_problems ORDER BY id DESC",
    )
    .fetch_all(pool)
    .await?)
}

pub(super) async fn recent_sweeps(
    pool: &SqlitePool,
    since: Option<DateTime<Utc>>,
) -> Result<Vec<SweepLine>, Error> {
    let since = since.map_or_else(String::new, ts);
    Ok(sqlx::query_as(
        "SELECT sweep_id, started_at, finished_at, duration_ms, trigger, mode, status,
                tokens_seen, revocations_done, revocations_failed, http_429, error
         FROM v_sweep_log WHERE started_at >= ? ORDER BY sweep_id DESC LIMIT ?",
    )
    .bind(since)
    .bind(RECENT_SWEEPS)
    .fetch_all(pool)
    .await?)
}

pub(super) async fn audit(store: &Store) -> Result<AuditStatus, Error> {
    let head = store.audit_head().await?;
    let walked = store.verify_audit().await?;
    let (head_id, head_hash) = head.map_or((None, None), |(id, hash)| (Some(id), Some(hash)));
    Ok(match walked {
        Ok(records) => AuditStatus {
            head_id,
            head_hash,
            verified: true,
            records: Some(records),
            broken_at: None,
            problem: None,
        },
        Err(broken) => AuditStatus {
            head_id,
            head_hash,
            verified: false,
            records: None,
            broken_at: Some(broken.id),
            problem: Some(broken.problem),
        },
    })
}
