//! Enforce revokes exactly what policy selects, dry-run revokes nothing, exemptions win, and
//! the blast-radius guard stops an oversized plan. Expectations are computed from the org's
//! own state with plain chrono, never through `revokd::policy`.

use std::collections::{BTreeMap, BTreeSet};

use revokd::config::{ExemptionConfig, Mode};
use revokd::sim::{RouteKind, SimConfig};
use revokd::store::{AuditRow, SweepStatus};

use crate::helpers::{
    TestApp, admin_policy, admin_policy_selects, sim_ids, small_org, spawn_app_with,
};

/// Audit rows grouped by token id, in append order.
async fn audit_by_token(app: &TestApp) -> BTreeMap<String, Vec<AuditRow>> {
    let mut by_token: BTreeMap<String, Vec<AuditRow>> = BTreeMap::new();
    for row in app.store.revocations().await.expect("audit rows") {
        let id = row.token_id.clone().expect("policy rows name a token");
        by_token.entry(id).or_default().push(row);
    }
    by_token
}

#[tokio::test]
async fn enforce_revokes_exactly_what_policy_selects_and_spares_exempt_users() {
    // Pick the exempt user from a first look at the same seeded org.
    let sim = SimConfig {
        big_pairs: 2,
        ..small_org()
    };
    let probe = spawn_app_with(sim.clone(), |_| {}).await;
    let selected = admin_policy_selects(&probe.org, probe.now);
    let mut per_user: BTreeMap<String, usize> = BTreeMap::new();
    for t in &selected {
        *per_user.entry(t.user_id.clone()).or_default() += 1;
    }
    assert!(
        per_user.len() >= 2,
        "the seed gives several users to select: {per_user:?}"
    );
    let exempt_user = per_user
        .iter()
        .min_by_key(|(_, n)| **n)
        .map(|(u, _)| u.clone())
        .expect("a user");
    drop(probe);

    let exempt = exempt_user.clone();
    let app = spawn_app_with(sim, move |c| {
        c.policies = vec![admin_policy()];
        c.exemptions = vec![ExemptionConfig {
            name: Some("break-glass".into()),
            users: vec![exempt],
            ..ExemptionConfig::default()
        }];
    })
    .await;
    let selected = admin_policy_selects(&app.org, app.now);
    let (spared, expected): (Vec<_>, Vec<_>) =
        selected.into_iter().partition(|t| t.user_id == exempt_user);
    assert!(!spared.is_empty() && !expected.is_empty());

    let report = app.sweep(Mode::Enforce).await;

    assert_eq!(report.status, SweepStatus::Ok, "{:?}", report.failures);
    let revoked: BTreeSet<String> = app.org.revoked().into_iter().map(|r| r.token.id).collect();
    assert_eq!(revoked, sim_ids(&expected), "revoked in the org");
    let still_there = sim_ids(&app.org.all_tokens());
    for t in &spared {
        assert!(
            still_there.contains(&t.id),
            "exempt token {} survives",
            t.id
        );
    }
    assert_eq!(report.counts.revocations_done, expected.len() as u64);

    let deletes: BTreeMap<String, String> = app
        .org
        .requests()
        .into_iter()
        .filter(|r| r.route == RouteKind::RevokeToken && r.status == 204)
        .map(|r| (r.request_id, r.path_and_query))
        .collect();
    let audit = audit_by_token(&app).await;
    for t in &expected {
        let rows = &audit[&t.id];
        let states: Vec<&str> = rows.iter().map(|r| r.state.as_str()).collect();
        assert_eq!(states, ["pending", "done"], "audit chain of {}", t.id);
        assert_eq!(rows[0].intent_id, None);
        assert_eq!(rows[1].intent_id, Some(rows[0].id));
        assert_eq!(rows[1].http_status, Some(204));
        let request_id = rows[1].okta_request_id.as_deref().expect("okta_request_id");
        let path = deletes
            .get(request_id)
            .expect("the request id is a DELETE the org answered");
        assert!(path.ends_with(&format!("/tokens/{}", t.id)), "{path}");
        assert_eq!(rows[0].policy.as_deref(), Some("old-admin"));
    }
    for t in &spared {
        let states: Vec<&str> = audit[&t.id].iter().map(|r| r.state.as_str()).collect();
        assert_eq!(states, ["skipped_exempt"], "exempt token {}", t.id);
    }
    assert_eq!(
        audit.len(),
        expected.len() + spared.len(),
        "nothing else is recorded"
    );
    let rows = app.store.revocations().await.expect("rows").len() as u64;
    assert_eq!(app.store.verify_audit().await.expect("query"), Ok(rows));
    for row in app.store.present_tokens().await.expect("present") {
        assert!(
            !revoked.contains(&row.token_id),
            "{} is gone in the store",
            row.token_id
        );
    }
}

#[tokio::test]
async fn dry_run_revokes_nothing_and_records_each_selected_token_as_planned() {
    let app = spawn_app_with(small_org(), |c| c.policies = vec![admin_policy()]).await;
    let expected = sim_ids(&admin_policy_selects(&app.org, app.now));
    assert!(!expected.is_empty());

    let report = app.sweep(Mode::DryRun).await;

    assert_eq!(report.status, SweepStatus::Ok);
    assert!(app.org.revoked().is_empty());
    assert!(app.org.requests().iter().all(|r| r.method != "DELETE"));
    let audit = audit_by_token(&app).await;
    assert_eq!(audit.keys().cloned().collect::<BTreeSet<_>>(), expected);
    for (id, rows) in &audit {
        let states: Vec<(&str, &str)> = rows
            .iter()
            .map(|r| (r.state.as_str(), r.mode.as_str()))
            .collect();
        assert_eq!(states, [("planned", "dry-run")], "{id}");
    }
    assert_eq!(report.counts.revocations_planned, expected.len() as u64);
    assert_eq!(report.counts.revocations_done, 0);
}

async fn assert_guard_trips(app: &TestApp, key: &str) {
    let expected = sim_ids(&admin_policy_selects(&app.org, app.now));
    let report = app.sweep(Mode::Enforce).await;

    assert!(app.org.revoked().is_empty(), "nothing is revoked");
    assert!(app.org.requests().iter().all(|r| r.method != "DELETE"));
    assert_eq!(report.status, SweepStatus::Partial);
    let (status, error) = app.sweep_row(report.sweep_id).await;
    assert_eq!(status, "partial");
    let error = error.expect("sweeps.error holds the reason");
    assert!(error.contains(key), "{error}");
    let audit = audit_by_token(app).await;
    assert_eq!(audit.keys().cloned().collect::<BTreeSet<_>>(), expected);
    for (id, rows) in &audit {
        let states: Vec<&str> = rows.iter().map(|r| r.state.as_str()).collect();
        assert_eq!(states, ["skipped_safety"], "{id}");
    }
}

#[tokio::test]
async fn the_guard_revokes_nothing_when_the_plan_exceeds_max_revocations_per_sweep() {
    let probe = spawn_app_with(small_org(), |_| {}).await;
    let selected = admin_policy_selects(&probe.org, probe.now).len() as u64;
    assert!(selected >= 2);
    let app = spawn_app_with(small_org(), |c| {
        c.policies = vec![admin_policy()];
        c.safety.max_revocations_per_sweep = selected - 1;
    })
    .await;
    assert_guard_trips(&app, "safety.max_revocations_per_sweep").await;
}

#[tokio::test]
async fn the_guard_revokes_nothing_when_the_plan_exceeds_max_revocation_fraction() {
    let app = spawn_app_with(small_org(), |c| {
        c.policies = vec![admin_policy()];
        c.safety.max_revocation_fraction = 0.01;
    })
    .await;
    let selected = admin_policy_selects(&app.org, app.now).len() as f64;
    assert!(selected / app.org.all_tokens().len() as f64 > 0.01);
    assert_guard_trips(&app, "safety.max_revocation_fraction").await;
}

/// The guard's notification does not wait for the sweep's end: a sweep cut while it records
/// the `skipped_safety` rows (here a database that refuses them; a shutdown's deadline alike)
/// has already enqueued its `guard_tripped` event.
#[tokio::test]
async fn a_guard_tripped_is_notified_even_when_its_sweep_is_cut_before_its_end() {
    let app = spawn_app_with(small_org(), |c| {
        c.policies = vec![admin_policy()];
        c.safety.max_revocation_fraction = 0.01;
    })
    .await;
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", app.db_path.display()))
        .await
        .expect("raw pool");
    sqlx::query(
        "CREATE TRIGGER cut_skipped_safety BEFORE INSERT ON revocations
         WHEN NEW.state = 'skipped_safety' BEGIN SELECT RAISE(ABORT, 'cut'); END",
    )
    .execute(&pool)
    .await
    .expect("trigger");
    pool.close().await;
    let outcome = revokd::sweep::run_once(&app.deps, &app.plan(Mode::Enforce), app.now).await;
    assert!(outcome.is_err(), "the sweep is cut");
    assert!(app.org.revoked().is_empty(), "nothing is revoked");
    let outbox = app.store.outbox().await.expect("outbox");
    let tripped: Vec<_> = outbox
        .iter()
        .filter(|e| e.kind == "guard_tripped")
        .collect();
    assert_eq!(tripped.len(), 1, "{outbox:?}");
    assert!(
        tripped[0]
            .details
            .contains("safety.max_revocation_fraction"),
        "{tripped:?}"
    );
}
