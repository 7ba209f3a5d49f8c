//! A retry reads an open intent, then acts on it: when another run recorded a row of that
//! intent in between (settled it, or attempted it), the retry sends nothing and records
//! nothing, so no intent gets a second outcome after its terminal one.

use revokd::config::Mode;
use revokd::sim::{Fault, FaultKind, RouteKind};
use revokd::store::{NewRevocation, RevocationState, RevocationTrigger, ts};
use revokd::sweep::{RevocationOutcome, attempt_revocation, retry_work};

use super::{admin_app, life_of};
use crate::helpers::admin_policy_selects;

#[tokio::test]
async fn a_retry_of_an_intent_another_run_settled_meanwhile_sends_and_records_nothing() {
    let app = admin_app().await;
    let victim = admin_policy_selects(&app.org, app.now)
        .into_iter()
        .next()
        .expect("the seed selects a token");
    app.org.inject(Fault {
        user: Some(victim.user_id.clone()),
        client: Some(victim.client_id.clone()),
        kind: FaultKind::IgnoreRevocation,
        times: Some(1),
    });
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
