//! A 404 that Okta did not send (a gateway or proxy in front of it, a host that is not Okta) is
//! no proof that a token, a pair or a user is gone: only Okta's `E0000007` is. Such answers
//! fail what they hit; nothing is recorded as revoked, already gone or verified.

use revokd::config::{Mode, PolicyConfig};
use revokd::sim::{Fault, FaultKind, RouteKind};

use crate::helpers::{
    TestApp, all_output, run_revokd, sim_config, small_org, spawn_app, spawn_app_with,
};
use crate::offboard::tokens_left;

/// The state of the latest row of every intent for `user`'s tokens of `client`.
async fn latest_states(app: &TestApp, user: &str, client: &str) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT state FROM v_revocation_state WHERE user_id = ? AND client_id = ? ORDER BY id",
    )
    .bind(user)
    .bind(client)
    .fetch_all(app.store.pool())
    .await
    .expect("audit rows")
}

/// An app whose one policy revokes every token of the small pair's client, and that pair.
async fn app_revoking_the_small_pair() -> (TestApp, String, String) {
    let (user, client) = spawn_app(small_org()).await.small_pair();
    let retire = PolicyConfig {
        name: "retired-app".into(),
        clients: vec![client.clone()],
        ..PolicyConfig::default()
    };
    let app = spawn_app_with(small_org(), |c| c.policies = vec![retire.clone()]).await;
    assert_eq!(
        app.small_pair(),
        (user.clone(), client.clone()),
        "same seed"
    );
    (app, user, client)
}

fn gateway(user: &str, client: Option<&str>, route: RouteKind, status: u16) -> Fault {
    Fault {
        user: Some(user.to_owned()),
        client: client.map(str::to_owned),
        kind: FaultKind::GatewayStatus { route, status },
        times: None,
    }
}

/// Asserts the enforce sweep left the pair's tokens active and recorded each as failed.
async fn assert_recorded_failed(app: &TestApp, user: &str, client: &str, held: usize) {
    assert_eq!(app.org.tokens(user, client).len(), held, "nothing revoked");
    let states = latest_states(app, user, client).await;
    assert_eq!(states.len(), held, "{states:?}");
    assert!(
        states.iter().all(|s| s == "failed"),
        "a 404 Okta did not send proves nothing: {states:?}"
    );
}

#[tokio::test]
async fn a_revocation_a_gateway_answers_404_to_is_failed_not_already_gone() {
    let (app, user, client) = app_revoking_the_small_pair().await;
    let held = app.org.tokens(&user, &client).len();
    app.org
        .inject(gateway(&user, Some(&client), RouteKind::RevokeToken, 404));

    let report = app.sweep(Mode::Enforce).await;

    assert_eq!(report.counts.revocations_failed, held as u64, "{report:?}");
    assert_recorded_failed(&app, &user, &client, held).await;
}

#[tokio::test]
async fn a_gateway_404_to_the_retry_of_a_failed_revocation_is_not_taken_for_its_effect() {
    let (app, user, client) = app_revoking_the_small_pair().await;
    let held = app.org.tokens(&user, &client).len();
    // Each revocation's first attempt meets Okta's 500 (it may have reached Okta); every
    // retry meets a gateway's 404.
    app.org.inject(Fault {
        user: Some(user.clone()),
        client: Some(client.clone()),
        kind: FaultKind::RevocationStatus(500),
        times: Some(u32::try_from(held).expect("few tokens")),
    });
    app.org
        .inject(gateway(&user, Some(&client), RouteKind::RevokeToken, 404));

    let report = app.sweep(Mode::Enforce).await;

    assert_eq!(report.counts.revocations_failed, held as u64, "{report:?}");
    assert_recorded_failed(&app, &user, &client, held).await;
}

/// Offboards a user of two clients while a gateway answers their requests of `routes` with
/// 404: the offboarding is not verified, nothing is revoked, no audit row says otherwise, and
/// the gateway did answer (the sim received requests of those routes).
async fn assert_an_offboarding_through_a_gateway_fails(routes: &[RouteKind]) {
    let app = spawn_app(small_org()).await;
    let (user, _) = crate::offboard::user_with_two_clients(&app.org);
    let held = tokens_left(&app.org, &user);
    for route in routes {
        app.org.inject(gateway(&user, None, *route, 404));
    }

    let (_, report) = app.offboard(&user).await;

    assert!(!report.succeeded(), "{routes:?}: {report:?}");
    assert_eq!(tokens_left(&app.org, &user), held, "nothing revoked");
    let answered = (app.org.requests().iter())
        .filter(|r| routes.contains(&r.route) && r.path_and_query.contains(&user))
        .count();
    assert!(answered > 0, "{routes:?} were asked");
    let gone: Vec<String> = sqlx::query_scalar(
        "SELECT state FROM v_revocation_state WHERE user_id = ? AND state <> 'failed'",
    )
    .bind(&user)
    .fetch_all(app.store.pool())
    .await
    .expect("audit rows");
    assert!(
        gone.is_empty(),
        "{routes:?}: nothing revoked or gone: {gone:?}"
    );
}

#[tokio::test]
async fn an_offboarding_whose_client_discovery_a_gateway_answers_404_is_not_verified() {
    assert_an_offboarding_through_a_gateway_fails(&[RouteKind::ListClients]).await;
}

#[tokio::test]
async fn an_offboarding_whose_pair_listings_a_gateway_answers_404_is_not_verified() {
    assert_an_offboarding_through_a_gateway_fails(&[RouteKind::ListTokens]).await;
}

#[tokio::test]
async fn an_offboarding_whose_revocations_a_gateway_answers_404_is_not_verified() {
    assert_an_offboarding_through_a_gateway_fails(&[RouteKind::RevokeAll, RouteKind::RevokeToken])
        .await;
}

/// A sweep whose every target got a page that is not Okta's (the org URL names a host in front
/// of Okta, or not Okta at all) says so once, naming `okta.org_url`, after the failures; one
/// in which some target was listed does not.
#[tokio::test(flavor = "multi_thread")]
async fn a_sweep_that_got_no_answer_from_okta_points_at_the_org_url() {
    let org = revokd::sim::SimOrg::start(small_org())
        .await
        .expect("org starts");
    let dir = tempfile::tempdir().expect("temp dir");
    let pairs = org.pairs();
    let (config, _) = sim_config(&org, dir.path(), &pairs, "");
    let hint = "check that okta.org_url is the org's Okta domain";
    let gateway = |times| Fault {
        user: None,
        client: None,
        kind: FaultKind::GatewayStatus {
            route: RouteKind::ListTokens,
            status: 404,
        },
        times,
    };
    org.inject(gateway(None));
    let out = run_revokd(&["--config", &config, "sweep"], &[]).await;
    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert_eq!(text.matches(hint).count(), 1, "{text}");

    org.clear_faults();
    org.inject(gateway(Some(1)));
    let out = run_revokd(&["--config", &config, "sweep"], &[]).await;
    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(3), "one target failed: {text}");
    assert!(
        text.contains("not Okta's JSON") && !text.contains(hint),
        "{text}"
    );
}
