//! A retry reads an open intent, then acts on it: when another run recorded a row of that
//! intent in between (settled it, or attempted it), the retry sends nothing and records
//! nothing, so no intent gets a second outcome after its terminal one; and a sweep's
//! reconciliation leaves alone a retry this process is sending beside it.

use revokd::config::Mode;
use revokd::sim::{Fault, FaultKind, RouteKind};
use revokd::store::{
    JobSource, JobState, NewJob, NewRevocation, RevocationState, RevocationTrigger, ts,
};
use revokd::sweep::{RevocationOutcome, attempt_revocation, retry_work};

use super::{admin_app, ignored_victim, life_of, org_with_targets};
use crate::helpers::{admin_policy, spawn_app_with};

#[tokio::test]
async fn a_retry_of_an_intent_another_run_settled_meanwhile_sends_and_records_nothing() {
    let app = admin_app().await;
    let victim = ignored_victim(&app, Some(1));
    app.sweep(Mode::Enforce).await;
    let open = app.store.open_intents().await.expect("open intents");
    let read = open
        .iter()
        .find(|r| r.token_id.as_deref() == Some(victim.id.as_str()))
        .expect("the failed intent is open");
    assert_eq!(read.state, "failed");
    // Another run settles the intent after this one read it.
    let intent = read.intent_id.unwrap_or(read.id);
    app.store
        .append_revocation(&NewRevocation {
            intent_id: Some(intent),
            error: Some("settled by another run".into()),
            ..NewRevocation::new(
                Some(victim.id.clone()),
                victim.user_id.clone(),
                victim.client_id.clone(),
                RevocationTrigger::Policy,
                Mode::Enforce,
                RevocationState::Withdrawn,
                ts(app.now),
            )
        })
        .await
        .expect("appended");
    let deletes = || {
        let path = format!("/tokens/{}", victim.id);
        (app.org.requests().into_iter())
            .filter(|r| r.route == RouteKind::RevokeToken && r.path_and_query.ends_with(&path))
            .count()
    };
    let (before, life) = (deletes(), life_of(&app, &victim.id).await);
    let lease = app.deps.gate.hold("test").await.expect("lease");

    let outcome = attempt_revocation(&app.deps, &app.deps.okta, None, &retry_work(read)).await;

    lease.release().await;
    assert_eq!(
        outcome.expect("no database error"),
        RevocationOutcome::Settled
    );
    assert_eq!(deletes(), before, "nothing sent");
    assert_eq!(life_of(&app, &victim.id).await, life, "nothing recorded");
    assert!(
        app.org
            .tokens(&victim.user_id, &victim.client_id)
            .iter()
            .any(|t| t.id == victim.id)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sweep_leaves_alone_a_retry_this_process_is_sending_beside_it() {
    // The held DELETE gives up after a second (and is sent again) rather than thirty.
    let app = spawn_app_with(org_with_targets(), |c| {
        c.policies = vec![admin_policy()];
        c.safety.max_revocation_fraction = 1.0;
        c.okta.timeout = std::time::Duration::from_secs(1);
    })
    .await;
    let (user, client) = app.small_pair();
    let token = app.org.tokens(&user, &client)[0].clone();
    // An ended offboarding job's failed intent, due: the offboarding worker retries it.
    let job = NewJob {
        user_id: user.clone(),
        source: JobSource::EventHook,
        event_id: Some("evt-1".into()),
        event_type: None,
        reason: None,
    };
    let job_id = (app.store.start_job(&job, "h:1:1", app.now).await).expect("job");
    (app.store
        .finish_job(job_id, JobState::Done, None, app.now)
        .await)
        .expect("finished");
    let row = |state, intent_id| NewRevocation {
        intent_id,
        job_id: Some(job_id),
        attempts: i64::from(intent_id.is_some()),
        ..NewRevocation::new(
            Some(token.id.clone()),
            user.clone(),
            client.clone(),
            RevocationTrigger::Offboard,
            Mode::Enforce,
            state,
            ts(app.now),
        )
    };
    let intent = (app
        .store
        .append_revocation(&row(RevocationState::Pending, None))
        .await)
        .expect("intent");
    (app.store)
        .append_revocation(&row(RevocationState::Failed, Some(intent)))
        .await
        .expect("failed");
    let open = app.store.open_intents().await.expect("open intents");
    let read = open.iter().find(|r| r.id > intent).expect("the failed row");
    // Its DELETE is held by Okta while a scheduled sweep starts in the same process.
    app.org.inject(Fault {
        user: Some(user.clone()),
        client: Some(client.clone()),
        kind: FaultKind::HangBefore(RouteKind::RevokeToken),
        times: Some(1),
    });
    let lease = app
        .deps
        .gate
        .hold("the worker's retry")
        .await
        .expect("lease");
    let retry = {
        let (deps, work) = (app.deps.clone(), retry_work(read));
        tokio::spawn(async move { attempt_revocation(&deps, &deps.okta, None, &work).await })
    };
    app.org.until_hung(1).await;

    let report = app.sweep(Mode::Enforce).await;

    retry.abort();
    lease.release().await;
    assert_eq!(
        report.reconciled.intents_resolved, 0,
        "in flight here: left alone"
    );
    let rows = app.store.revocations().await.expect("rows");
    let mine: Vec<_> = (rows.iter())
        .filter(|r| r.token_id.as_deref() == Some(token.id.as_str()))
        .map(|r| (r.state.as_str(), r.sweep_id))
        .collect();
    assert!(
        mine.iter()
            .all(|(_, sweep)| *sweep != Some(report.sweep_id)),
        "the sweep recorded nothing of it: {mine:?}"
    );
    // The intent, its failure, the retry's own attempt, and at most the retry's outcome.
    assert_eq!(
        mine[..3],
        [("pending", None), ("failed", None), ("pending", None)]
    );
    assert!(mine.len() <= 4, "{mine:?}");
}
