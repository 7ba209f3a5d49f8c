//! Reconciliation decides an interrupted revocation on what Okta says now: the record its
//! check fetched is recorded before the gate decides, so a token that changed since its
//! intent (no longer selected) is withdrawn, not revoked on its old record.

use revokd::config::Mode;
use revokd::store::{NewRevocation, RevocationState, RevocationTrigger, Trigger, ts};

use super::dead_runs::dead_here;
use super::{admin_app, life_of};
use crate::helpers::{admin_policy_selects, token_deletes};

#[tokio::test]
async fn an_interrupted_revocation_of_a_token_no_longer_selected_is_withdrawn() {
    let app = admin_app().await;
    let victim = admin_policy_selects(&app.org, app.now)
        .into_iter()
        .next()
        .expect("a selected token");
    // Recorded as selected (admin:write), then a run died with its intent committed.
    app.sweep(Mode::DryRun).await;
    let dead = (app.store)
        .begin_sweep(
            Trigger::Schedule,
            Mode::Enforce,
            chrono::Utc::now(),
            &dead_here(4_194_998),
        )
        .await
        .expect("a sweep row");
    let (trigger, pending) = (RevocationTrigger::Policy, RevocationState::Pending);
    let intent = NewRevocation {
        policy: Some("old-admin".into()),
        sweep_id: Some(dead),
        ..NewRevocation::new(
            Some(victim.id.clone()),
            victim.user_id.clone(),
            victim.client_id.clone(),
            trigger,
            Mode::Enforce,
            pending,
            ts(chrono::Utc::now()),
        )
    };
    app.store
        .append_revocation(&intent)
        .await
        .expect("the intent");
    // Meanwhile the token lost the scope that selected it.
    let mut now = victim.clone();
    now.scopes.retain(|s| s != "admin:write");
    app.org.add_token(now);

    let report = app.sweep(Mode::Enforce).await;

    assert_eq!(report.reconciled.intents_resolved, 1, "{report:?}");
    assert_eq!(token_deletes(&app.org).get(&victim.id), None, "no DELETE");
    let held = app.org.tokens(&victim.user_id, &victim.client_id);
    assert!(held.iter().any(|t| t.id == victim.id), "the token stays");
    let life = life_of(&app, &victim.id).await;
    assert_eq!(
        life.last().map(|r| r.0.as_str()),
        Some("withdrawn"),
        "{life:?}"
    );
}
