//! The rules each sweep decided by are kept in `policy_sets` (each distinct set once) and
//! named by `sweeps.policy_set_id`; `v_tokens_older_than_policy` answers "which active tokens
//! are older than a rule allows" from the database alone, under the rules of the latest sweep.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::TimeDelta;
use revokd::config::{Action, Mode, PolicyConfig};

use crate::helpers::{TestApp, admin_policy, admin_policy_selects, small_org, spawn_app_with};

/// A flag-only rule for tokens older than a year.
fn ancient() -> PolicyConfig {
    PolicyConfig {
        name: "ancient".into(),
        older_than: Some(Duration::from_secs(365 * 86_400)),
        action: Action::Flag,
        ..PolicyConfig::default()
    }
}

/// The view's rows as (token, rule, action, days the rule allows).
async fn view(app: &TestApp) -> BTreeSet<(String, String, String, i64)> {
    let rows: Vec<(String, String, String, i64, i64, i64)> = sqlx::query_as(
        "SELECT token_id, policy, action, older_than_days, age_days, days_over
         FROM v_tokens_older_than_policy",
    )
    .fetch_all(app.store.pool())
    .await
    .expect("the view reads");
    for (token, rule, _, allowed, age, over) in &rows {
        assert!(
            age >= allowed && *over >= 0,
            "{token} under {rule}: {age} days"
        );
        assert!(
            (age - allowed - over).abs() <= 1,
            "{token}: {age} - {allowed} ~ {over}"
        );
    }
    rows.into_iter()
        .map(|(t, p, a, days, _, _)| (t, p, a, days))
        .collect()
}

/// Each sweep's policy set, in sweep order, and how many sets are stored.
async fn sets(app: &TestApp) -> (Vec<Option<i64>>, i64) {
    let pool = app.store.pool();
    let by_sweep = sqlx::query_scalar("SELECT policy_set_id FROM sweeps ORDER BY id")
        .fetch_all(pool)
        .await
        .expect("sweeps");
    let stored = sqlx::query_scalar("SELECT COUNT(*) FROM policy_sets")
        .fetch_one(pool)
        .await
        .expect("sets");
    (by_sweep, stored)
}

#[tokio::test]
async fn the_view_lists_the_active_tokens_a_rule_with_older_than_matched_under_the_latest_rules() {
    let mut app = spawn_app_with(small_org(), |c| c.policies = vec![admin_policy()]).await;
    let admin: BTreeSet<String> = admin_policy_selects(&app.org, app.now)
        .into_iter()
        .map(|t| t.id)
        .collect();
    let old: BTreeSet<String> = (app.org.all_tokens().into_iter())
        .filter(|t| app.now - t.created > TimeDelta::days(365))
        .map(|t| t.id)
        .collect();
    assert!(!admin.is_empty() && !old.is_empty() && !old.is_subset(&admin));
    let row = |t: &String, rule: &str, action: &str, days| {
        (t.clone(), rule.to_owned(), action.to_owned(), days)
    };

    // Two dry-run sweeps under one set: every selected token, one stored set.
    app.sweep(Mode::DryRun).await;
    app.sweep(Mode::DryRun).await;
    let want: BTreeSet<_> = admin
        .iter()
        .map(|t| row(t, "old-admin", "revoke", 180))
        .collect();
    assert_eq!(view(&app).await, want);
    let (by_sweep, stored) = sets(&app).await;
    assert_eq!((by_sweep[0], stored), (by_sweep[1], 1));
    assert!(by_sweep[0].is_some());

    // A flag rule added: a second set, and the view lists each token under each age rule.
    app.reconfigure(&[admin_policy(), ancient()], &[]);
    app.sweep(Mode::DryRun).await;
    let flagged: BTreeSet<_> = old.iter().map(|t| row(t, "ancient", "flag", 365)).collect();
    assert_eq!(view(&app).await, &want | &flagged);
    let (by_sweep, stored) = sets(&app).await;
    assert_eq!(stored, 2);
    assert_ne!(by_sweep[2], by_sweep[1]);

    // Enforced: the revoked tokens leave the view; what only the flag rule matched stays.
    app.sweep(Mode::Enforce).await;
    let kept: BTreeSet<_> = old
        .difference(&admin)
        .map(|t| row(t, "ancient", "flag", 365))
        .collect();
    assert_eq!(view(&app).await, kept);
    let (by_sweep, stored) = sets(&app).await;
    assert_eq!((by_sweep[3], stored), (by_sweep[2], 2));

    // The rules as recorded: what each asks, in seconds.
    let recorded: String = sqlx::query_scalar(
        "SELECT p.rules FROM policy_sets p JOIN sweeps s ON s.policy_set_id = p.id
         ORDER BY s.id DESC LIMIT 1",
    )
    .fetch_one(app.store.pool())
    .await
    .expect("the set");
    let recorded: serde_json::Value = serde_json::from_str(&recorded).expect("JSON");
    assert_eq!(recorded[0]["name"], "old-admin");
    assert_eq!(recorded[0]["older_than_seconds"], 180 * 86_400);
    assert_eq!(
        recorded[0]["scopes_any"],
        serde_json::json!(["admin:write"])
    );
    assert_eq!(recorded[1]["action"], "flag");
}

#[tokio::test]
async fn a_token_is_read_against_the_rules_it_was_decided_by_not_a_later_sweeps() {
    // Many small pairs: the selected tokens are spread over several.
    let sim = revokd::sim::SimConfig {
        users: 10,
        clients: 5,
        pairs: 40,
        big_pairs: 0,
        ..small_org()
    };
    let mut app = spawn_app_with(sim, |c| c.policies = vec![admin_policy()]).await;
    app.sweep(Mode::DryRun).await;
    // A pair holding a token the stricter rule below still selects.
    let selected = admin_policy_selects(&app.org, app.now);
    let (user, client) = (selected.iter())
        .find(|t| app.now - t.created > TimeDelta::days(200))
        .map(|t| (t.user_id.clone(), t.client_id.clone()))
        .expect("a selected token older than 200 days");
    // A trial run of other rules over one pair: the admin rule renamed and made stricter.
    let trial = PolicyConfig {
        name: "old-admin-200d".into(),
        older_than: Some(Duration::from_secs(200 * 86_400)),
        ..admin_policy()
    };
    app.reconfigure(&[trial], &[]);
    let one = vec![crate::helpers::target(&user, &client)];
    crate::apps::sweep(&app, Mode::DryRun, one, Default::default()).await;

    let want: BTreeSet<_> = (selected.into_iter())
        .filter(|t| {
            t.user_id != user || t.client_id != client || app.now - t.created > TimeDelta::days(200)
        })
        .map(|t| {
            let trial = t.user_id == user && t.client_id == client;
            let (rule, days) = if trial {
                ("old-admin-200d", 200)
            } else {
                ("old-admin", 180)
            };
            (t.id, rule.to_owned(), "revoke".to_owned(), days)
        })
        .collect();
    assert!(want.iter().any(|r| r.3 == 200) && want.iter().any(|r| r.3 == 180));
    assert_eq!(view(&app).await, want);
}

#[tokio::test]
async fn an_offboarding_preview_leaves_each_token_under_the_rules_its_sweep_matched() {
    let app = spawn_app_with(small_org(), |c| c.policies = vec![admin_policy()]).await;
    app.sweep(Mode::DryRun).await;
    let before = view(&app).await;
    let user = admin_policy_selects(&app.org, app.now)[0].user_id.clone();
    assert!(before.iter().any(|(t, ..)| {
        app.org
            .all_tokens()
            .iter()
            .any(|s| &s.id == t && s.user_id == user)
    }));

    // The preview lists every client of the user, and decides no rules.
    let job_id = app.start_cli_job(&user).await;
    let preview = revokd::offboard::Offboarding {
        user: revokd::ids::UserId::new(&user).expect("a user id"),
        clients: Vec::new(),
        reason: "preview".into(),
        job_id,
        dry_run: true,
    };
    let verify = revokd::offboard::VerifySettings::default();
    revokd::offboard::offboard_user(&app.deps, &preview, verify)
        .await
        .expect("the preview runs");

    assert_eq!(view(&app).await, before, "the view is as the sweep left it");
}
