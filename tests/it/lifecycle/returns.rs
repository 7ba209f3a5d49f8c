//! A token revokd revoked that Okta lists ACTIVE again and that stays (an exemption now
//! covers it): it is active again in `v_active_tokens` and in `inventory`, now and at any
//! instant since its return, and its return is counted once, however many sweeps see it after.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use revokd::config::{Config, ExemptionConfig, Mode};
use revokd::report::{self, Cell, Kind, Request};
use revokd::sim::{Fault, FaultKind};

use super::admin_app;
use crate::helpers::{TestApp, admin_policy, admin_policy_selects};

async fn inventory(app: &TestApp, at: Option<DateTime<Utc>>) -> BTreeSet<String> {
    let request = Request {
        at,
        ..Request::all(Kind::Inventory)
    };
    let table = report::build(&app.store, &Config::default(), &request, Utc::now())
        .await
        .expect("the inventory");
    (table.column("token_id").into_iter())
        .filter_map(|c| match c {
            Cell::Text(s) => Some(s.clone()),
            _ => None,
        })
        .collect()
}

async fn active_view(app: &TestApp) -> BTreeSet<String> {
    sqlx::query_scalar("SELECT token_id FROM v_active_tokens")
        .fetch_all(app.store.pool())
        .await
        .expect("the view")
        .into_iter()
        .collect()
}

async fn reappeared_at(app: &TestApp, id: &str) -> Option<String> {
    sqlx::query_scalar("SELECT reappeared_at FROM tokens WHERE token_id = ?")
        .bind(id)
        .fetch_one(app.store.pool())
        .await
        .expect("the token's row")
}

#[tokio::test]
async fn a_token_back_after_its_revocation_is_active_again_from_its_return_on() {
    let mut app = admin_app().await;
    let victim = admin_policy_selects(&app.org, app.now)[0].clone();
    app.sweep(Mode::Enforce).await;
    assert!(!active_view(&app).await.contains(&victim.id));

    // It comes back, and an exemption now keeps it.
    let keep = ExemptionConfig {
        name: Some("keep".into()),
        tokens: vec![victim.id.clone()],
        ..ExemptionConfig::default()
    };
    app.reconfigure(&[admin_policy()], &[keep]);
    app.org.add_token(victim.clone());
    let back = app.sweep(Mode::Enforce).await;
    assert_eq!(back.counts.tokens_reappeared, 1);
    let returned = reappeared_at(&app, &victim.id).await;
    assert!(returned.is_some());
    let between = Utc::now();

    // Used since: Okta's record changes, and the token is written whole again.
    let mut used = victim.clone();
    used.last_updated = Utc::now();
    app.org.add_token(used);
    let later = app.sweep(Mode::Enforce).await;
    assert_eq!(
        later.counts.tokens_reappeared, 0,
        "its return is counted once"
    );
    assert_eq!(
        reappeared_at(&app, &victim.id).await,
        returned,
        "the return stays when it was"
    );
    let revoked = app
        .org
        .revoked()
        .iter()
        .filter(|r| r.token.id == victim.id)
        .count();
    assert_eq!(revoked, 1, "exempt: not revoked again");

    let live: BTreeSet<String> = app.org.all_tokens().into_iter().map(|t| t.id).collect();
    assert!(live.contains(&victim.id));
    assert_eq!(
        active_view(&app).await,
        live,
        "v_active_tokens lists what Okta holds"
    );
    assert_eq!(inventory(&app, None).await, live);
    assert!(
        inventory(&app, Some(between)).await.contains(&victim.id),
        "active at any instant since its return"
    );
}

fn keep(token: &str) -> ExemptionConfig {
    ExemptionConfig {
        name: Some("keep".into()),
        tokens: vec![token.to_owned()],
        ..ExemptionConfig::default()
    }
}

#[tokio::test]
async fn a_token_revoked_twice_is_active_between_its_first_return_and_its_second_revocation() {
    let mut app = admin_app().await;
    let victim = admin_policy_selects(&app.org, app.now)[0].clone();
    app.sweep(Mode::Enforce).await;
    app.reconfigure(&[admin_policy()], &[keep(&victim.id)]);
    app.org.add_token(victim.clone());
    app.sweep(Mode::Enforce).await;
    let between = Utc::now();
    // No longer exempt: revoked again, then back again and kept.
    app.reconfigure(&[admin_policy()], &[]);
    app.sweep(Mode::Enforce).await;
    let gone_again = Utc::now();
    app.reconfigure(&[admin_policy()], &[keep(&victim.id)]);
    app.org.add_token(victim.clone());
    app.sweep(Mode::Enforce).await;

    let deletes = crate::helpers::token_deletes(&app.org);
    assert_eq!(
        deletes.get(&victim.id).map(Vec::len),
        Some(2),
        "revoked twice"
    );
    assert!(
        inventory(&app, Some(between)).await.contains(&victim.id),
        "Okta held it between its first return and its second revocation"
    );
    assert!(!inventory(&app, Some(gone_again)).await.contains(&victim.id));
    assert!(inventory(&app, None).await.contains(&victim.id));
    // Pruned up to that instant: the history kept still answers it.
    app.store.prune(between).await.expect("pruned");
    assert!(
        inventory(&app, Some(between)).await.contains(&victim.id),
        "the first revocation's absence is kept"
    );
}

#[tokio::test]
async fn a_revocation_recorded_without_its_tokens_absence_still_counts_from_its_instant() {
    let app = admin_app().await;
    let victim = admin_policy_selects(&app.org, app.now)[0].clone();
    app.sweep(Mode::Enforce).await;
    // As after a crash between the revocation's record and the token's row being marked.
    for sql in [
        "UPDATE token_state SET gone_at = NULL, revoked_at = NULL WHERE token_id = ?",
        "DELETE FROM token_absences WHERE token_id = ?",
    ] {
        sqlx::query(sql)
            .bind(&victim.id)
            .execute(app.store.pool())
            .await
            .expect("the crash's state");
    }

    assert!(!inventory(&app, Some(Utc::now())).await.contains(&victim.id));
}

#[tokio::test]
async fn a_token_okta_called_gone_and_then_listed_again_is_active_at_any_instant_since() {
    let mut app = admin_app().await;
    let selected = admin_policy_selects(&app.org, app.now);
    let first = &selected[0];
    // Okta answers the pair's first revocation 404: revokd records it already gone.
    app.org.inject(Fault {
        user: Some(first.user_id.clone()),
        client: Some(first.client_id.clone()),
        kind: FaultKind::RevocationStatus(404),
        times: Some(1),
    });
    app.sweep(Mode::Enforce).await;
    let called_gone: Vec<String> = (app.store.revocations().await.expect("audit rows"))
        .into_iter()
        .filter(|r| r.state == "already_gone")
        .filter_map(|r| r.token_id)
        .collect();
    let [victim] = called_gone.as_slice() else {
        panic!("one token recorded already gone: {called_gone:?}");
    };
    assert!(app.org.all_tokens().iter().any(|t| &t.id == victim));
    // Okta lists it again, and an exemption now keeps it.
    app.reconfigure(&[admin_policy()], &[keep(victim)]);
    app.sweep(Mode::Enforce).await;
    let since = Utc::now();

    assert!(active_view(&app).await.contains(victim));
    assert!(inventory(&app, None).await.contains(victim));
    assert!(
        inventory(&app, Some(since)).await.contains(victim),
        "the inventory at an instant agrees with the inventory now"
    );
}
