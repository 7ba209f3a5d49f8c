//! Contract tests of the simulated org's API surface: seeding, paging, `Link` forms,
//! validation, auth, 404s and revocation (the token's JSON shape is in
//! `tests_token_shape.rs`). Real HTTP through reqwest.

use chrono::{Duration as ChronoDuration, TimeZone, Utc};
use serde_json::Value;

use super::{LinkStyle, RevokeHow, SimConfig, SimOrg, SimToken};

pub(super) fn config() -> SimConfig {
    SimConfig {
        now: Utc
            .with_ymd_and_hms(2025, 6, 1, 12, 0, 0)
            .single()
            .expect("valid date"),
        ..SimConfig::default()
    }
}

pub(super) async fn get(org: &SimOrg, path_and_query: &str) -> reqwest::Response {
    let url = org.base_url().join(path_and_query).expect("valid url");
    send(reqwest::Method::GET, url.as_str()).await
}

pub(super) async fn send(method: reqwest::Method, url: &str) -> reqwest::Response {
    reqwest::Client::new()
        .request(method, url)
        .header("Authorization", "SSWS sim-api-token")
        .send()
        .await
        .expect("request sent")
}

pub(super) fn tokens_path(user: &str, client: &str) -> String {
    format!("api/v1/users/{user}/clients/{client}/tokens")
}

/// `rel="next"` from all `Link` headers, whichever form they use.
pub(super) fn next_link(resp: &reqwest::Response) -> Option<String> {
    resp.headers()
        .get_all("link")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(", "))
        .find(|l| l.ends_with("rel=\"next\""))
        .map(|l| {
            l.trim_start_matches('<')
                .split('>')
                .next()
                .unwrap_or_default()
                .to_owned()
        })
}

fn add_pair_with(org: &SimOrg, user: &str, client: &str, n: usize) {
    let now = Utc::now();
    for i in 0..n {
        org.add_token(SimToken {
            id: format!("oarPAGED{i:012}"),
            user_id: user.to_owned(),
            client_id: client.to_owned(),
            issuer: format!("{}oauth2/ausTEST", org.base_url()),
            scopes: vec!["offline_access".to_owned()],
            created: now,
            last_updated: now,
            expires_at: None,
        });
    }
}

#[tokio::test]
async fn seeding_is_deterministic_and_shaped_like_okta() {
    let a = SimOrg::start(config()).await.expect("start");
    let b = SimOrg::start(config()).await.expect("start");
    assert_eq!(a.pairs(), b.pairs());
    assert_eq!(a.pairs().len(), 40);
    let strip = |t: &SimToken| {
        (
            t.id.clone(),
            t.created,
            t.last_updated,
            t.expires_at,
            t.scopes.clone(),
        )
    };
    let ta: Vec<_> = a.all_tokens().iter().map(strip).collect();
    let tb: Vec<_> = b.all_tokens().iter().map(strip).collect();
    assert_eq!(ta, tb);
    let now = config().now;
    let (user, client) = &a.pairs()[0];
    assert!(
        user.starts_with("00u")
            && user.len() == 20
            && client.starts_with("0oa")
            && client.len() == 20
    );
    assert!(a.tokens(user, client).len() >= 250, "first pair is big");
    for t in a.all_tokens() {
        assert!(t.id.starts_with("oar") && t.id.len() == 20);
        assert!(t.created <= t.last_updated && t.last_updated <= now);
        assert!(t.created >= now - ChronoDuration::days(400));
        assert!(t.expires_at.is_none_or(|e| e > now));
        assert_eq!(t.scopes[0], "offline_access");
        assert_eq!(t.created.timestamp_subsec_nanos() % 1_000_000, 0);
    }
    let other = SimOrg::start(SimConfig {
        seed: 2,
        ..config()
    })
    .await
    .expect("start");
    assert_ne!(a.pairs(), other.pairs());
}

#[tokio::test]
async fn paging_300_tokens_by_200_gives_two_pages_with_every_token_once() {
    for style in [LinkStyle::Separate, LinkStyle::Joined] {
        let org = SimOrg::start(SimConfig {
            link_style: style,
            ..config()
        })
        .await
        .expect("start");
        add_pair_with(&org, "00uPAGEDUSER00000000", "0oaPAGEDCLIENT000000", 300);
        let first = get(
            &org,
            &format!(
                "{}?limit=200",
                tokens_path("00uPAGEDUSER00000000", "0oaPAGEDCLIENT000000")
            ),
        )
        .await;
        assert_eq!(first.status(), 200);
        let links: Vec<_> = first.headers().get_all("link").iter().collect();
        assert_eq!(
            links.len(),
            if style == LinkStyle::Separate { 2 } else { 1 }
        );
        let mut next = next_link(&first);
        let mut ids: Vec<String> = Vec::new();
        let page: Vec<Value> = first.json().await.expect("json");
        assert_eq!(page.len(), 200);
        ids.extend(
            page.iter()
                .map(|t| t["id"].as_str().unwrap_or_default().to_owned()),
        );
        let mut pages = 1;
        while let Some(url) = next {
            assert!(url.starts_with(org.base_url().as_str()) && url.contains("limit=200"));
            let resp = send(reqwest::Method::GET, &url).await;
            assert_eq!(resp.status(), 200);
            next = next_link(&resp);
            let page: Vec<Value> = resp.json().await.expect("json");
            ids.extend(
                page.iter()
                    .map(|t| t["id"].as_str().unwrap_or_default().to_owned()),
            );
            pages += 1;
        }
        assert_eq!(pages, 2);
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!((ids.len(), unique.len()), (300, 300));
    }
}

#[tokio::test]
async fn cursor_survives_revocations_between_pages() {
    let org = SimOrg::start(config()).await.expect("start");
    add_pair_with(&org, "00uPAGEDUSER00000000", "0oaPAGEDCLIENT000000", 50);
    let path = tokens_path("00uPAGEDUSER00000000", "0oaPAGEDCLIENT000000");
    let first = get(&org, &format!("{path}?limit=20")).await;
    let next = next_link(&first).expect("next");
    let page: Vec<Value> = first.json().await.expect("json");
    for t in &page {
        let id = t["id"].as_str().expect("id");
        assert_eq!(
            send(
                reqwest::Method::DELETE,
                &format!("{}{path}/{id}", org.base_url())
            )
            .await
            .status(),
            204
        );
    }
    let second: Vec<Value> = send(reqwest::Method::GET, &next)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(second.len(), 20);
    assert_eq!(second[0]["id"], "oarPAGED000000000020");
}

#[tokio::test]
async fn clients_are_listed_in_snake_case() {
    let org = SimOrg::start(config()).await.expect("start");
    let (user, client) = org.pairs()[0].clone();
    let resp = get(&org, &format!("api/v1/users/{user}/clients")).await;
    assert_eq!(resp.status(), 200);
    let list: Vec<Value> = resp.json().await.expect("json");
    let c = list
        .iter()
        .find(|c| c["client_id"] == client.as_str())
        .expect("client listed");
    assert!(c["client_uri"].is_null() && c["logo_uri"].is_null() && c["client_name"].is_string());
    assert!(
        c["_links"]["tokens"]["href"]
            .as_str()
            .expect("href")
            .ends_with(&format!("{client}/tokens"))
    );
}

#[tokio::test]
async fn invalid_limits_get_400_with_an_okta_body() {
    let org = SimOrg::start(config()).await.expect("start");
    let (user, client) = org.pairs()[0].clone();
    for q in ["limit=0", "limit=201", "limit=x", "after=zz"] {
        let resp = get(&org, &format!("{}?{q}", tokens_path(&user, &client))).await;
        assert_eq!(resp.status(), 400, "{q}");
        let body: Value = resp.json().await.expect("json");
        assert_eq!(body["errorCode"], "E0000001");
        assert_eq!(body["errorLink"], "E0000001");
        assert!(!body["errorCauses"].as_array().expect("causes").is_empty());
    }
}

#[tokio::test]
async fn missing_or_wrong_ssws_gets_401_e0000011() {
    let org = SimOrg::start(config()).await.expect("start");
    let (user, client) = org.pairs()[0].clone();
    let url = org
        .base_url()
        .join(&tokens_path(&user, &client))
        .expect("url");
    let http = reqwest::Client::new();
    for auth in [None, Some("SSWS wrong"), Some("Bearer sim-api-token")] {
        let mut req = http.get(url.clone());
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        let resp = req.send().await.expect("sent");
        assert_eq!(resp.status(), 401);
        assert!(resp.headers().contains_key("x-rate-limit-remaining"));
        let body: Value = resp.json().await.expect("json");
        assert_eq!(body["errorCode"], "E0000011");
        assert_eq!(body["errorSummary"], "Invalid token provided");
        assert!(body["errorId"].as_str().expect("id").starts_with("oae"));
    }
}

#[tokio::test]
async fn unknown_ids_get_404_e0000007_and_empty_pairs_list_empty() {
    let org = SimOrg::start(config()).await.expect("start");
    let (user, client) = org.pairs()[0].clone();
    let resp = get(&org, &tokens_path("00uNOSUCHUSER0000000", &client)).await;
    assert_eq!(resp.status(), 404);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["errorCode"], "E0000007");
    assert_eq!(
        body["errorSummary"],
        "Not found: Resource not found: 00uNOSUCHUSER0000000 (User)"
    );
    assert_eq!(
        get(&org, &tokens_path(&user, "0oaNOSUCHCLIENT00000"))
            .await
            .status(),
        404
    );
    assert_eq!(
        get(&org, &format!("{}/oarNOSUCH", tokens_path(&user, &client)))
            .await
            .status(),
        404
    );
    assert_eq!(get(&org, "api/v1/nothing").await.status(), 404);
    let empty = org
        .pairs()
        .into_iter()
        .find(|(u, c)| org.tokens(u, c).is_empty())
        .expect("an empty pair");
    let resp = get(&org, &tokens_path(&empty.0, &empty.1)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.expect("text"), "[]");
}

#[tokio::test]
async fn delete_one_then_all_revokes_and_records() {
    let org = SimOrg::start(config()).await.expect("start");
    let (user, client) = org.pairs()[0].clone();
    let before = org.tokens(&user, &client);
    let victim = before[3].id.clone();
    let one = format!("{}{}/{victim}", org.base_url(), tokens_path(&user, &client));
    let resp = send(reqwest::Method::DELETE, &one).await;
    assert_eq!(resp.status(), 204);
    assert!(resp.headers().get("content-type").is_none());
    assert_eq!(send(reqwest::Method::GET, &one).await.status(), 404);
    assert_eq!(send(reqwest::Method::DELETE, &one).await.status(), 404);
    assert!(org.tokens(&user, &client).iter().all(|t| t.id != victim));
    let all = format!("{}{}", org.base_url(), tokens_path(&user, &client));
    assert_eq!(send(reqwest::Method::DELETE, &all).await.status(), 204);
    assert_eq!(send(reqwest::Method::DELETE, &all).await.status(), 204);
    let list = send(reqwest::Method::GET, &all).await;
    assert_eq!(list.text().await.expect("text"), "[]");
    let revoked = org.revoked();
    assert_eq!(revoked.len(), before.len());
    assert_eq!(
        (revoked[0].token.id.as_str(), revoked[0].how),
        (victim.as_str(), RevokeHow::Single)
    );
    assert!(revoked[1..].iter().all(|r| r.how == RevokeHow::AllForPair));
    assert_eq!(send(reqwest::Method::POST, &all).await.status(), 405);
}
