//! Okta faults fail only the target they hit, with a recorded error; the sweep goes on, and
//! every other pair is stored.

use std::net::TcpListener;
use std::time::Duration;

use revokd::config::{Mode, PolicyConfig};
use revokd::sim::{Fault, FaultKind, RouteKind};
use revokd::store::SweepStatus;

use crate::helpers::{TestApp, small_org, spawn_app, spawn_app_with};

/// Injects `kind` on every request for `pair`, sweeps, and checks that only that pair failed,
/// with an error containing `expected`.
async fn assert_fault_fails_only_its_target(
    app: &TestApp,
    pair: &(String, String),
    kind: FaultKind,
    expected: &str,
) {
    let (user, client) = pair;
    app.org.inject(Fault {
        user: Some(user.clone()),
        client: Some(client.clone()),
        kind: kind.clone(),
        times: None,
    });

    let report = app.sweep(Mode::DryRun).await;

    assert_eq!(report.status, SweepStatus::Partial, "{kind:?}");
    assert_eq!(
        report.counts.targets_failed, 1,
        "{kind:?}: {:?}",
        report.failures
    );
    assert_eq!(
        (
            report.failures[0].user_id.as_str(),
            report.failures[0].client_id.as_str()
        ),
        (user.as_str(), client.as_str())
    );
    let (status, _) = app.sweep_row(report.sweep_id).await;
    assert_eq!(status, "partial");
    let (result, error) = app.target_row(user, client).await;
    assert_eq!(result, "failed", "{kind:?}");
    let error = error.expect("the error is recorded");
    assert!(
        error.contains(expected),
        "{kind:?}: `{error}` lacks `{expected}`"
    );
    app.assert_pairs_stored(Some(pair)).await;
}

#[tokio::test]
async fn a_persistent_500_fails_only_its_target() {
    let app = spawn_app(small_org()).await;
    let pair = app.small_pair();
    assert_fault_fails_only_its_target(&app, &pair, FaultKind::Status(500), "500").await;
}

#[tokio::test]
async fn a_next_link_to_another_host_is_refused_and_that_host_receives_nothing() {
    let app = spawn_app(small_org()).await;
    // A std listener: a connection would wait in its backlog, so counting after the sweep
    // needs no accept loop racing the assertion.
    let elsewhere = TcpListener::bind("127.0.0.1:0").expect("bind");
    elsewhere.set_nonblocking(true).expect("nonblocking");
    let port = elsewhere.local_addr().expect("addr").port();
    let foreign = url::Url::parse(&format!(
        "http://127.0.0.1:{port}/api/v1/users/x/clients/y/tokens?after=stolen"
    ))
    .expect("url");
    let pair = app.big_pair();
    assert_fault_fails_only_its_target(
        &app,
        &pair,
        FaultKind::ForeignNextLink(foreign),
        "another origin",
    )
    .await;
    let mut connections = 0;
    while elsewhere.accept().is_ok() {
        connections += 1;
    }
    assert_eq!(connections, 0, "the foreign host was contacted");
}

#[tokio::test]
async fn each_broken_response_fails_only_its_target() {
    let cases = [
        (FaultKind::MalformedJson, "undecodable"),
        (FaultKind::TruncatedBody, "undecodable"),
        (FaultKind::CursorLoop, "cursor loop"),
        (FaultKind::WrongContentType, "expected application/json"),
        (
            FaultKind::OversizedBody(9 * 1024 * 1024),
            "larger than 8388608 bytes",
        ),
        (FaultKind::ResetConnection, "transport error"),
    ];
    for (kind, expected) in cases {
        let app = spawn_app(small_org()).await;
        let pair = app.small_pair();
        assert_fault_fails_only_its_target(&app, &pair, kind, expected).await;
    }
}

#[tokio::test]
async fn odd_but_valid_headers_do_not_fail_the_sweep() {
    for kind in [
        FaultKind::DuplicateRateLimitHeaders,
        FaultKind::MissingDateHeader,
    ] {
        let app = spawn_app(small_org()).await;
        app.org.inject(Fault::always(kind.clone()));

        let report = app.sweep(Mode::DryRun).await;

        assert_eq!(
            report.status,
            SweepStatus::Ok,
            "{kind:?}: {:?}",
            report.failures
        );
        assert_eq!(report.counts.targets_failed, 0);
        app.assert_pairs_stored(None).await;
    }
}

#[tokio::test]
async fn a_listing_that_fails_after_its_first_page_records_none_of_its_plan() {
    // Every token of the big pair's client is selected; its listing fails on its second page
    // (never answered: the request times out), after the first page's tokens were decided.
    let probe = spawn_app(small_org()).await;
    let (user, client) = probe.big_pair();
    let retire = PolicyConfig {
        name: "retired-app".into(),
        clients: vec![client.clone()],
        ..PolicyConfig::default()
    };
    let app = spawn_app_with(small_org(), |c| {
        c.policies = vec![retire.clone()];
        c.okta.page_size = 2;
        c.okta.timeout = Duration::from_millis(300);
        c.okta.max_retries = 0;
    })
    .await;
    assert_eq!(
        app.big_pair(),
        (user.clone(), client.clone()),
        "same seed, same org"
    );
    assert!(app.org.tokens(&user, &client).len() > 2, "more than a page");
    app.org.inject(Fault {
        user: Some(user.clone()),
        client: Some(client.clone()),
        kind: FaultKind::HangBeforeNth {
            route: RouteKind::ListTokens,
            after: 1,
        },
        times: None,
    });

    let report = app.sweep(Mode::DryRun).await;

    assert_eq!(report.counts.targets_failed, 1, "{:?}", report.failures);
    assert_eq!(app.org.hung(), 1, "the second page was asked for");
    let planned: Vec<(String, String)> =
        sqlx::query_as("SELECT user_id, client_id FROM revocations WHERE state = 'planned'")
            .fetch_all(app.store.pool())
            .await
            .expect("audit rows");
    let others = (app.org.pairs().into_iter())
        .filter(|(u, c)| *c == client && *u != user)
        .map(|(u, c)| app.org.tokens(&u, &c).len())
        .sum::<usize>();
    assert!(others > 0, "the seed gives the client other pairs");
    assert_eq!(planned.len(), others, "the other pairs' tokens, each once");
    assert!(
        planned.iter().all(|(u, _)| *u != user),
        "none of the failed listing's"
    );
    assert_eq!(report.counts.revocations_planned, others as u64);
}

#[tokio::test]
async fn a_page_cut_short_mid_body_is_fetched_again_and_the_target_succeeds() {
    let app = spawn_app(small_org()).await;
    let (user, client) = app.big_pair();
    app.org.inject(Fault {
        user: Some(user.clone()),
        client: Some(client.clone()),
        kind: FaultKind::CutBody,
        times: Some(1),
    });

    let report = app.sweep(Mode::DryRun).await;

    assert_eq!(report.status, SweepStatus::Ok, "{:?}", report.failures);
    let (result, error) = app.target_row(&user, &client).await;
    assert_eq!((result.as_str(), error), ("ok", None));
    let asked = (app.org.requests().iter())
        .filter(|r| r.route == RouteKind::ListTokens && r.path_and_query.contains(&user))
        .filter(|r| r.path_and_query.contains(&client) && !r.path_and_query.contains("after="))
        .count();
    assert_eq!(asked, 2, "the cut page, then the same page again");
    app.assert_pairs_stored(None).await;
}
