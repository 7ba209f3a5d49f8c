//! The revocation gate on the sweep's paths: a failed revocation that became exempt, ids Okta
//! could not have sent, two enforcing processes at once, and a retried DELETE that took
//! effect. Each test counts what the simulated org RECEIVED (its request log), not what it
//! kept. The offboarding paths are in `gate_offboard.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use revokd::config::{ExemptionConfig, Mode};
use revokd::sim::{SimOrg, SimToken};
use revokd::store::{NewRevocation, RevocationState, ts};
use sqlx::SqlitePool;

use crate::daemon::harness::PATIENCE;
use crate::helpers::{
    TestApp, admin_policy, admin_policy_selects, all_output, sim_config, small_org, spawn_app_with,
};

pub(crate) fn deletes(org: &SimOrg) -> Vec<(String, u16)> {
    org.requests()
        .into_iter()
        .filter(|r| r.method == "DELETE")
        .map(|r| (r.path_and_query, r.status))
        .collect()
}

#[tokio::test]
async fn a_failed_revocation_that_became_exempt_is_withdrawn_not_sent() {
    let probe = spawn_app_with(small_org(), |c| c.policies = vec![admin_policy()]).await;
    let target = admin_policy_selects(&probe.org, probe.now)
        .into_iter()
        .next()
        .expect("the policy selects a token");
    drop(probe);
    let app = spawn_app_with(small_org(), |c| {
        c.policies = vec![admin_policy()];
        c.exemptions = vec![ExemptionConfig {
            name: Some("vip".into()),
            users: vec![target.user_id.clone()],
            ..ExemptionConfig::default()
        }];
    })
    .await;
    // What an earlier run left: the token listed, its revocation failed and due again.
    app.sweep(Mode::DryRun).await;
    let intent = failed_and_due(&app, &target, "Okta answered 500").await;

    let report = app.sweep(Mode::Enforce).await;

    assert_eq!(report.withdrawn, 1);
    let sent_for_it = deletes(&app.org)
        .into_iter()
        .filter(|(p, _)| p.contains(&target.id))
        .count();
    assert_eq!(sent_for_it, 0, "no DELETE for the exempt token");
    assert!(
        app.org
            .tokens(&target.user_id, &target.client_id)
            .iter()
            .any(|t| t.id == target.id)
    );
    let (state, error) = latest(&app, intent).await;
    assert_eq!(state, "withdrawn");
    assert!(error.unwrap_or_default().contains("exempt now (vip)"));
    assert!(app.store.verify_audit().await.unwrap().is_ok());
}

#[tokio::test]
async fn token_ids_okta_could_not_have_sent_are_refused_and_nothing_else_of_the_pair_is_revoked() {
    let app = spawn_app_with(small_org(), |c| c.policies = vec![admin_policy()]).await;
    let template: SimToken = admin_policy_selects(&app.org, app.now)
        .into_iter()
        .next()
        .expect("the policy selects a token");
    let bad = ["..", ".", "%2e%2e", "a/b"];
    for id in bad {
        app.org.add_token(SimToken {
            id: id.to_owned(),
            ..template.clone()
        });
    }
    let selected: BTreeSet<String> = admin_policy_selects(&app.org, app.now)
        .into_iter()
        .map(|t| t.id)
        .filter(|id| !bad.contains(&id.as_str()))
        .collect();

    app.sweep(Mode::Enforce).await;

    let sent = deletes(&app.org);
    let revoke_all: Vec<_> = sent
        .iter()
        .filter(|(p, _)| p.ends_with("/tokens") || p.ends_with("/tokens/"))
        .collect();
    assert!(
        revoke_all.is_empty(),
        "a revoke-all was sent: {revoke_all:?}"
    );
    let sent_ids: BTreeSet<String> = sent
        .iter()
        .map(|(p, _)| p.rsplit('/').next().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        sent_ids, selected,
        "exactly the valid selected tokens were sent"
    );
    let pair_left: BTreeSet<String> = app
        .org
        .tokens(&template.user_id, &template.client_id)
        .into_iter()
        .map(|t| t.id)
        .collect();
    for id in bad {
        assert!(pair_left.contains(id), "{id} was revoked");
        let (state, error): (String, Option<String>) =
            sqlx::query_as("SELECT state, error FROM v_revocation_state WHERE token_id = ?")
                .bind(id)
                .fetch_one(app.store.pool())
                .await
                .unwrap();
        assert_eq!(state, "withdrawn", "{id}");
        assert!(
            error
                .unwrap_or_default()
                .starts_with("refused: invalid token id"),
            "{id}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn two_enforcing_processes_send_no_duplicate_delete_and_revoke_exactly_the_policys_set() {
    let mut sim = small_org();
    sim.latency = Duration::from_millis(15);
    let org = SimOrg::start(sim).await.expect("org starts");
    let now = chrono::Utc::now();
    let expected: BTreeSet<String> = admin_policy_selects(&org, now)
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert!(expected.len() >= 5, "the org gives enough to revoke");
    let dir = tempfile::tempdir().expect("temp dir");
    let policy = "[safety]\nmax_revocation_fraction = 1.0\n[[policies]]\nname = \"old-admin\"\nolder_than = \"180d\"\nscopes_any = [\"admin:write\"]\n";
    let (config, db) = sim_config(&org, dir.path(), &org.pairs(), policy);
    let sweep = |wait: &'static str| {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_revokd"))
            .args(["--config", &config, "sweep", "--enforce"])
            .env_clear()
            .envs(crate::clock_env::clock_env())
            .env("REVOKD_SAFETY__ENFORCER_WAIT", wait)
            .kill_on_drop(true)
            .output()
    };
    let first = tokio::spawn(sweep("60s"));
    // The second starts once the first holds the lease (the row it writes, not a timer).
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let held = match SqlitePool::connect(&format!("sqlite://{}?mode=ro", db.display())).await {
            Ok(pool) => sqlx::query_scalar::<_, String>("SELECT owner FROM enforcer_lease")
                .fetch_optional(&pool)
                .await
                .ok()
                .flatten(),
            Err(_) => None,
        };
        if held.is_some() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the first sweep never took the lease"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let impatient = sweep("1ms").await.expect("runs");
    let patient = tokio::spawn(sweep("60s"));
    let first = first.await.unwrap().expect("runs");
    let patient = patient.await.unwrap().expect("runs");

    assert_eq!(
        impatient.status.code(),
        Some(1),
        "{}",
        all_output(&impatient)
    );
    assert!(
        all_output(&impatient).contains("another revokd process"),
        "{}",
        all_output(&impatient)
    );
    assert_eq!(first.status.code(), Some(0), "{}", all_output(&first));
    assert_eq!(patient.status.code(), Some(0), "{}", all_output(&patient));
    let sent = deletes(&org);
    let mut per_token: BTreeMap<String, usize> = BTreeMap::new();
    for (path, _) in &sent {
        *per_token
            .entry(path.rsplit('/').next().unwrap_or_default().to_owned())
            .or_default() += 1;
    }
    let twice: Vec<_> = per_token.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "tokens sent more than one DELETE: {twice:?}"
    );
    let revoked: BTreeSet<String> = org.revoked().into_iter().map(|r| r.token.id).collect();
    assert_eq!(revoked, expected);
    assert_eq!(per_token.keys().cloned().collect::<BTreeSet<_>>(), expected);
}

#[tokio::test]
async fn a_retried_delete_whose_first_try_took_effect_is_done_not_already_gone() {
    let app = spawn_app_with(small_org(), |c| {
        c.policies = vec![admin_policy()];
        c.okta.timeout = Duration::from_secs(2);
        c.okta.max_retries = 3;
    })
    .await;
    let selected = admin_policy_selects(&app.org, app.now);
    // The first DELETE takes effect in Okta, but its answer never comes back.
    app.org.inject(revokd::sim::Fault {
        user: None,
        client: None,
        kind: revokd::sim::FaultKind::HangAfter(revokd::sim::RouteKind::RevokeToken),
        times: Some(1),
    });

    let report = app.sweep(Mode::Enforce).await;

    assert_eq!(report.counts.revocations_done, selected.len() as u64);
    let rows: Vec<(String, Option<i64>, Option<String>)> = sqlx::query_as(
        "SELECT state, http_status, error FROM v_revocation_state WHERE trigger = 'policy'",
    )
    .fetch_all(app.store.pool())
    .await
    .unwrap();
    assert!(rows.iter().all(|(s, _, _)| s == "done"), "{rows:?}");
    let retried: Vec<_> = rows
        .iter()
        .filter(|(_, status, _)| *status == Some(404))
        .collect();
    assert_eq!(retried.len(), 1, "{rows:?}");
    assert!(
        retried[0]
            .2
            .as_deref()
            .unwrap_or_default()
            .contains("took effect"),
        "{rows:?}"
    );
}

/// Records what an earlier enforce run left for `target`: a policy revocation intent whose
/// attempt failed with `error`, due again an hour ago. Returns the intent's id.
async fn failed_and_due(app: &TestApp, target: &SimToken, error: &str) -> i64 {
    let long_ago = ts(app.now - chrono::Duration::hours(1));
    let row = |state| {
        NewRevocation::new(
            Some(target.id.clone()),
            &target.user_id,
            &target.client_id,
            revokd::store::RevocationTrigger::Policy,
            Mode::Enforce,
            state,
            &long_ago,
        )
    };
    let policy = Some("old-admin".to_owned());
    let pending = NewRevocation {
        policy: policy.clone(),
        ..row(RevocationState::Pending)
    };
    let intent = (app.store.append_revocation(&pending).await).expect("the intent");
    let failed = NewRevocation {
        intent_id: Some(intent),
        attempts: 1,
        policy,
        error: Some(error.to_owned()),
        next_attempt_at: Some(long_ago.clone()),
        ..row(RevocationState::Failed)
    };
    (app.store.append_revocation(&failed).await).expect("its failed attempt");
    intent
}

/// The state and error of intent `intent`'s latest row.
async fn latest(app: &TestApp, intent: i64) -> (String, Option<String>) {
    sqlx::query_as("SELECT state, error FROM v_revocation_state WHERE COALESCE(intent_id, id) = ?")
        .bind(intent)
        .fetch_one(app.store.pool())
        .await
        .expect("the intent's latest row")
}

/// A retry whose token a listing has since found gone (revoked out of band after a 403) is
/// `withdrawn`, never sent, and counts as no revocation: revokd did not revoke it.
#[tokio::test]
async fn a_retry_whose_token_a_listing_found_gone_is_withdrawn_not_counted_as_revoked() {
    let app = spawn_app_with(small_org(), |c| c.policies = vec![admin_policy()]).await;
    let target = admin_policy_selects(&app.org, app.now).remove(0);
    app.sweep(Mode::DryRun).await;
    let intent = failed_and_due(&app, &target, "Okta answered 403").await;
    assert!(
        app.org
            .revoke_out_of_band(&target.user_id, &target.client_id, &target.id)
    );
    app.sweep(Mode::DryRun).await;

    let report = app.sweep(Mode::Enforce).await;

    let sent_for_it = deletes(&app.org)
        .iter()
        .filter(|(p, _)| p.contains(&target.id))
        .count();
    assert_eq!(sent_for_it, 0, "nothing sent for the token gone");
    let (state, error) = latest(&app, intent).await;
    assert_eq!(state, "withdrawn", "{error:?}");
    assert!(
        error
            .unwrap_or_default()
            .contains("no longer showed the token")
    );
    assert_eq!(report.withdrawn, 1);
    let revoked: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM revocations WHERE token_id = ? AND state IN ('done', 'already_gone')",
    )
    .bind(&target.id)
    .fetch_one(app.store.pool())
    .await
    .unwrap();
    assert_eq!(revoked, 0, "no row says revokd revoked it");
    assert!(app.store.verify_audit().await.unwrap().is_ok());
}
