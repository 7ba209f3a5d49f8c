//! The ApplicationTokens routes of the sim, driven with raw HTTP: listing every user's tokens
//! of an app with cursors, one token fetched and revoked, all revoked, Okta's 400 and 404, and
//! the `/api/v1/apps*` bucket of its own.

use std::collections::BTreeSet;

use serde_json::Value;

use super::{RevokeHow, SimConfig, SimOrg};

const TOKEN: &str = "sim-api-token";

async fn org(apps_limit: Option<u32>) -> SimOrg {
    SimOrg::start(SimConfig {
        users: 8,
        clients: 2,
        pairs: 16,
        big_pairs: 1,
        apps_rate_limit_per_window: apps_limit,
        ..SimConfig::default()
    })
    .await
    .expect("org")
}

async fn call(method: reqwest::Method, url: &str) -> reqwest::Response {
    reqwest::Client::new()
        .request(method, url)
        .header("authorization", format!("SSWS {TOKEN}"))
        .send()
        .await
        .expect("answered")
}

fn next_link(r: &reqwest::Response) -> Option<String> {
    crate::okta::page::parse_link_header(r.headers())
}

#[tokio::test]
async fn an_apps_tokens_are_listed_for_every_user_page_by_page() {
    let org = org(None).await;
    let client = org.pairs()[0].1.clone();
    let expected: BTreeSet<String> = org
        .all_tokens()
        .into_iter()
        .filter(|t| t.client_id == client)
        .map(|t| t.id)
        .collect();
    let mut url = Some(format!(
        "{}api/v1/apps/{client}/tokens?limit=7&expand=scope",
        org.base_url()
    ));
    let (mut seen, mut users, mut pages) = (Vec::new(), BTreeSet::new(), 0);
    while let Some(u) = url {
        let r = call(reqwest::Method::GET, &u).await;
        assert_eq!(r.status(), 200);
        url = next_link(&r);
        let body: Vec<Value> = r.json().await.expect("json");
        assert!(body.len() <= 7);
        for t in body {
            assert_eq!(t["clientId"], client.as_str());
            assert!(t["_embedded"]["scopes"].is_array());
            users.insert(t["userId"].as_str().expect("userId").to_owned());
            seen.push(t["id"].as_str().expect("id").to_owned());
        }
        pages += 1;
        if pages == 2 {
            // A token revoked between pages never makes the listing skip another.
            let t = org
                .all_tokens()
                .into_iter()
                .find(|t| t.client_id == client)
                .unwrap();
            assert!(org.revoke_out_of_band(&t.user_id, &client, &t.id));
        }
    }
    assert_eq!(seen.len(), seen.iter().collect::<BTreeSet<_>>().len());
    let now: BTreeSet<String> = org
        .all_tokens()
        .into_iter()
        .filter(|t| t.client_id == client)
        .map(|t| t.id)
        .collect();
    assert!(now.iter().all(|id| seen.contains(id)));
    assert!(seen.iter().all(|id| expected.contains(id)));
    assert!(users.len() > 1, "tokens of several users: {users:?}");
}

#[tokio::test]
async fn one_app_token_is_fetched_and_revoked_and_all_are_revoked_at_once() {
    let org = org(None).await;
    let client = org.pairs()[0].1.clone();
    let t = org
        .all_tokens()
        .into_iter()
        .find(|t| t.client_id == client)
        .unwrap();
    let base = format!("{}api/v1/apps/{client}/tokens", org.base_url());
    let got = call(reqwest::Method::GET, &format!("{base}/{}", t.id)).await;
    assert_eq!(got.status(), 200);
    let r = call(reqwest::Method::DELETE, &format!("{base}/{}", t.id)).await;
    assert_eq!(r.status(), 204);
    let again = call(reqwest::Method::DELETE, &format!("{base}/{}", t.id)).await;
    assert_eq!(again.status(), 404);
    let r = call(reqwest::Method::DELETE, &base).await;
    assert_eq!(r.status(), 204);
    assert!(org.all_tokens().iter().all(|t| t.client_id != client));
    assert!(org.revoked().iter().any(|r| r.how == RevokeHow::AllForApp));
    let unknown = call(
        reqwest::Method::GET,
        &format!("{}api/v1/apps/0oaNope/tokens", org.base_url()),
    )
    .await;
    assert_eq!(unknown.status(), 404);
    let bad = call(reqwest::Method::GET, &format!("{base}?limit=201")).await;
    assert_eq!(bad.status(), 400);
}

#[tokio::test]
async fn the_apps_bucket_is_metered_apart_from_the_users_bucket() {
    let org = org(Some(3)).await;
    let (user, client) = org.pairs()[0].clone();
    let apps = format!("{}api/v1/apps/{client}/tokens", org.base_url());
    for _ in 0..3 {
        let r = call(reqwest::Method::GET, &apps).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["x-rate-limit-limit"], "3");
    }
    assert_eq!(call(reqwest::Method::GET, &apps).await.status(), 429);
    let pair = format!(
        "{}api/v1/users/{user}/clients/{client}/tokens",
        org.base_url()
    );
    let r = call(reqwest::Method::GET, &pair).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-rate-limit-limit"], "1200");
}
