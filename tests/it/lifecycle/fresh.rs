//! Reconciliation decides an interrupted revocation on what Okta says now: the record its
//! check fetched is recorded before the gate decides, so a token that changed since its
//! intent (no longer selected) is withdrawn, not revoked on its old record.

use revokd::config::Mode;

use super::dead_runs::dead_here;
use super::{admin_app, dead_runs_intent, life_of};
use crate::helpers::{first_admin_selected, token_deletes};

#[tokio::test]
async fn an_interrupted_revocation_of_a_token_no_longer_selected_is_withdrawn() {
    let app = admin_app().await;
    let victim = first_admin_selected(&app);
    // Recorded as selected (admin:write), then a run died with its intent committed.
    app.sweep(Mode::DryRun).await;
    dead_runs_intent(&app, &victim, &dead_here(4_194_998), chrono::Utc::now()).await;
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
