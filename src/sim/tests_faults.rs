//! Tests that every injected fault produces what it says, only for matching requests, and
//! only as many `times` as asked.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::tests_api::{config, get, next_link, send};
use super::{Fault, FaultKind, RouteKind, SimOrg};

async fn org_and_path() -> (SimOrg, String) {
    let org = SimOrg::start(config()).await.expect("start");
    let (user, client) = org.pairs()[0].clone();
    (
        org,
        format!("api/v1/users/{user}/clients/{client}/tokens?limit=5"),
    )
}

#[tokio::test]
async fn status_faults_send_okta_bodies_and_count_down() {
    let (org, path) = org_and_path().await;
    org.inject(Fault::times(FaultKind::Status(500), 2));
    for _ in 0..2 {
        let resp = get(&org, &path).await;
        assert_eq!(resp.status(), 500);
        assert!(resp.headers().contains_key("x-rate-limit-limit"));
        let body: Value = resp.json().await.expect("json");
        assert_eq!(body["errorCode"], "E0000009");
    }
    assert_eq!(get(&org, &path).await.status(), 200);
    org.inject(Fault::times(FaultKind::Status(503), 1));
    let body: Value = get(&org, &path).await.json().await.expect("json");
    assert_eq!(body["errorCode"], "E0000010");
    assert_eq!(org.stats().server_errors, 3);
}

#[tokio::test]
async fn faults_match_only_their_user_and_client() {
    let (org, _) = org_and_path().await;
    let pairs = org.pairs();
    let (user, client) = pairs[0].clone();
    let other_client = pairs
        .iter()
        .find(|(u, c)| *u == user && *c != client)
        .map(|p| p.1.clone());
    let other_user = pairs
        .iter()
        .find(|(u, _)| *u != user)
        .expect("another user")
        .0
        .clone();
    org.inject(Fault {
        user: Some(user.clone()),
        client: Some(client.clone()),
        kind: FaultKind::Status(500),
        times: None,
    });
    assert_eq!(
        get(
            &org,
            &format!("api/v1/users/{user}/clients/{client}/tokens")
        )
        .await
        .status(),
        500
    );
    assert_eq!(
        get(&org, &format!("api/v1/users/{other_user}/clients"))
            .await
            .status(),
        200
    );
    assert_eq!(
        get(&org, &format!("api/v1/users/{user}/clients"))
            .await
            .status(),
        200
    );
    if let Some(c) = other_client {
        assert_eq!(
            get(&org, &format!("api/v1/users/{user}/clients/{c}/tokens"))
                .await
                .status(),
            200
        );
    }
    org.clear_faults();
    assert_eq!(
        get(
            &org,
            &format!("api/v1/users/{user}/clients/{client}/tokens")
        )
        .await
        .status(),
        200
    );
}

#[tokio::test]
async fn throttle_faults_send_okta_429_headers() {
    let (org, path) = org_and_path().await;
    org.inject(Fault::times(
        FaultKind::RateLimited {
            reset_in: Duration::from_secs(5),
        },
        1,
    ));
    let resp = get(&org, &path).await;
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["x-rate-limit-remaining"], "0");
    let reset: i64 = resp.headers()["x-rate-limit-reset"]
        .to_str()
        .expect("a")
        .parse()
        .expect("int");
    assert!(reset >= chrono::Utc::now().timestamp() + 4);
    org.inject(Fault::times(FaultKind::ConcurrencyLimited, 1));
    let resp = get(&org, &path).await;
    assert_eq!(
        (
            resp.status().as_u16(),
            &resp.headers()["x-rate-limit-limit"]
        ),
        (
            429,
            &"0".parse::<reqwest::header::HeaderValue>().expect("hv")
        )
    );
    let stats = org.stats();
    assert_eq!((stats.rate_limited, stats.concurrency_limited), (1, 1));
}

#[tokio::test]
async fn latency_fault_delays_the_response() {
    let (org, path) = org_and_path().await;
    org.inject(Fault::times(
        FaultKind::Latency(Duration::from_millis(200)),
        1,
    ));
    let started = Instant::now();
    assert_eq!(get(&org, &path).await.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(200));
}

#[tokio::test]
async fn body_faults_break_the_body_as_described() {
    let (org, path) = org_and_path().await;
    let intact = get(&org, &path).await.text().await.expect("text");

    org.inject(Fault::times(FaultKind::MalformedJson, 1));
    let resp = get(&org, &path).await;
    assert_eq!(
        (
            resp.status().as_u16(),
            resp.headers()["content-type"].to_str().expect("a")
        ),
        (200, "application/json")
    );
    assert!(serde_json::from_str::<Value>(&resp.text().await.expect("text")).is_err());

    org.inject(Fault::times(FaultKind::TruncatedBody, 1));
    let resp = get(&org, &path).await;
    let length: usize = resp.headers()["content-length"]
        .to_str()
        .expect("a")
        .parse()
        .expect("int");
    let cut = resp.text().await.expect("complete body");
    assert_eq!(cut.len(), length);
    assert!(intact.starts_with(&cut) && cut.len() < intact.len() && cut.starts_with('['));
    assert!(serde_json::from_str::<Value>(&cut).is_err());

    org.inject(Fault::times(FaultKind::OversizedBody(200_000), 1));
    let big = get(&org, &path).await.text().await.expect("text");
    assert!(big.len() >= 200_000);
    assert!(serde_json::from_str::<Vec<Value>>(&big).is_ok());

    org.inject(Fault::times(FaultKind::WrongContentType, 1));
    let resp = get(&org, &path).await;
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .expect("a")
            .starts_with("text/html")
    );
    assert_eq!(get(&org, &path).await.text().await.expect("text"), intact);
}

#[tokio::test]
async fn link_faults_send_a_foreign_or_looping_next() {
    let (org, path) = org_and_path().await;
    let foreign = url::Url::parse("https://evil.example/api/v1/steal?after=x").expect("url");
    org.inject(Fault::times(FaultKind::ForeignNextLink(foreign.clone()), 1));
    assert_eq!(
        next_link(&get(&org, &path).await),
        Some(foreign.to_string())
    );
    org.inject(Fault::times(FaultKind::CursorLoop, 1));
    assert_eq!(
        next_link(&get(&org, &path).await),
        Some(format!("{}{path}", org.base_url()))
    );
    assert_ne!(
        next_link(&get(&org, &path).await),
        Some(format!("{}{path}", org.base_url()))
    );
}

#[tokio::test]
async fn header_faults_duplicate_rate_headers_or_drop_date() {
    let (org, path) = org_and_path().await;
    org.inject(Fault::times(FaultKind::DuplicateRateLimitHeaders, 1));
    let resp = get(&org, &path).await;
    for name in [
        "x-rate-limit-limit",
        "x-rate-limit-remaining",
        "x-rate-limit-reset",
    ] {
        let values: Vec<_> = resp.headers().get_all(name).iter().collect();
        assert_eq!(values.len(), 2, "{name}");
        assert_ne!(values[0], values[1]);
    }
    let http = reqwest::Client::new();
    let url = org.base_url().join(&path).expect("url");
    org.inject(Fault::times(FaultKind::MissingDateHeader, 1));
    for expect_date in [false, true] {
        let resp = http
            .get(url.clone())
            .header("Authorization", "SSWS sim-api-token")
            .send()
            .await
            .expect("sent");
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers().contains_key("date"), expect_date);
        let page: Vec<Value> = resp.json().await.expect("body intact");
        assert_eq!(page.len(), 5);
    }
}

#[tokio::test]
async fn reset_connection_closes_without_a_response_and_changes_nothing() {
    let (org, _) = org_and_path().await;
    let (user, client) = org.pairs()[0].clone();
    let before = org.tokens(&user, &client);
    let url = format!(
        "{}api/v1/users/{user}/clients/{client}/tokens/{}",
        org.base_url(),
        before[0].id
    );
    org.inject(Fault::times(FaultKind::ResetConnection, 1));
    let outcome = reqwest::Client::new()
        .delete(&url)
        .header("Authorization", "SSWS sim-api-token")
        .send()
        .await;
    assert!(
        outcome.is_err(),
        "expected a transport error, got {outcome:?}"
    );
    assert_eq!(org.tokens(&user, &client), before);
    assert_eq!(org.requests().last().map(|r| r.status), Some(0));
    assert_eq!(send(reqwest::Method::DELETE, &url).await.status(), 204);
}

#[tokio::test]
async fn parked_requests_are_logged_on_arrival_with_what_the_org_did() {
    let org = SimOrg::start(config()).await.expect("start");
    let (user, client) = org
        .pairs()
        .into_iter()
        .max_by_key(|(u, c)| org.tokens(u, c).len())
        .expect("pairs");
    let tokens = org.tokens(&user, &client);
    assert!(tokens.len() >= 2, "the seed gives a pair two tokens");
    let url = |id: &str| {
        format!(
            "{}api/v1/users/{user}/clients/{client}/tokens/{id}",
            org.base_url()
        )
    };
    for (kind, token) in [
        (FaultKind::HangBefore(RouteKind::RevokeToken), &tokens[0].id),
        (FaultKind::HangAfter(RouteKind::RevokeToken), &tokens[1].id),
    ] {
        org.inject(Fault::times(kind, 1));
        let url = url(token);
        let parked = tokio::spawn(async move { send(reqwest::Method::DELETE, &url).await });
        org.until_hung(org.hung() + 1).await;
        parked.abort();
    }
    let log: Vec<_> = org
        .requests()
        .into_iter()
        .map(|r| (r.route, r.token_id, r.status, r.answered))
        .collect();
    assert_eq!(
        log,
        [
            (RouteKind::RevokeToken, Some(tokens[0].id.clone()), 0, false),
            (
                RouteKind::RevokeToken,
                Some(tokens[1].id.clone()),
                204,
                false
            ),
        ],
        "parked before the operation: nothing decided; after: revoked, unanswered"
    );
    assert_eq!(org.revoked().len(), 1);
}
