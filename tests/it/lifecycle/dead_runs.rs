//! Intents a dead process left `pending`: a sweep's and an offboarding job's are resolved at
//! the next start, each against what Okta now says about the token.

use revokd::config::Mode;
use revokd::store::{NewRevocation, RevocationState, Trigger};

use super::{admin_app, life_of, org_with_targets};
use crate::helpers::{admin_policy_selects, spawn_app_with};

/// The runner id of a process of this host that does not exist (`pid` above the kernel's
/// pid limit).
pub(super) fn dead_here(pid: u32) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").expect("the host name");
    format!("{}:{pid}:1", host.trim())
}

#[tokio::test]
async fn pending_intents_of_a_dead_run_are_resolved_at_the_next_start() {
    let app = admin_app().await;
    let selected = admin_policy_selects(&app.org, app.now);
    assert!(selected.len() >= 2, "the seed selects two tokens");
    let (still_there, revoked_meanwhile) = (&selected[0], &selected[1]);
    // A run that died: its sweep row still `running`, owned by a process that does not exist,
    // with two intents committed and no outcome.
    let dead = app
        .store
        .begin_sweep(
            Trigger::Schedule,
            Mode::Enforce,
            chrono::Utc::now(),
            &dead_here(4_194_999),
        )
        .await
        .unwrap();
    for t in [still_there, revoked_meanwhile] {
        app.store
            .append_revocation(&NewRevocation {
                policy: Some("old-admin".into()),
                reason: Some("interrupted".into()),
                sweep_id: Some(dead),
                ..NewRevocation::new(
                    Some(t.id.clone()),
                    t.user_id.clone(),
                    t.client_id.clone(),
                    revokd::store::RevocationTrigger::Policy,
                    revokd::config::Mode::Enforce,
                    RevocationState::Pending,
                    revokd::store::ts(chrono::Utc::now()),
                )
            })
            .await
            .unwrap();
    }
    // The dead run's DELETE for the second token did reach Okta.
    let t = revoked_meanwhile;
    assert!(app.org.revoke_out_of_band(&t.user_id, &t.client_id, &t.id));

    let report = app.sweep(Mode::Enforce).await;
    assert_eq!(
        (
            report.reconciled.sweeps_aborted,
            report.reconciled.intents_resolved
        ),
        (1, 2)
    );
    assert_eq!(app.sweep_row(dead).await.0, "aborted");
    for t in &selected {
        let terminal: Vec<_> = life_of(&app, &t.id)
            .await
            .into_iter()
            .filter(|r| matches!(r.0.as_str(), "done" | "already_gone"))
            .collect();
        assert_eq!(terminal.len(), 1, "exactly one terminal state for {}", t.id);
        // Counted from what the org received: a second DELETE of a revoked token would be
        // answered 404 and never show in `org.revoked()`.
        // The token the dead run revoked (out of band here) is found absent: none is sent.
        let expected = (t.id != revoked_meanwhile.id).then(|| vec![(204, true)]);
        assert_eq!(
            crate::helpers::token_deletes(&app.org).get(&t.id),
            expected.as_ref(),
            "one DELETE for {}, accepted (none for the one already revoked)",
            t.id
        );
    }
    assert_eq!(
        life_of(&app, &revoked_meanwhile.id)
            .await
            .last()
            .map(|r| r.0.clone()),
        Some("already_gone".into())
    );
    // The intent itself is carried out, on the record Okta sent: its interrupted attempt and
    // the one reconciliation sent.
    assert_eq!(
        life_of(&app, &still_there.id)
            .await
            .last()
            .map(|r| (r.0.clone(), r.1)),
        Some(("done".into(), 2))
    );
    assert!(app.store.verify_audit().await.unwrap().is_ok());
}

#[tokio::test]
async fn pending_intents_of_a_dead_offboarding_job_are_resolved_too() {
    let app = spawn_app_with(org_with_targets(), |c| {
        c.safety.max_revocation_fraction = 1.0
    })
    .await;
    let (user, client) = app.small_pair();
    let token = app.org.tokens(&user, &client)[0].clone();
    let job = revokd::store::NewJob {
        user_id: user.clone(),
        source: revokd::store::JobSource::Cli,
        event_id: None,
        event_type: None,
        reason: Some("left the company".into()),
    };
    let job_id = app
        .store
        .start_job(&job, &dead_here(4_194_998), chrono::Utc::now())
        .await
        .unwrap();
    // The token's intent, and the revoke-all's (no token id) the job wrote with it.
    let intent = |token: Option<String>| NewRevocation {
        reason: Some("left the company".into()),
        job_id: Some(job_id),
        ..NewRevocation::new(
            token,
            user.clone(),
            client.clone(),
            revokd::store::RevocationTrigger::Offboard,
            revokd::config::Mode::Enforce,
            RevocationState::Pending,
            revokd::store::ts(chrono::Utc::now()),
        )
    };
    let ids = app
        .store
        .append_revocations(&[intent(Some(token.id.clone())), intent(None)])
        .await
        .unwrap();
    let report = app.sweep(Mode::Enforce).await;
    assert_eq!(report.reconciled.intents_resolved, 2);
    // Whether the revoke-all took effect cannot be told: it is failed, for the offboarding
    // that picks it up.
    let pair: Vec<(Option<i64>, String)> = sqlx::query_as(
        "SELECT intent_id, state FROM revocations WHERE token_id IS NULL ORDER BY id",
    )
    .fetch_all(app.store.pool())
    .await
    .unwrap();
    let closed = vec![(None, "pending".into()), (Some(ids[1]), "failed".into())];
    assert_eq!(pair, closed);
    let rows = life_of(&app, &token.id).await;
    assert_eq!(
        rows.last().map(|r| (r.0.as_str(), r.2)),
        Some(("done", true)),
        "{rows:?}"
    );
    assert!(app.org.revoked().iter().any(|r| r.token.id == token.id));
    let trail = app.store.revocations().await.unwrap();
    let last = trail
        .iter()
        .rev()
        .find(|r| r.token_id.as_deref() == Some(token.id.as_str()))
        .unwrap();
    assert_eq!(
        (last.trigger.as_str(), last.job_id),
        ("offboard", Some(job_id))
    );
}

/// A `revokd offboard` that died (Ctrl-C, a crash) leaves its job `running`; its flags
/// (`--dry-run`, `--client`) lived in that process alone, so the daemon fails the job rather
/// than carry it out under its own mode: a preview is never turned into revocations.
#[tokio::test(flavor = "multi_thread")]
async fn a_dead_cli_offboarding_is_failed_not_carried_out_by_the_daemon() {
    use crate::daemon::harness::{PATIENCE, Running, daemon_config, db_path};
    let org = revokd::sim::SimOrg::start(crate::helpers::small_org())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let tokens_before = org.all_tokens().len();
    let user = org.all_tokens()[0].user_id.clone();
    let store =
        revokd::store::Store::connect(&format!("sqlite://{}", db_path(dir.path()).display()))
            .await
            .unwrap();
    let job = revokd::store::NewJob {
        user_id: user,
        source: revokd::store::JobSource::Cli,
        event_id: None,
        event_type: None,
        reason: Some("a preview, stopped with Ctrl-C".into()),
    };
    let job_id = store
        .start_job(&job, &dead_here(4_194_997), chrono::Utc::now())
        .await
        .unwrap();
    store.close().await;
    let config = dir.path().join("revokd.toml");
    std::fs::write(&config, daemon_config(&org, dir.path(), "enforce", "", "")).unwrap();
    let mut daemon = Running::start(&config).await;

    daemon
        .wait_for_log("left running by a dead `revokd offboard` is failed")
        .await;
    let (state, error): (String, Option<String>) =
        sqlx::query_as("SELECT state, error FROM offboarding_jobs WHERE id = ?")
            .bind(job_id)
            .fetch_one(&daemon.pool)
            .await
            .unwrap();
    assert_eq!(state, "failed");
    let error = error.unwrap_or_default();
    assert!(error.contains("revokd offboard"), "{error}");
    assert_eq!(crate::gate::deletes(&org), vec![], "nothing was revoked");
    assert_eq!(org.all_tokens().len(), tokens_before);
    daemon.signal("TERM").await;
    assert_eq!(daemon.wait_exit(PATIENCE).await.code(), Some(0));
}

/// A run on another host (a container recreated under a new hostname) that left intents
/// `pending`: whether it lives cannot be told from here, and no attempt starts without the
/// enforcer lease, which this enforce sweep holds; one sent before that run lost the lease
/// may still be under way for a while. Its intent of two hours ago is resolved, the one of a
/// minute ago is left in flight; its sweep row is left as it is.
#[tokio::test]
async fn a_pending_intent_of_a_run_on_another_host_is_resolved_once_none_can_be_in_flight() {
    let app = admin_app().await;
    let selected = admin_policy_selects(&app.org, app.now);
    let (old, recent) = (&selected[0], &selected[1]);
    // What that run had listed before it planned.
    app.sweep(Mode::DryRun).await;
    let elsewhere = app
        .store
        .begin_sweep(
            Trigger::Schedule,
            Mode::Enforce,
            chrono::Utc::now(),
            "a-recreated-container:4194999:1",
        )
        .await
        .unwrap();
    for (token, ago) in [(old, 120), (recent, 1)] {
        app.store
            .append_revocation(&NewRevocation {
                policy: Some("old-admin".into()),
                sweep_id: Some(elsewhere),
                ..NewRevocation::new(
                    Some(token.id.clone()),
                    token.user_id.clone(),
                    token.client_id.clone(),
                    revokd::store::RevocationTrigger::Policy,
                    Mode::Enforce,
                    RevocationState::Pending,
                    revokd::store::ts(chrono::Utc::now() - chrono::Duration::minutes(ago)),
                )
            })
            .await
            .unwrap();
    }

    let report = app.sweep(Mode::Enforce).await;

    assert_eq!(report.reconciled.intents_resolved, 1);
    assert_eq!(app.sweep_row(elsewhere).await.0, "running");
    let life = life_of(&app, &old.id).await;
    assert_eq!(
        life.iter().filter(|r| r.0 == "pending").count(),
        2,
        "the intent, and reconciliation's attempt recorded before its DELETE: {life:?}"
    );
    assert_eq!(
        life.iter().filter(|r| r.0 == "done").count(),
        1,
        "the intent's own outcome: {life:?}"
    );
    assert!(app.org.revoked().iter().any(|r| r.token.id == old.id));
    // Still possibly in flight elsewhere: left open, with no second intent and no DELETE.
    let life = life_of(&app, &recent.id).await;
    let states: Vec<&str> = life.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(
        states.iter().filter(|s| **s == "pending").count(),
        1,
        "{life:?}"
    );
    assert!(
        !states
            .iter()
            .any(|s| matches!(*s, "done" | "already_gone" | "failed")),
        "{life:?}"
    );
    assert!(app.org.all_tokens().iter().any(|t| t.id == recent.id));
}

#[tokio::test]
async fn what_reconciliation_sends_counts_in_the_sweep_its_status_and_exit_code() {
    let app = admin_app().await;
    let selected = admin_policy_selects(&app.org, app.now);
    // Two tokens of pairs the policy selects nothing in: only reconciliation revokes there.
    let pairs: std::collections::BTreeSet<_> = (selected.iter())
        .map(|t| (t.user_id.clone(), t.client_id.clone()))
        .collect();
    let mut one_per_pair = std::collections::BTreeMap::new();
    for t in app.org.all_tokens() {
        let pair = (t.user_id.clone(), t.client_id.clone());
        if !pairs.contains(&pair) {
            one_per_pair.entry(pair).or_insert(t);
        }
    }
    let quiet: Vec<_> = one_per_pair.into_values().collect();
    let (refused, accepted) = (&quiet[0], &quiet[1]);
    app.org.inject(revokd::sim::Fault {
        user: Some(refused.user_id.clone()),
        client: Some(refused.client_id.clone()),
        kind: revokd::sim::FaultKind::RevocationStatus(403),
        times: None,
    });
    let dead = (app.store)
        .begin_sweep(
            Trigger::Schedule,
            Mode::Enforce,
            chrono::Utc::now(),
            &dead_here(4_194_997),
        )
        .await
        .unwrap();
    for t in [refused, accepted] {
        (app.store)
            .append_revocation(&NewRevocation {
                sweep_id: Some(dead),
                ..NewRevocation::new(
                    Some(t.id.clone()),
                    t.user_id.clone(),
                    t.client_id.clone(),
                    revokd::store::RevocationTrigger::Manual,
                    Mode::Enforce,
                    RevocationState::Pending,
                    revokd::store::ts(chrono::Utc::now()),
                )
            })
            .await
            .unwrap();
    }

    let report = app.sweep(Mode::Enforce).await;

    assert_eq!(report.reconciled.intents_resolved, 2);
    // The interrupted attempt counts as made (it may have reached Okta), then reconciliation's.
    let last = |life: Vec<(String, i64, bool)>| life.last().map(|r| (r.0.clone(), r.1));
    let failed = last(life_of(&app, &refused.id).await);
    assert_eq!(failed, Some(("failed".to_owned(), 2)));
    let done = last(life_of(&app, &accepted.id).await);
    assert_eq!(done, Some(("done".to_owned(), 2)));
    assert_eq!(report.counts.revocations_failed, 1, "{:?}", report.counts);
    assert_eq!(report.counts.revocations_done, selected.len() as u64 + 1);
    assert!(
        !report.is_clean(),
        "a failed revocation makes the sweep partial (exit 3)"
    );
    assert_eq!(app.sweep_row(report.sweep_id).await.0, "partial");
}
