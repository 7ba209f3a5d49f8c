//! Tests of the throttles and the standard headers: per-bucket rate limits with Okta's
//! headers in both bucket models, window reset and the per-window record, background load,
//! the concurrency 429 and the peak of arrivals, and the request log.

use std::time::Duration;

use serde_json::Value;

use super::tests_api::{config, get, send};
use super::{BucketModel, RouteKind, SimBucket, SimConfig, SimOrg};

fn header(resp: &reqwest::Response, name: &str) -> i64 {
    resp.headers()[name]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("integer")
}

fn epoch_now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[tokio::test]
async fn the_fourth_request_in_a_window_of_three_gets_429_e0000047() {
    let cfg = SimConfig {
        rate_limit_per_window: 3,
        // Long enough that the five requests never straddle two windows (a whole-second
        // window starts on the second of its first request).
        window: Duration::from_secs(60),
        ..config()
    };
    let org = SimOrg::start(cfg).await.expect("start");
    let (user, client) = org.pairs()[0].clone();
    let path = format!("api/v1/users/{user}/clients/{client}/tokens");
    for remaining in [2, 1, 0] {
        let resp = get(&org, &path).await;
        assert_eq!(resp.status(), 200);
        assert_eq!(header(&resp, "x-rate-limit-limit"), 3);
        assert_eq!(header(&resp, "x-rate-limit-remaining"), remaining);
    }
    let resp = get(&org, &path).await;
    assert_eq!(resp.status(), 429);
    assert_eq!(header(&resp, "x-rate-limit-limit"), 3);
    assert_eq!(header(&resp, "x-rate-limit-remaining"), 0);
    let reset = header(&resp, "x-rate-limit-reset");
    assert!(
        reset >= epoch_now() + 58 && reset <= epoch_now() + 60,
        "reset {reset}"
    );
    assert_eq!(resp.headers()["content-type"], "application/json");
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["errorCode"], "E0000047");
    assert_eq!(
        body["errorSummary"],
        "API call exceeded rate limit due to too many requests."
    );
    // Another method on the same path is another bucket.
    let delete = send(
        reqwest::Method::DELETE,
        &format!("{}{path}", org.base_url()),
    )
    .await;
    assert_eq!(
        (
            delete.status().as_u16(),
            header(&delete, "x-rate-limit-remaining")
        ),
        (204, 2)
    );
    let stats = org.stats();
    assert_eq!(
        (
            stats.rate_limited,
            stats.route(RouteKind::ListTokens),
            stats.requests
        ),
        (1, 4, 5)
    );
}

#[tokio::test]
async fn in_the_shared_model_gets_and_deletes_under_a_users_clients_draw_on_one_bucket() {
    let cfg = SimConfig {
        rate_limit_per_window: 4,
        window: Duration::from_secs(30),
        bucket_model: BucketModel::SharedUserClients,
        ..config()
    };
    let org = SimOrg::start(cfg).await.expect("start");
    let (user, client) = org.pairs()[0].clone();
    let path = format!("api/v1/users/{user}/clients/{client}/tokens");
    let url = format!("{}{path}", org.base_url());
    let mut remaining = vec![header(&get(&org, &path).await, "x-rate-limit-remaining")];
    let delete = send(reqwest::Method::DELETE, &url).await;
    remaining.push(header(&delete, "x-rate-limit-remaining"));
    let clients = get(&org, &format!("api/v1/users/{user}/clients")).await;
    remaining.push(header(&clients, "x-rate-limit-remaining"));
    remaining.push(header(
        &get(&org, "api/v1/logs").await,
        "x-rate-limit-remaining",
    ));
    assert_eq!(
        remaining,
        [3, 2, 1, 3],
        "the System Log keeps its own bucket"
    );
    let windows = org.windows();
    let shared: Vec<_> = windows
        .iter()
        .filter(|w| w.bucket == SimBucket::UserClients)
        .collect();
    assert_eq!(shared.len(), 1, "{windows:?}");
    assert_eq!((shared[0].served, shared[0].refused), (3, 0));
}

#[tokio::test]
async fn each_window_records_what_it_served_and_refused() {
    let cfg = SimConfig {
        rate_limit_per_window: 2,
        window: Duration::from_millis(300),
        ..config()
    };
    let org = SimOrg::start(cfg).await.expect("start");
    let path = format!("api/v1/users/{}/clients", org.pairs()[0].0);
    for _ in 0..3 {
        get(&org, &path).await;
    }
    // Waiting out the window is the behaviour under test, not a readiness wait.
    tokio::time::sleep(Duration::from_millis(350)).await;
    get(&org, &path).await;
    let seen: Vec<_> = org
        .windows()
        .iter()
        .map(|w| (w.bucket, w.served, w.refused))
        .collect();
    let bucket = SimBucket::Route(RouteKind::ListClients);
    assert_eq!(seen, [(bucket, 2, 1), (bucket, 1, 0)]);
}

#[tokio::test]
async fn a_new_window_starts_after_the_old_one_ends() {
    let cfg = SimConfig {
        rate_limit_per_window: 1,
        window: Duration::from_millis(300),
        ..config()
    };
    let org = SimOrg::start(cfg).await.expect("start");
    let path = format!("api/v1/users/{}/clients", org.pairs()[0].0);
    assert_eq!(get(&org, &path).await.status(), 200);
    assert_eq!(get(&org, &path).await.status(), 429);
    // Waiting out the window is the behaviour under test, not a readiness wait.
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(get(&org, &path).await.status(), 200);
}

#[tokio::test]
async fn background_load_pre_consumes_each_window() {
    let org = SimOrg::start(SimConfig {
        rate_limit_per_window: 10,
        ..config()
    })
    .await
    .expect("start");
    org.set_background_load(0.5);
    let resp = get(&org, &format!("api/v1/users/{}/clients", org.pairs()[0].0)).await;
    assert_eq!(header(&resp, "x-rate-limit-remaining"), 4);
}

#[tokio::test]
async fn zero_means_unlimited() {
    let org = SimOrg::start(SimConfig {
        rate_limit_per_window: 0,
        ..config()
    })
    .await
    .expect("start");
    let resp = get(&org, &format!("api/v1/users/{}/clients", org.pairs()[0].0)).await;
    assert_eq!(header(&resp, "x-rate-limit-limit"), i64::from(u32::MAX));
}

#[tokio::test]
async fn a_second_concurrent_request_over_a_limit_of_one_gets_the_concurrency_429() {
    let cfg = SimConfig {
        concurrency_limit: 1,
        latency: Duration::from_millis(300),
        ..config()
    };
    let org = SimOrg::start(cfg).await.expect("start");
    let path = format!("api/v1/users/{}/clients", org.pairs()[0].0);
    let (a, b) = tokio::join!(get(&org, &path), get(&org, &path));
    let mut statuses = [a.status().as_u16(), b.status().as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 429]);
    let limited = if a.status() == 429 { a } else { b };
    assert_eq!(header(&limited, "x-rate-limit-limit"), 0);
    assert_eq!(header(&limited, "x-rate-limit-remaining"), 0);
    assert!(header(&limited, "x-rate-limit-reset") >= epoch_now());
    let body: Value = limited.json().await.expect("json");
    assert_eq!(body["errorCode"], "E0000047");
    let stats = org.stats();
    assert_eq!(
        (
            stats.concurrency_limited,
            stats.peak_concurrency,
            stats.peak_arrivals,
            stats.in_flight
        ),
        (1, 1, 2, 0),
        "the refused arrival counts in the peak of arrivals only"
    );
    let mut arrivals: Vec<_> = org
        .requests()
        .iter()
        .map(|r| (r.concurrency, r.status))
        .collect();
    arrivals.sort_unstable();
    assert_eq!(arrivals, [(1, 200), (2, 429)]);
}

#[tokio::test]
async fn every_response_has_a_unique_request_id_and_a_date() {
    let cfg = SimConfig {
        rate_limit_per_window: 2,
        ..config()
    };
    let org = SimOrg::start(cfg).await.expect("start");
    let (user, client) = org.pairs()[0].clone();
    let tokens = format!("api/v1/users/{user}/clients/{client}/tokens");
    let mut ids = Vec::new();
    let mut statuses = Vec::new();
    for path in [tokens.as_str(), "api/v1/nowhere", &tokens, &tokens] {
        let resp = get(&org, path).await;
        statuses.push(resp.status().as_u16());
        let date = resp.headers()["date"].to_str().expect("ascii");
        httpdate::parse_http_date(date).expect("HTTP-date");
        ids.push(
            resp.headers()["x-okta-request-id"]
                .to_str()
                .expect("ascii")
                .to_owned(),
        );
        assert!(resp.headers().contains_key("x-rate-limit-reset"));
    }
    let unauthorized = reqwest::get(org.base_url().join(&tokens).expect("url"))
        .await
        .expect("sent");
    assert!(unauthorized.headers().contains_key("date"));
    ids.push(
        unauthorized.headers()["x-okta-request-id"]
            .to_str()
            .expect("ascii")
            .to_owned(),
    );
    assert_eq!(statuses, [200, 404, 200, 429]);
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len());
}

#[tokio::test]
async fn the_request_log_records_retry_headers_and_can_be_turned_off() {
    let org = SimOrg::start(config()).await.expect("start");
    let url = org
        .base_url()
        .join(&format!("api/v1/users/{}/clients?x=1", org.pairs()[0].0))
        .expect("url");
    let resp = reqwest::Client::new()
        .get(url)
        .header("Authorization", "SSWS sim-api-token")
        .header("X-Okta-Retry-For", "abc")
        .header("X-Okta-Retry-Count", "1")
        .send()
        .await
        .expect("sent");
    let id = resp.headers()["x-okta-request-id"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let log = org.requests();
    assert_eq!(log.len(), 1);
    let r = &log[0];
    assert_eq!(
        (r.method.as_str(), r.status, r.route),
        ("GET", 200, RouteKind::ListClients)
    );
    assert!(r.path_and_query.ends_with("/clients?x=1"));
    assert_eq!(
        (
            r.request_id.as_str(),
            r.retry_for.as_deref(),
            r.retry_count.as_deref()
        ),
        (id.as_str(), Some("abc"), Some("1"))
    );

    let quiet = SimOrg::start(SimConfig {
        record_requests: false,
        ..config()
    })
    .await
    .expect("start");
    get(&quiet, "api/v1/nowhere").await;
    assert!(quiet.requests().is_empty());
    assert_eq!(quiet.stats().requests, 1);
}

#[tokio::test]
async fn shutdown_stops_serving() {
    let org = SimOrg::start(config()).await.expect("start");
    let url = org.base_url();
    org.shutdown();
    let mut refused = false;
    // Shutdown is asynchronous; the listener closes within a few scheduler turns.
    for _ in 0..50 {
        if reqwest::get(url.clone()).await.is_err() {
            refused = true;
            break;
        }
        tokio::task::yield_now().await;
    }
    assert!(refused);
}
