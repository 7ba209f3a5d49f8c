//! `revokd report overview`: one self-contained page with the pictures the tables of the other
//! reports hold — active tokens by client and age band and by scope risk, revocations over time
//! and by rule and outcome, exposure per age rule, and the open problems (failed and
//! irrevocable revocations, held or failed offboarding, the last sweeps, the audit chain).
//! [`build`] reads the numbers ([`Overview`]), which render as JSON ([`to_json`]) or as HTML
//! with inline SVG charts ([`to_html`]); both show the same numbers, each named with the view
//! it comes from ([`SOURCES`]).
//!
//! Owns: the overview's data, its charts and its page. Must not: talk to Okta or write to the
//! database; load anything at view time (no scripts, fonts or styles from elsewhere).

mod charts;
mod data;
mod page;
mod palette;
mod problems;

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::Serialize;

pub use charts::ChartError;
pub use data::{
    AuditStatus, ClientAge, ClientRisk, DayOutcome, OffboardingProblem, PolicyOutcome,
    RECENT_SWEEPS, RevocationProblem, RuleExposure, SweepLine,
};

use super::{Error, write_atomic};
use crate::config::Config;
use crate::store::{Store, ts};

/// Output format of the overview.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OverviewFormat {
    /// One self-contained HTML page with inline SVG charts (opens offline, prints to PDF).
    Html,
    /// The same numbers as one JSON object.
    Json,
}

/// Which view (or table) each figure of the overview comes from, by its JSON key.
pub const SOURCES: &[(&str, &str)] = &[
    ("tokens_by_client_age", "v_active_tokens_by_client_age"),
    ("tokens_by_scope_risk", "v_active_tokens_by_scope_risk"),
    (
        "revocations_by_day",
        "v_revocations_daily (with --since: v_revocation_log from that instant, by UTC day)",
    ),
    (
        "tokens_revoked",
        "v_revocation_log: done or already_gone, with a token id (from --since)",
    ),
    (
        "revocations_by_policy",
        "v_revocation_policies (intents naming no rule: v_revocation_log, by trigger)",
    ),
    (
        "exposure_by_rule",
        "v_active_tokens, decided with the configured rules (as revokd report exposure)",
    ),
    ("revocation_problems", "v_revocation_problems"),
    ("offboarding_problems", "v_offboarding_problems"),
    ("recent_sweeps", "v_sweep_log"),
    (
        "audit",
        "audit_head, and the revocations chain walked as revokd audit verify does",
    ),
];

/// Every number of the overview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Overview {
    /// When the overview was taken (ISO-8601 UTC).
    pub generated_at: String,
    /// The window's start for revocations and sweeps (`--since`), if any.
    pub since: Option<String>,
    pub tokens_by_client_age: Vec<ClientAge>,
    pub tokens_by_scope_risk: Vec<ClientRisk>,
    pub revocations_by_day: Vec<DayOutcome>,
    /// Token revocations requested in the window that took effect (`done`, `already_gone`);
    /// an offboarding's revoke-all of a pair (no token id) is an intent, not a token.
    pub tokens_revoked: i64,
    pub revocations_by_policy: Vec<PolicyOutcome>,
    pub exposure_by_rule: Vec<RuleExposure>,
    pub revocation_problems: Vec<RevocationProblem>,
    pub offboarding_problems: Vec<OffboardingProblem>,
    /// The last [`RECENT_SWEEPS`] sweeps (in the window), newest first.
    pub recent_sweeps: Vec<SweepLine>,
    pub audit: AuditStatus,
    /// [`SOURCES`]: JSON key → view.
    pub sources: std::collections::BTreeMap<&'static str, &'static str>,
}

/// Reads the overview from the database: tokens as they are now, revocations and sweeps
/// requested or started at or after `since` (all when `None`), problems and the audit chain
/// as they stand. Rules are decided with `config`'s policies at `now`.
pub async fn build(
    store: &Store,
    config: &Config,
    since: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<Overview, Error> {
    let pool = store.pool();
    Ok(Overview {
        generated_at: ts(now),
        since: since.map(ts),
        tokens_by_client_age: data::client_ages(pool).await?,
        tokens_by_scope_risk: data::client_risks(pool).await?,
        revocations_by_day: data::daily(pool, since).await?,
        tokens_revoked: data::tokens_revoked(pool, since).await?,
        revocations_by_policy: data::by_policy(pool, since).await?,
        exposure_by_rule: exposure(store, config, now).await?,
        revocation_problems: data::revocation_problems(pool).await?,
        offboarding_problems: data::offboarding_problems(pool).await?,
        recent_sweeps: data::recent_sweeps(pool, since).await?,
        audit: data::audit(store).await?,
        sources: SOURCES.iter().copied().collect(),
    })
}

/// Per rule with `older_than`, in configuration order: active tokens older than its threshold
/// (strictly, as the rule reads it), and those the whole rule matches.
async fn exposure(
    store: &Store,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<Vec<RuleExposure>, Error> {
    let (age_rules, tokens) = super::inventory::ages_and_rules(store.pool(), config, now).await?;
    let mut out = Vec::new();
    for (policy, threshold) in age_rules {
        let older = tokens
            .iter()
            .filter(|(age, _)| age.is_some_and(|a| a > threshold))
            .count();
        let matched = tokens
            .iter()
            .filter(|(_, rules)| rules.contains(&policy))
            .count();
        out.push(RuleExposure {
            older_than_days: threshold.num_days(),
            older_than: crate::config::duration::format(threshold.to_std().unwrap_or_default()),
            policy,
            older_than_threshold: i64::try_from(older).unwrap_or(i64::MAX),
            matched_by_rule: i64::try_from(matched).unwrap_or(i64::MAX),
        });
    }
    Ok(out)
}

/// The overview as pretty-printed JSON (the same numbers as the page), with a final newline.
pub fn to_json(overview: &Overview) -> String {
    let mut text = serde_json::to_string_pretty(overview).unwrap_or_else(|_| "{}".to_owned());
    text.push('\n');
    text
}

/// The overview as one self-contained HTML page.
pub fn to_html(overview: &Overview) -> Result<String, Error> {
    Ok(page::render(overview)?)
}

/// Renders `overview` in `format`.
pub fn render_overview(overview: &Overview, format: OverviewFormat) -> Result<String, Error> {
    match format {
        OverviewFormat::Html => to_html(overview),
        OverviewFormat::Json => Ok(to_json(overview)),
    }
}

/// `overview-20261129T220000Z.html`.
pub fn scheduled_overview_name(now: DateTime<Utc>) -> String {
    format!("overview-{}.html", now.format("%Y%m%dT%H%M%SZ"))
}

/// Writes the HTML overview as of `now` (whole history) into `config.reports.dir` (created if
/// missing), atomically: what the daemon's `[schedule] report` job writes beside the CSV
/// reports. Returns the path written.
pub async fn write_scheduled_overview(
    store: &Store,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<PathBuf, Error> {
    let dir = &config.reports.dir;
    std::fs::create_dir_all(dir).map_err(|source| Error::Io {
        path: dir.display().to_string(),
        source,
    })?;
    let html = to_html(&build(store, config, None, now).await?)?;
    let path = dir.join(scheduled_overview_name(now));
    write_atomic(&path, html.as_bytes()).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })?;
    Ok(path)
}
