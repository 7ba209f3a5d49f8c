//! What an offboarding reaches and what it counts as verified: every app the configuration
//! targets is visited for the user, though Okta's list of the user's clients does not name
//! it; and a token one listing left out (a lagging read) and a later one shows again is not
//! counted gone, nor is the pair's revoke-all, so a job whose DELETEs took no effect does not
//! end verified while a later listing shows its tokens. A job tried again records each
//! revocation it sends again (`pending`) before the DELETE, as a first attempt does.

use revokd::sim::{Delivery, Fault, FaultKind, RouteKind, SimConfig, SimOrg};
use revokd::store::RevocationState;

use crate::daemon::harness::PATIENCE;
use crate::helpers::{all_output, run_revokd, sim_config, small_org, spawn_app};
use crate::offboard::{DEACTIVATE, SECRET, hook_daemon, user_with_two_clients, wait_for_jobs};

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

/// A hook job whose first attempt's DELETEs took no effect (answered 204, the tokens still
/// listed) is tried again: the second attempt records each revocation it sends again, the
/// tokens' and the pair's revoke-all alike, `pending` before its DELETE, so an interruption
/// would leave it for reconciliation rather than unrecorded.
#[tokio::test(flavor = "multi_thread")]
async fn a_job_tried_again_records_each_revocation_before_sending_it_again() {
    let org = SimOrg::start(small_org()).await.expect("org starts");
    let dir = tempfile::tempdir().expect("temp dir");
    let user = org.all_tokens()[0].user_id.clone();
    org.inject(Fault {
        user: Some(user.clone()),
        ..Fault::always(FaultKind::IgnoreRevocation)
    });
    let mut daemon = hook_daemon(&org, dir.path(), "").await;
    let url = format!("{}/hooks/okta", daemon.base);
    let events = [org.emit_event(DEACTIVATE, &user)];
    let delivered = org.deliver_hook(&url, SECRET, &events, Delivery::Once);
    assert_eq!(delivered.await.expect("delivered"), vec![200]);
    wait_for_jobs(&daemon.pool, "a first attempt not verified", |r| {
        r.iter().any(|j| j.2 == "queued" && j.3 == 1)
    })
    .await;
    org.clear_faults();
    wait_for_jobs(&daemon.pool, "the job done", |r| {
        r.iter().any(|j| j.2 == "done")
    })
    .await;

    let rows: Vec<(i64, Option<String>, String, i64)> = sqlx::query_as(
        "SELECT COALESCE(intent_id, id), token_id, state, attempts FROM revocations
         WHERE trigger = 'offboard' ORDER BY id",
    )
    .fetch_all(&daemon.pool)
    .await
    .expect("audit rows");
    let mut intents: Vec<i64> = rows.iter().map(|r| r.0).collect();
    intents.sort_unstable();
    intents.dedup();
    assert!(rows.iter().any(|r| r.1.is_none()), "a revoke-all: {rows:?}");
    assert!(
        rows.iter().any(|r| r.1.is_some()),
        "token intents: {rows:?}"
    );
    for intent in intents {
        let of: Vec<(&str, i64)> = (rows.iter().filter(|r| r.0 == intent))
            .map(|r| (r.2.as_str(), r.3))
            .collect();
        // Opened, failed at least once, each later send recorded before it, done at last.
        assert_eq!(of.first(), Some(&("pending", 0)), "intent {intent}: {of:?}");
        assert_eq!(
            of.last().map(|r| r.0),
            Some("done"),
            "intent {intent}: {of:?}"
        );
        assert!(
            of.iter().any(|r| r.0 == "failed"),
            "intent {intent}: {of:?}"
        );
        for pair in of.windows(2) {
            if let [("failed", n), next] = pair {
                assert_eq!(*next, ("pending", *n), "intent {intent}: {of:?}");
            }
        }
    }
    daemon.signal("TERM").await;
    assert_eq!(daemon.wait_exit(PATIENCE).await.code(), Some(0));
}
