//! A token Okta lists with no `status` (the schema marks no field required) may be active:
//! policy decides it as one, and after a DELETE a listing or a GET that still shows it is no
//! proof it was revoked. On a sweep and on an offboarding alike, a revocation Okta ignored is
//! not recorded done while Okta still holds the token.

use revokd::config::Mode;
use revokd::sim::{Fault, FaultKind, SimConfig};
use revokd::store::RevocationState;

use crate::gate::deletes;
use crate::helpers::{TestApp, admin_policy, admin_policy_selects, small_org, spawn_app_with};

async fn org_without_status() -> TestApp {
    let sim = SimConfig {
        omit_status: true,
        ..small_org()
    };
    spawn_app_with(sim, |c| c.policies = vec![admin_policy()]).await
}

fn states(rows: &[revokd::store::AuditRow], state: RevocationState) -> usize {
    rows.iter().filter(|r| r.state == state.as_str()).count()
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_listed_with_no_status_are_revoked_by_policy_and_verified_only_when_gone() {
    let app = org_without_status().await;
    let selected = admin_policy_selects(&app.org, app.now);
    assert!(!selected.is_empty());

    let report = app.sweep(Mode::Enforce).await;

    assert_eq!(report.counts.revocations_done as usize, selected.len());
    assert_eq!(deletes(&app.org).len(), selected.len());
    let held: Vec<String> = app.org.all_tokens().into_iter().map(|t| t.id).collect();
    assert!(selected.iter().all(|t| !held.contains(&t.id)));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_revocation_okta_ignored_is_not_verified_by_a_token_with_no_status() {
    let app = org_without_status().await;
    let selected = admin_policy_selects(&app.org, app.now);
    let before = app.org.all_tokens().len();
    app.org.inject(Fault::always(FaultKind::IgnoreRevocation));

    let report = app.sweep(Mode::Enforce).await;

    assert_eq!(deletes(&app.org).len(), selected.len(), "each was sent");
    assert_eq!(app.org.all_tokens().len(), before, "Okta holds them all");
    assert_eq!(report.counts.revocations_done, 0, "{report:?}");
    let rows = app.store.revocations().await.expect("audit rows");
    assert_eq!(states(&rows, RevocationState::Done), 0, "{rows:#?}");
    assert_eq!(states(&rows, RevocationState::AlreadyGone), 0, "{rows:#?}");
    assert_eq!(states(&rows, RevocationState::Failed), selected.len());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_offboarding_okta_ignored_is_not_verified_by_tokens_with_no_status() {
    let app = org_without_status().await;
    let (user, _) = (app.org.pairs().into_iter())
        .find(|(u, c)| !app.org.tokens(u, c).is_empty())
        .expect("a pair with tokens");
    let held: usize = (app.org.pairs().iter())
        .filter(|(u, _)| *u == user)
        .map(|(u, c)| app.org.tokens(u, c).len())
        .sum();
    app.org.inject(Fault::always(FaultKind::IgnoreRevocation));

    let (_, report) = app.offboard(&user).await;

    assert!(!report.succeeded(), "{report:?}");
    assert!(report.clients.iter().all(|c| !c.verified), "{report:?}");
    let still: usize = (app.org.pairs().iter())
        .filter(|(u, _)| *u == user)
        .map(|(u, c)| app.org.tokens(u, c).len())
        .sum();
    assert_eq!(still, held, "Okta holds them all");
}

/// A token revokd revoked that Okta lists again with no status is back, as one listed
/// `ACTIVE` is: counted, stamped `reappeared_at`, and active in the views again.
#[tokio::test(flavor = "multi_thread")]
async fn a_revoked_token_listed_again_with_no_status_is_back() {
    let app = org_without_status().await;
    let victim = admin_policy_selects(&app.org, app.now)[0].clone();
    app.sweep(Mode::Enforce).await;
    assert!(!app.org.all_tokens().iter().any(|t| t.id == victim.id));

    app.org.add_token(victim.clone());
    let back = app.sweep(Mode::DryRun).await;

    assert_eq!(back.counts.tokens_reappeared, 1, "{back:?}");
    let (reappeared, active): (Option<String>, i64) = sqlx::query_as(
        "SELECT reappeared_at, (SELECT COUNT(*) FROM v_active_tokens WHERE token_id = ?1)
         FROM tokens WHERE token_id = ?1",
    )
    .bind(&victim.id)
    .fetch_one(app.store.pool())
    .await
    .expect("the token's row");
    assert!(reappeared.is_some());
    assert_eq!(active, 1, "active again");
}
