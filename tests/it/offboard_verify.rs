//! What an offboarding reaches and what it counts as verified: every app the configuration
//! targets is visited for the user, though Okta's list of the user's clients does not name
//! it; and a token one listing left out (a lagging read) and a later one shows again is not
//! counted gone, nor is the pair's revoke-all, so a job whose DELETEs took no effect does not
//! end verified while a later listing shows its tokens.

use revokd::sim::{Fault, FaultKind, RouteKind, SimConfig, SimOrg};
use revokd::store::RevocationState;

use crate::helpers::{all_output, run_revokd, sim_config, small_org, spawn_app};
use crate::offboard::user_with_two_clients;

/// Okta names the clients a user "has grants or tokens" for, but does not publish whether
/// that covers every authorization server: an app the configuration targets is offboarded
/// for the user whether or not it is named, before any sweep stored its tokens.
#[tokio::test(flavor = "multi_thread")]
async fn an_app_target_is_offboarded_though_the_users_clients_do_not_name_it() {
    let probe = SimOrg::start(small_org()).await.expect("org starts");
    let (user, clients) = user_with_two_clients(&probe);
    let app_client = clients[0].clone();
    let org = SimOrg::start(SimConfig {
        user_clients_unlisted: vec![app_client.clone()],
        ..small_org()
    })
    .await
    .expect("org starts");
    assert!(!org.tokens(&user, &app_client).is_empty());
    // And an app the user holds nothing of: visited, found empty.
    let other = (org.pairs().into_iter())
        .map(|(_, c)| c)
        .find(|c| org.tokens(&user, c).is_empty() && !clients.contains(c))
        .expect("a client the user holds nothing of");
    let dir = tempfile::tempdir().expect("temp dir");
    let apps = format!("[[targets]]\napps = [\"{app_client}\", \"{other}\"]\n");
    let (config, _) = sim_config(&org, dir.path(), &[], &apps);

    let args = [
        "--config",
        config.as_str(),
        "offboard",
        "--user",
        user.as_str(),
    ];
    let out = run_revokd(&args, &[]).await;

    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    assert!(
        org.tokens(&user, &app_client).is_empty(),
        "the app's tokens are revoked"
    );
    assert!(
        org.tokens(&user, &clients[1]).is_empty(),
        "and the named client's"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_left_out_of_one_listing_and_listed_again_is_not_verified_gone() {
    let app = spawn_app(small_org()).await;
    let (user, client) = (app.org.pairs().into_iter())
        .find(|(u, c)| (2..=200).contains(&app.org.tokens(u, c).len()))
        .expect("the seed gives a pair of two tokens or more on one page");
    let held = app.org.tokens(&user, &client);
    let ids: Vec<String> = held.iter().map(|t| t.id.clone()).collect();
    let on_pair = |kind| Fault {
        user: Some(user.clone()),
        client: Some(client.clone()),
        ..Fault::always(kind)
    };
    // Every DELETE answered 204 and ignored; one listing leaves out every token but the last,
    // the next the last alone: each token was missing from one listing, and is listed again.
    app.org.inject(on_pair(FaultKind::IgnoreRevocation));
    for (i, token) in ids.iter().enumerate() {
        let after = if i + 1 == ids.len() { 2 } else { 1 };
        let omit = FaultKind::OmitToken {
            token: token.clone(),
            after,
        };
        app.org.inject(Fault {
            times: Some(1),
            ..on_pair(omit)
        });
    }

    let (job_id, report) = app.offboard(&user).await;

    assert_eq!(
        app.org.tokens(&user, &client).len(),
        held.len(),
        "Okta holds them all"
    );
    let listings = app.org.stats().route(RouteKind::ListTokens);
    assert!(listings >= 4, "the faults fired: {listings} listings");
    let outcome = (report.clients.iter())
        .find(|c| c.client_id == client)
        .expect("the pair was offboarded");
    assert!(!outcome.verified, "{outcome:?}");
    assert!(outcome.error.is_some(), "{outcome:?}");
    assert!(!report.succeeded());
    let rows = app.store.revocations().await.expect("audit rows");
    for token in &ids {
        let last = (rows.iter())
            .rfind(|r| r.job_id == Some(job_id) && r.token_id.as_ref() == Some(token))
            .expect("an intent of the token");
        assert_eq!(last.state, RevocationState::Failed.as_str(), "{last:?}");
        assert!(last.verified_at.is_none(), "{last:?}");
    }
    // Nor is the pair's revoke-all, which the tokens listed again outlived.
    let whole: Vec<_> = (rows.iter())
        .filter(|r| r.job_id == Some(job_id) && r.token_id.is_none() && r.client_id == client)
        .collect();
    assert!(!whole.is_empty(), "the pair was revoked whole");
    assert!(whole.iter().all(|r| r.verified_at.is_none()), "{whole:#?}");
}

/// A user id Okta does not know (a deleted user, or a typo) offboards no one: the command says
/// so rather than report only "result: ok".
#[tokio::test(flavor = "multi_thread")]
async fn an_offboarding_of_a_user_okta_does_not_know_says_so() {
    let org = SimOrg::start(small_org()).await.expect("org starts");
    let dir = tempfile::tempdir().expect("temp dir");
    let (config, _) = sim_config(&org, dir.path(), &[], "");
    let user = "00uNoSuchUser000000";
    let out = run_revokd(
        &["--config", config.as_str(), "offboard", "--user", user],
        &[],
    )
    .await;
    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("Okta knows no such user"), "{text}");
}
