//! The revocation life cycle against the simulated org: a 204 that does not take is caught by
//! verification and retried across sweeps until irrevocable (and then daily); a revoked token
//! that comes back is flagged and revoked again; a dead run's `pending` intents are resolved
//! at the next start (`lifecycle/dead_runs.rs`), on what Okta says now (`lifecycle/fresh.rs`);
//! a retry of an intent another run settled
//! meanwhile does nothing (`lifecycle/settled.rs`); a timeout fails only its target.

mod dead_runs;
mod fresh;
mod returns;
mod settled;

use std::time::Duration;

use chrono::TimeDelta;
use revokd::config::Mode;
use revokd::sim::{Fault, FaultKind, SimConfig, SimToken};
use revokd::store::{NewRevocation, RevocationState, RevocationTrigger, Trigger, ts};
use revokd::sweep::{SweepPlan, run_once};

use crate::helpers::{admin_policy, admin_policy_selects, small_org, spawn_app_with};

/// `(state, attempts, verified)` of every row of the intent that targeted `token`, in order.
async fn life_of(app: &crate::helpers::TestApp, token: &str) -> Vec<(String, i64, bool)> {
    app.store
        .revocations()
        .await
        .expect("audit rows")
        .into_iter()
        .filter(|r| r.token_id.as_deref() == Some(token))
        .map(|r| (r.state, r.attempts, r.verified_at.is_some()))
        .collect()
}

/// A run that died under `runner` with its intent for `t` committed (requested at
/// `requested_at`) and no outcome: its sweep row still `running`. Returns the sweep's id.
pub(crate) async fn dead_runs_intent(
    app: &crate::helpers::TestApp,
    t: &SimToken,
    runner: &str,
    requested_at: chrono::DateTime<chrono::Utc>,
) -> i64 {
    let now = chrono::Utc::now();
    let dead = (app.store)
        .begin_sweep(Trigger::Schedule, Mode::Enforce, now, runner)
        .await
        .expect("a sweep row");
    let (trigger, pending) = (RevocationTrigger::Policy, RevocationState::Pending);
    let intent = NewRevocation {
        policy: Some("old-admin".into()),
        sweep_id: Some(dead),
        ..NewRevocation::new(
            Some(t.id.clone()),
            t.user_id.clone(),
            t.client_id.clone(),
            trigger,
            Mode::Enforce,
            pending,
            ts(requested_at),
        )
    };
    app.store
        .append_revocation(&intent)
        .await
        .expect("the intent");
    dead
}

/// The first token the admin policy selects, its pair's revocations (`times` of them; `None`:
/// all) answered 204 without revoking anything.
pub(crate) fn ignored_victim(app: &crate::helpers::TestApp, times: Option<u32>) -> SimToken {
    let victim = admin_policy_selects(&app.org, app.now)
        .into_iter()
        .next()
        .expect("the seed selects a token");
    app.org.inject(Fault {
        user: Some(victim.user_id.clone()),
        client: Some(victim.client_id.clone()),
        kind: FaultKind::IgnoreRevocation,
        times,
    });
    victim
}

/// The org below with the admin policy, and a guard that lets every selected token through.
async fn admin_app() -> crate::helpers::TestApp {
    spawn_app_with(org_with_targets(), |c| {
        c.policies = vec![admin_policy()];
        c.safety.max_revocation_fraction = 1.0;
    })
    .await
}

fn org_with_targets() -> SimConfig {
    SimConfig {
        users: 10,
        clients: 5,
        pairs: 40,
        big_pairs: 0,
        ..small_org()
    }
}

#[tokio::test]
async fn a_204_that_does_not_take_is_retried_across_sweeps_until_irrevocable_then_daily() {
    let app = spawn_app_with(org_with_targets(), |c| {
        c.policies = vec![admin_policy()];
        c.revocation.max_attempts = 3;
        c.safety.max_revocation_fraction = 1.0;
    })
    .await;
    let victim = ignored_victim(&app, None);
    let plan = SweepPlan {
        named_targets: false,
        trigger: Trigger::Cli,
        mode: Mode::Enforce,
        targets: app.targets(),
        wide: revokd::sweep::WideTargets::default(),
    };

    let first = run_once(&app.deps, &plan, app.now).await.unwrap();
    assert_eq!(
        first.counts.revocations_failed, 1,
        "the 204 without effect is a failure"
    );
    // Not due yet: the same instant retries nothing and opens no second intent.
    let again = run_once(&app.deps, &plan, app.now).await.unwrap();
    assert_eq!(
        (
            again.counts.revocations_retried,
            again.counts.revocations_failed
        ),
        (0, 0)
    );
    for day in 1..=2 {
        let later = run_once(&app.deps, &plan, app.now + TimeDelta::days(day))
            .await
            .unwrap();
        assert_eq!(later.counts.revocations_retried, 1, "day {day}");
    }
    let rows = life_of(&app, &victim.id).await;
    let states: Vec<_> = rows.iter().map(|r| (r.0.as_str(), r.1)).collect();
    assert_eq!(
        states,
        vec![
            ("pending", 0),
            ("failed", 1),
            // Each retry is recorded before its DELETE, as the first attempt was.
            ("pending", 1),
            ("failed", 2),
            ("pending", 2),
            ("irrevocable", 3)
        ]
    );
    assert!(
        app.org
            .tokens(&victim.user_id, &victim.client_id)
            .iter()
            .any(|t| t.id == victim.id),
        "still active in Okta"
    );
    let audit: Vec<_> = app
        .store
        .revocations()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.state == "irrevocable")
        .collect();
    assert!(
        audit[0]
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("still lists the token as ACTIVE"),
        "{:?}",
        audit[0].error
    );

    // Irrevocable ones are tried again a day later; once Okta behaves, the intent closes.
    app.org.clear_faults();
    let next_day = run_once(
        &app.deps,
        &plan,
        app.now + TimeDelta::days(2) + TimeDelta::hours(1),
    )
    .await
    .unwrap();
    assert_eq!(next_day.counts.revocations_failed, 0);
    assert_eq!(next_day.counts.revocations_irrevocable, 0);
    let rows = life_of(&app, &victim.id).await;
    assert_eq!(
        rows.last().map(|r| (r.0.as_str(), r.1, r.2)),
        Some(("done", 4, true)),
        "{rows:?}"
    );
    assert!(
        !app.org
            .tokens(&victim.user_id, &victim.client_id)
            .iter()
            .any(|t| t.id == victim.id)
    );
    assert_eq!(
        app.store.verify_audit().await.unwrap(),
        Ok(app.store.revocations().await.unwrap().len() as u64)
    );
}

#[tokio::test]
async fn a_revoked_token_that_comes_back_is_flagged_and_revoked_again() {
    let app = admin_app().await;
    let victim = admin_policy_selects(&app.org, app.now)
        .into_iter()
        .next()
        .expect("the seed selects a token");
    let first = app.sweep(Mode::Enforce).await;
    assert_eq!(first.counts.tokens_reappeared, 0);
    assert_eq!(
        life_of(&app, &victim.id)
            .await
            .last()
            .map(|r| (r.0.clone(), r.2)),
        Some(("done".into(), true))
    );

    app.org.add_token(victim.clone());
    let second = app.sweep(Mode::Enforce).await;
    assert_eq!(second.counts.tokens_reappeared, 1);
    let row = app
        .store
        .tokens_of_pair(&victim.user_id, &victim.client_id)
        .await
        .unwrap();
    let row = row
        .iter()
        .find(|t| t.token_id == victim.id)
        .expect("the token row");
    assert!(row.reappeared_at.is_some());
    let revoked_times = app
        .org
        .revoked()
        .iter()
        .filter(|r| r.token.id == victim.id)
        .count();
    assert_eq!(revoked_times, 2, "revoked again after it came back");
    let states: Vec<_> = life_of(&app, &victim.id)
        .await
        .into_iter()
        .map(|r| r.0)
        .collect();
    assert_eq!(states, vec!["pending", "done", "pending", "done"]);
    let (reappeared,): (i64,) = sqlx::query_as("SELECT tokens_reappeared FROM sweeps WHERE id = ?")
        .bind(second.sweep_id)
        .fetch_one(app.store.pool())
        .await
        .unwrap();
    assert_eq!(reappeared, 1);
}

#[tokio::test]
async fn delete_failures_keep_the_status_error_and_okta_request_id() {
    let app = admin_app().await;
    let victim = admin_policy_selects(&app.org, app.now)
        .into_iter()
        .next()
        .expect("a selected token");
    let plan = SweepPlan {
        named_targets: false,
        trigger: Trigger::Cli,
        mode: Mode::Enforce,
        targets: app.targets(),
        wide: revokd::sweep::WideTargets::default(),
    };
    app.org.inject(Fault {
        user: Some(victim.user_id.clone()),
        client: Some(victim.client_id.clone()),
        kind: FaultKind::RevocationStatus(503),
        times: None,
    });
    let report = run_once(&app.deps, &plan, app.now).await.unwrap();
    assert!(
        report.counts.revocations_failed >= 1,
        "{report:?} {:?}",
        app.store
            .revocations()
            .await
            .unwrap()
            .iter()
            .filter(|r| r.token_id.as_deref() == Some(victim.id.as_str()))
            .collect::<Vec<_>>()
    );
    let failed = app
        .store
        .revocations()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.state == "failed")
        .expect("a failed row");
    assert_eq!(failed.http_status, Some(503));
    let id = failed
        .okta_request_id
        .clone()
        .expect("the request id is kept");
    assert!(
        app.org
            .requests()
            .iter()
            .any(|r| r.request_id == id && r.status == 503 && r.method == "DELETE")
    );
    assert!(failed.next_attempt_at.is_some());
}

#[tokio::test]
async fn a_timeout_fails_only_its_target_with_a_recorded_error() {
    let app = spawn_app_with(small_org(), |c| {
        // Well above what any other request takes on a loaded machine, well below the
        // fault's latency.
        c.okta.timeout = Duration::from_secs(2);
        c.okta.max_retries = 1;
    })
    .await;
    let (u, c) = app.small_pair();
    app.org.inject(Fault {
        user: Some(u.clone()),
        client: Some(c.clone()),
        kind: FaultKind::Latency(Duration::from_secs(20)),
        times: None,
    });
    let report = app.sweep(Mode::DryRun).await;
    assert_eq!(report.counts.targets_failed, 1, "{:?}", report.failures);
    let (result, error) = app.target_row(&u, &c).await;
    assert_eq!(result, "failed");
    assert!(
        error
            .unwrap_or_default()
            .to_lowercase()
            .contains("timed out")
    );
    app.assert_pairs_stored(Some(&(u, c))).await;
}

#[tokio::test]
async fn the_progress_counters_end_equal_to_the_sweeps_counts() {
    let app = admin_app().await;
    let report = app.sweep(Mode::Enforce).await;
    let live = app.deps.progress.snapshot();
    assert!(report.counts.revocations_done > 0);
    assert_eq!(
        (
            live.targets_done,
            live.targets_total,
            live.tokens_seen,
            live.revocations_done
        ),
        (
            report.counts.targets_total,
            report.counts.targets_total,
            report.counts.tokens_seen,
            report.counts.revocations_done
        )
    );
    assert_eq!(live.http_429, report.counts.http_429);
}

#[tokio::test]
async fn offboarding_progress_counts_the_users_clients_and_tokens() {
    let app = crate::helpers::spawn_app(org_with_targets()).await;
    let (user, _) = app.small_pair();
    let (_, report) = app.offboard(&user).await;
    assert!(report.succeeded());
    let live = app.deps.progress.snapshot();
    assert_eq!(
        (live.targets_done, live.targets_total),
        (report.clients.len() as u64, report.clients.len() as u64)
    );
    assert_eq!(
        (live.tokens_seen, live.revocations_done),
        (report.tokens(), report.tokens())
    );
    assert!(report.tokens() > 0);
}
