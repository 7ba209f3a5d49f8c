//! An org that keeps listing revoked tokens as `REVOKED` (Okta's contract allows it and does
//! not say): an enforce sweep revokes each selected token once and the next sweeps neither
//! send another DELETE nor append an audit record; the tokens read `REVOKED`, revoked by
//! revokd, never "reappeared"; an out-of-band revocation withdraws a dry-run plan; an
//! offboarding's revoke-all is verified; a dead run's intent is reconciled with what Okta
//! answered (200, `REVOKED`), not as a 404.

use std::collections::BTreeSet;

use revokd::config::Mode;
use revokd::sim::{RouteKind, SimConfig};
use revokd::store::SweepStatus;
use revokd::sweep::SweepReport;

use crate::helpers::{
    TestApp, admin_policy, admin_policy_selects, sim_ids, small_org, spawn_app_with,
};

async fn app(lists_revoked: bool) -> TestApp {
    let sim = SimConfig {
        lists_revoked,
        ..small_org()
    };
    spawn_app_with(sim, |c| {
        c.policies = vec![admin_policy()];
        c.safety.max_revocation_fraction = 1.0;
    })
    .await
}

/// `(status, revoked_at set, gone_at set, reappeared_at set)` of a token's row.
async fn token_row(app: &TestApp, id: &str) -> (Option<String>, bool, bool, bool) {
    sqlx::query_as(
        "SELECT status, revoked_at IS NOT NULL, gone_at IS NOT NULL, reappeared_at IS NOT NULL
         FROM tokens WHERE token_id = ?",
    )
    .bind(id)
    .fetch_one(app.store.pool())
    .await
    .expect("the token's row")
}

async fn audit_len(app: &TestApp) -> usize {
    app.store.revocations().await.expect("rows").len()
}

/// A sweep after `selected` were revoked, the audit trail `rows` long: it planned and flagged
/// nothing, sent no DELETE, appended nothing, and each token reads REVOKED, revoked by revokd,
/// present, never reappeared.
async fn left_alone(app: &TestApp, sweep: &SweepReport, selected: &BTreeSet<String>, rows: usize) {
    assert_eq!(sweep.status, SweepStatus::Ok);
    let counts = (
        sweep.counts.revocations_planned,
        sweep.counts.tokens_reappeared,
    );
    assert_eq!(counts, (0, 0));
    assert_eq!(app.org.revoked().len(), selected.len(), "no second DELETE");
    assert_eq!(audit_len(app).await, rows, "no audit record");
    for id in selected {
        let row = token_row(app, id).await;
        assert_eq!(row, (Some("REVOKED".into()), true, false, false), "{id}");
    }
}

#[tokio::test]
async fn revoked_tokens_still_listed_are_revoked_once_and_then_left_alone() {
    let app = app(true).await;
    let selected = sim_ids(&admin_policy_selects(&app.org, app.now));
    assert!(selected.len() >= 3);
    let first = app.sweep(Mode::Enforce).await;
    assert_eq!(first.status, SweepStatus::Ok);
    assert_eq!(first.counts.revocations_done, selected.len() as u64);
    let revoked: BTreeSet<String> = app.org.revoked().into_iter().map(|r| r.token.id).collect();
    assert_eq!(revoked, selected);
    let rows = audit_len(&app).await;

    for _ in 0..2 {
        let again = app.sweep(Mode::Enforce).await;
        left_alone(&app, &again, &selected, rows).await;
    }
    let active: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM v_active_tokens")
        .fetch_one(app.store.pool())
        .await
        .unwrap();
    assert_eq!(active as usize, app.org.all_tokens().len());
    assert!(app.store.verify_audit().await.unwrap().is_ok());
}

#[tokio::test]
async fn a_plan_whose_token_was_revoked_elsewhere_is_withdrawn_once() {
    let app = app(true).await;
    let selected = admin_policy_selects(&app.org, app.now);
    app.sweep(Mode::DryRun).await;
    let t = &selected[0];
    assert!(app.org.revoke_out_of_band(&t.user_id, &t.client_id, &t.id));
    app.sweep(Mode::DryRun).await;
    app.sweep(Mode::DryRun).await;
    let states: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT state, error FROM revocations WHERE token_id = ? ORDER BY id")
            .bind(&t.id)
            .fetch_all(app.store.pool())
            .await
            .unwrap();
    assert_eq!(states.len(), 2, "{states:?}");
    assert_eq!(
        (states[0].0.as_str(), states[1].0.as_str()),
        ("planned", "withdrawn")
    );
    assert_eq!(
        states[1].1.as_deref(),
        Some("token revoked outside revokd: Okta lists it REVOKED")
    );
    assert_eq!(
        token_row(&app, &t.id).await,
        (Some("REVOKED".into()), false, false, false)
    );
}

#[tokio::test]
async fn an_offboarding_revoke_all_is_verified_when_the_tokens_stay_listed() {
    for lists_revoked in [false, true] {
        let app = app(lists_revoked).await;
        let (user, _) = app.small_pair();
        let held = app
            .org
            .all_tokens()
            .into_iter()
            .filter(|t| t.user_id == user)
            .count();
        assert!(held > 0);
        let (job_id, report) = app.offboard(&user).await;
        assert!(report.succeeded(), "{lists_revoked}: {:?}", report.error());
        assert_eq!(report.tokens() as usize, held);
        assert!(app.org.all_tokens().iter().all(|t| t.user_id != user));
        let done: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM v_revocation_log WHERE job_id = ? AND state = 'done'
               AND token_id IS NOT NULL",
        )
        .bind(job_id)
        .fetch_one(app.store.pool())
        .await
        .unwrap();
        assert_eq!(done as usize, held, "{lists_revoked}");
    }
}

/// A revocation row's state, HTTP status, error and Okta request id.
type Row = (String, Option<i64>, Option<String>, Option<String>);

#[tokio::test]
async fn a_dead_runs_intent_is_reconciled_with_what_okta_answered() {
    for lists_revoked in [false, true] {
        let app = app(lists_revoked).await;
        let t = admin_policy_selects(&app.org, app.now)[0].clone();
        // The token is known: an earlier sweep listed it.
        app.sweep(Mode::DryRun).await;
        let two_hours_ago = chrono::Utc::now() - chrono::Duration::hours(2);
        let dead = crate::lifecycle::dead_runs_intent(&app, &t, "h:4194999:1", two_hours_ago).await;
        // The dead run's DELETE reached Okta.
        assert!(app.org.revoke_out_of_band(&t.user_id, &t.client_id, &t.id));
        // A sweep of the other pairs: the token's own pair is not listed again.
        let others: Vec<_> = (app.targets().into_iter())
            .filter(|p| p.user.as_str() != t.user_id || p.client.as_str() != t.client_id)
            .collect();
        let report = crate::apps::sweep(&app, Mode::Enforce, others, Default::default()).await;
        assert_eq!(report.reconciled.intents_resolved, 1);
        let active: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM v_active_tokens WHERE token_id = ?")
                .bind(&t.id)
                .fetch_one(app.store.pool())
                .await
                .unwrap();
        assert_eq!(active, 0, "{lists_revoked}: no longer counted active");

        let (state, status, error, request_id): Row = sqlx::query_as(
            "SELECT state, http_status, error, okta_request_id FROM v_revocation_log
             WHERE token_id = ? AND sweep_id = ?",
        )
        .bind(&t.id)
        .bind(dead)
        .fetch_one(app.store.pool())
        .await
        .unwrap();
        let error = error.unwrap_or_default();
        assert_eq!(state, "already_gone");
        // The row names the GET whose answer it records.
        let get: Vec<String> = (app.org.requests().into_iter())
            .filter(|r| r.route == RouteKind::GetToken && r.path_and_query.contains(&t.id))
            .map(|r| r.request_id)
            .collect();
        assert_eq!(get.len(), 1, "{lists_revoked}");
        assert_eq!(request_id.as_ref(), get.first(), "{lists_revoked}");
        match lists_revoked {
            true => {
                assert_eq!(status, Some(200), "{error}");
                assert!(error.contains("REVOKED"), "{error}");
            }
            false => {
                assert_eq!(status, Some(404), "{error}");
                assert!(error.contains("absent from Okta"), "{error}");
            }
        }
        assert!(
            app.org
                .revoked()
                .iter()
                .filter(|r| r.token.id == t.id)
                .count()
                == 1
        );
    }
}

#[tokio::test]
async fn an_app_listing_its_revoked_tokens_sends_no_second_delete() {
    let app = app(true).await;
    let (client, _) = crate::apps::biggest_app(&app.org);
    let selected: BTreeSet<String> = admin_policy_selects(&app.org, app.now)
        .into_iter()
        .filter(|t| t.client_id == client)
        .map(|t| t.id)
        .collect();
    assert!(!selected.is_empty());
    let wide = || crate::apps::apps(&[&client]);
    let first = crate::apps::sweep(&app, Mode::Enforce, Vec::new(), wide()).await;
    assert_eq!(first.counts.revocations_done, selected.len() as u64);
    let rows = audit_len(&app).await;
    let again = crate::apps::sweep(&app, Mode::Enforce, Vec::new(), wide()).await;
    left_alone(&app, &again, &selected, rows).await;
}

#[tokio::test]
async fn a_plan_whose_token_revokd_revoked_is_withdrawn_saying_so() {
    for lists_revoked in [false, true] {
        let app = app(lists_revoked).await;
        let t = admin_policy_selects(&app.org, app.now)[0].clone();
        app.sweep(Mode::DryRun).await;
        // An offboarding revokes the user's tokens, the planned one among them.
        let (_, report) = app.offboard(&t.user_id).await;
        assert!(report.succeeded(), "{lists_revoked}: {:?}", report.error());
        app.sweep(Mode::DryRun).await;
        let (state, error): (String, Option<String>) = sqlx::query_as(
            "SELECT state, error FROM v_revocation_log
             WHERE token_id = ? AND trigger = 'policy'",
        )
        .bind(&t.id)
        .fetch_one(app.store.pool())
        .await
        .unwrap();
        assert_eq!(
            (state.as_str(), error.as_deref()),
            ("withdrawn", Some("token revoked by revokd")),
            "{lists_revoked}"
        );
    }
}
