//! Unchanged listings against the simulated org: a pair whose pages hash as its fingerprint
//! says is neither read nor written, and decides what it decided; everything that could make
//! that untrue reads the pair whole again (a changed page, time crossing a rule's threshold, a
//! revocation, a sweep whose plan was not recorded), but not a threshold crossed under a rule
//! that cannot match, and an unchanged sweep's tripped guard still records every plan.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use revokd::config::{Mode, PolicyConfig};
use revokd::policy::PolicySet;
use revokd::store::SweepStatus;
use revokd::sweep::{SweepReport, run_once};

use crate::helpers::{TestApp, admin_policy, admin_policy_selects, small_org, spawn_app_with};

async fn scalar(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(app.store.pool())
        .await
        .expect("query")
}

/// Pairs whose fingerprint sweep `sweep_id` wrote (it read them token by token).
async fn read_by(app: &TestApp, sweep_id: i64) -> i64 {
    let sql = format!("SELECT COUNT(*) FROM pair_listings WHERE sweep_id = {sweep_id}");
    scalar(app, &sql).await
}

async fn records_in(app: &TestApp, state: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) FROM revocations WHERE state = '{state}'");
    scalar(app, &sql).await
}

/// The tokens sweep `sweep_id` recorded a `planned` revocation of.
async fn planned_by(app: &TestApp, sweep_id: i64) -> Vec<String> {
    sqlx::query_scalar("SELECT token_id FROM revocations WHERE state = 'planned' AND sweep_id = ?")
        .bind(sweep_id)
        .fetch_all(app.store.pool())
        .await
        .expect("planned")
}

async fn sweep_at(app: &TestApp, mode: Mode, now: DateTime<Utc>) -> SweepReport {
    run_once(&app.deps, &app.plan(mode), now)
        .await
        .expect("the database does not fail")
}

#[tokio::test]
async fn an_unchanged_sweep_writes_no_token_and_counts_what_the_first_counted() {
    let app = spawn_app_with(small_org(), |c| c.policies = vec![admin_policy()]).await;
    let pairs = app.org.pairs().len() as i64;
    let first = app.sweep(Mode::DryRun).await;
    assert_eq!(first.status, SweepStatus::Ok);
    assert!(first.counts.revocations_planned > 0);
    assert_eq!(
        read_by(&app, first.sweep_id).await,
        pairs,
        "every pair read"
    );
    let audit = scalar(&app, "SELECT COUNT(*) FROM revocations").await;

    let second = app.sweep(Mode::DryRun).await;
    assert_eq!(second.status, SweepStatus::Ok);
    assert_eq!(read_by(&app, second.sweep_id).await, 0, "no pair read");
    assert_eq!(second.counts.tokens_seen, first.counts.tokens_seen);
    assert_eq!(second.active_seen, first.active_seen);
    assert_eq!(
        second.counts.revocations_planned,
        first.counts.revocations_planned
    );
    assert_eq!(second.policies, first.policies);
    assert_eq!(
        scalar(&app, "SELECT COUNT(*) FROM revocations").await,
        audit
    );
    let since = format!(
        "(SELECT started_at FROM sweeps WHERE id = {})",
        second.sweep_id
    );
    let written = format!("SELECT COUNT(*) FROM token_state WHERE last_seen_at >= {since}");
    assert_eq!(scalar(&app, &written).await, 0, "no token row written");
    let seen = format!("SELECT COUNT(*) FROM tokens WHERE last_seen_at >= {since}");
    assert_eq!(
        scalar(&app, &seen).await,
        first.counts.tokens_seen as i64,
        "yet every token reads as seen by the second sweep"
    );
}

#[tokio::test]
async fn a_changed_page_reads_its_pair_alone_and_a_token_gone_keeps_its_last_sighting() {
    let app = spawn_app_with(small_org(), |c| c.policies = vec![admin_policy()]).await;
    let first = app.sweep(Mode::DryRun).await;
    let second = app.sweep(Mode::DryRun).await;
    assert_eq!(read_by(&app, second.sweep_id).await, 0);
    let seen_second: String =
        sqlx::query_scalar("SELECT max(seen_at) FROM pair_listings WHERE seen_at IS NOT NULL")
            .fetch_one(app.store.pool())
            .await
            .expect("seen");

    let (user, client) = app.big_pair();
    let gone = app.org.tokens(&user, &client)[5].clone();
    app.delete_through_api(&user, &client, &gone.id).await;
    let third = app.sweep(Mode::DryRun).await;
    assert_eq!(third.status, SweepStatus::Ok);
    assert_eq!(read_by(&app, third.sweep_id).await, 1, "the big pair alone");
    assert_eq!(
        read_by(&app, first.sweep_id).await,
        app.org.pairs().len() as i64 - 1
    );
    assert_eq!(
        third.counts.tokens_seen + 1,
        first.counts.tokens_seen,
        "counts add what was read to what stood"
    );
    let (gone_at, last_seen): (Option<String>, String) =
        sqlx::query_as("SELECT gone_at, last_seen_at FROM tokens WHERE token_id = ?")
            .bind(&gone.id)
            .fetch_one(app.store.pool())
            .await
            .expect("the gone token");
    assert!(gone_at.is_some());
    assert_eq!(
        last_seen, seen_second,
        "last seen by the unchanged listing of the second sweep"
    );
    app.assert_pairs_stored(None).await;
}

/// A rule that selects tokens idle for `days`.
fn idle(days: i64) -> PolicyConfig {
    PolicyConfig {
        name: "idle".into(),
        idle_for: Some(Duration::from_secs(days as u64 * 86_400)),
        ..PolicyConfig::default()
    }
}

#[tokio::test]
async fn a_decision_that_time_changes_is_taken_again() {
    let mut app = spawn_app_with(small_org(), |_| {}).await;
    // The token idle the longest becomes idle for 30 days between the two sweeps.
    let oldest = (app.org.all_tokens().into_iter())
        .min_by_key(|t| t.last_updated)
        .expect("tokens");
    let crossing = oldest.last_updated + TimeDelta::days(30);
    let set = PolicySet::from_config(&[idle(30)], &[]).expect("valid rule");
    app.deps.policies = Arc::new(set);
    let before = crossing - TimeDelta::hours(1);
    let first = sweep_at(&app, Mode::DryRun, before).await;
    assert_eq!(first.counts.revocations_planned, 0);
    let second = sweep_at(&app, Mode::DryRun, before + TimeDelta::minutes(1)).await;
    assert_eq!(
        read_by(&app, second.sweep_id).await,
        0,
        "nothing crossed yet"
    );

    let after = crossing + TimeDelta::hours(1);
    let third = sweep_at(&app, Mode::DryRun, after).await;
    assert!(third.counts.revocations_planned >= 1);
    let planned = planned_by(&app, third.sweep_id).await;
    assert!(planned.contains(&oldest.id), "{planned:?}");
    assert_eq!(planned.len() as u64, third.counts.revocations_planned);
}

#[tokio::test]
async fn a_threshold_crossed_under_a_rule_of_several_conditions_is_taken_again() {
    let app = spawn_app_with(small_org(), |c| c.policies = vec![admin_policy()]).await;
    // `old-admin` (older than 180 days, scope `admin:write`) selects this token from an
    // instant between the two sweeps.
    let admin = (app.org.all_tokens().into_iter())
        .filter(|t| t.scopes.iter().any(|s| s == "admin:write"))
        .max_by_key(|t| t.created)
        .expect("an admin token");
    let crossing = admin.created + TimeDelta::days(180);
    let first = sweep_at(&app, Mode::DryRun, crossing - TimeDelta::hours(1)).await;
    let second = sweep_at(&app, Mode::DryRun, crossing + TimeDelta::hours(1)).await;
    let planned = planned_by(&app, second.sweep_id).await;
    assert!(planned.contains(&admin.id), "{planned:?}");
    assert_eq!(
        second.counts.revocations_planned,
        first.counts.revocations_planned + planned.len() as u64
    );
}

#[tokio::test]
async fn a_threshold_crossed_under_a_rule_that_cannot_match_reads_nothing() {
    let mut app = spawn_app_with(small_org(), |_| {}).await;
    let oldest = (app.org.all_tokens().into_iter())
        .min_by_key(|t| t.last_updated)
        .expect("tokens");
    let crossing = oldest.last_updated + TimeDelta::days(30);
    // Idle for 30 days, of a scope no token holds: the crossing changes no decision.
    let rule = PolicyConfig {
        scopes_any: vec!["revokd:held-by-none".into()],
        ..idle(30)
    };
    app.deps.policies = Arc::new(PolicySet::from_config(&[rule], &[]).expect("valid rule"));
    let before = crossing - TimeDelta::hours(1);
    let first = sweep_at(&app, Mode::DryRun, before).await;
    assert_eq!(
        read_by(&app, first.sweep_id).await,
        app.org.pairs().len() as i64
    );

    let second = sweep_at(&app, Mode::DryRun, crossing + TimeDelta::hours(1)).await;
    assert_eq!(second.status, SweepStatus::Ok);
    assert_eq!(read_by(&app, second.sweep_id).await, 0, "no pair read");
    assert_eq!(second.counts.tokens_seen, first.counts.tokens_seen);
    assert_eq!(second.counts.revocations_planned, 0);
}

#[tokio::test]
async fn a_revocation_clears_the_fingerprint_so_a_reappearance_is_seen() {
    let app = spawn_app_with(small_org(), |c| c.policies = vec![admin_policy()]).await;
    app.sweep(Mode::DryRun).await;
    let (user, client) = app.small_pair();
    let token = app.org.tokens(&user, &client)[0].clone();
    let cleared = "SELECT COUNT(*) FROM pair_listings WHERE pages IS NULL";
    // Moving `last_seen_at` alone keeps every fingerprint.
    sqlx::query("UPDATE token_state SET last_seen_at = last_seen_at || '' WHERE token_id = ?")
        .bind(&token.id)
        .execute(app.store.pool())
        .await
        .expect("touch");
    assert_eq!(scalar(&app, cleared).await, 0);
    sqlx::query("UPDATE token_state SET revoked_at = ?, revoked_by = 'revokd' WHERE token_id = ?")
        .bind(revokd::store::ts(Utc::now() - TimeDelta::minutes(5)))
        .bind(&token.id)
        .execute(app.store.pool())
        .await
        .expect("revoked");
    assert_eq!(scalar(&app, cleared).await, 1, "its pair's alone");

    let second = app.sweep(Mode::DryRun).await;
    assert_eq!(read_by(&app, second.sweep_id).await, 1);
    assert_eq!(second.counts.tokens_reappeared, 1);
}

#[tokio::test]
async fn a_tripped_guard_records_the_plans_of_unchanged_pairs_too() {
    let mut app = spawn_app_with(small_org(), |c| c.policies = vec![admin_policy()]).await;
    let selected = admin_policy_selects(&app.org, app.now).len() as i64;
    assert!(selected > 1);
    let first = app.sweep(Mode::DryRun).await;
    assert_eq!(records_in(&app, "planned").await, selected);

    app.deps.safety.max_revocations_per_sweep = 1;
    let second = app.sweep(Mode::DryRun).await;
    assert!(second.guard.is_some());
    assert_eq!(read_by(&app, second.sweep_id).await, 0);
    assert_eq!(
        second.counts.revocations_planned,
        first.counts.revocations_planned
    );
    assert_eq!(records_in(&app, "skipped_safety").await, selected);
}

#[tokio::test]
async fn a_sweep_whose_guard_tripped_leaves_no_fingerprint_to_trust() {
    let mut app = spawn_app_with(small_org(), |c| c.policies = vec![admin_policy()]).await;
    let selected = admin_policy_selects(&app.org, app.now).len() as i64;
    app.deps.safety.max_revocations_per_sweep = 1;
    let first = app.sweep(Mode::DryRun).await;
    assert!(first.guard.is_some());
    assert_eq!(records_in(&app, "planned").await, 0);

    app.deps.safety.max_revocations_per_sweep = u64::MAX;
    let second = app.sweep(Mode::DryRun).await;
    assert_eq!(second.status, SweepStatus::Ok);
    assert_eq!(
        read_by(&app, second.sweep_id).await,
        app.org.pairs().len() as i64,
        "every pair read again"
    );
    assert_eq!(records_in(&app, "planned").await, selected);
}

#[tokio::test]
async fn an_enforce_sweep_reads_the_pairs_it_has_revocations_for() {
    let app = spawn_app_with(small_org(), |c| c.policies = vec![admin_policy()]).await;
    let selected = admin_policy_selects(&app.org, app.now);
    app.sweep(Mode::DryRun).await;
    let enforce = app.sweep(Mode::Enforce).await;
    assert_eq!(enforce.counts.revocations_done, selected.len() as u64);
    for t in &selected {
        let left = app.org.tokens(&t.user_id, &t.client_id);
        assert!(left.iter().all(|l| l.id != t.id), "{} still in Okta", t.id);
    }
    // Enforced and listed again: nothing left to revoke, and the next sweep reads nothing.
    app.sweep(Mode::Enforce).await;
    let quiet = app.sweep(Mode::Enforce).await;
    assert_eq!(read_by(&app, quiet.sweep_id).await, 0);
    assert_eq!(quiet.counts.revocations_planned, 0);
}
