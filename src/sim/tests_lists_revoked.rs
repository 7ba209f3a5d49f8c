//! [`SimConfig::lists_revoked`]: a revoked token stays in its pair's and its app's listings
//! and answers `GET` with `status` `REVOKED`, in id order among the ACTIVE ones, while
//! [`SimOrg::tokens`] and a second `DELETE` treat it as gone; by default it is dropped.

use serde_json::Value;

use super::tests_api::{config, get, send, tokens_path};
use super::{SimConfig, SimOrg};

/// `(id, status)` of every token the pair's listing gives, following `next` links.
async fn listed(org: &SimOrg, user: &str, client: &str, first: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut resp = get(org, first).await;
    loop {
        assert_eq!(resp.status(), 200);
        let next = super::tests_api::next_link(&resp);
        let page: Vec<Value> = resp.json().await.expect("a JSON array");
        for t in page {
            assert_eq!(
                (t["userId"].as_str(), t["clientId"].as_str()),
                (Some(user), Some(client))
            );
            out.push((
                t["id"].as_str().unwrap().to_owned(),
                t["status"].as_str().unwrap().to_owned(),
            ));
        }
        match next {
            Some(url) => resp = send(reqwest::Method::GET, &url).await,
            None => return out,
        }
    }
}

#[tokio::test]
async fn revoked_tokens_stay_listed_as_revoked_only_when_the_org_lists_them() {
    for lists_revoked in [false, true] {
        let org = SimOrg::start(SimConfig {
            lists_revoked,
            ..config()
        })
        .await
        .expect("start");
        let (user, client) = org.pairs()[0].clone();
        let before = org.tokens(&user, &client);
        assert!(before.len() >= 250, "a big pair, listed in two pages");
        let path = tokens_path(&user, &client);
        let victim = before[7].id.clone();
        let url = org.base_url().join(&format!("{path}/{victim}")).unwrap();

        assert_eq!(
            send(reqwest::Method::DELETE, url.as_str()).await.status(),
            204
        );
        assert_eq!(
            send(reqwest::Method::DELETE, url.as_str()).await.status(),
            404
        );
        assert!(!org.tokens(&user, &client).iter().any(|t| t.id == victim));
        let got = get(&org, &format!("{path}/{victim}")).await;
        let all = listed(&org, &user, &client, &format!("{path}?limit=200")).await;
        let ids: Vec<&str> = all.iter().map(|(id, _)| id.as_str()).collect();
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        assert_eq!(ids, sorted, "id order, across pages");
        let revoked: Vec<&(String, String)> = all.iter().filter(|(_, s)| s != "ACTIVE").collect();
        if lists_revoked {
            assert_eq!(got.status(), 200);
            let body: Value = got.json().await.unwrap();
            assert_eq!(body["status"], "REVOKED");
            assert_eq!(all.len(), before.len());
            assert_eq!(revoked, [&(victim.clone(), "REVOKED".to_owned())]);
        } else {
            assert_eq!(got.status(), 404);
            assert_eq!(all.len(), before.len() - 1);
            assert!(revoked.is_empty());
        }

        // Revoke-all: every token of the pair, listed as REVOKED or gone.
        let all_url = org.base_url().join(&path).unwrap();
        assert_eq!(
            send(reqwest::Method::DELETE, all_url.as_str())
                .await
                .status(),
            204
        );
        assert!(org.tokens(&user, &client).is_empty());
        let all = listed(&org, &user, &client, &format!("{path}?limit=200")).await;
        match lists_revoked {
            true => {
                assert_eq!(all.len(), before.len());
                assert!(all.iter().all(|(_, s)| s == "REVOKED"));
            }
            false => assert!(all.is_empty()),
        }
        // An app's listing says the same.
        let app = org.app_id(&client).unwrap();
        let apps: Vec<Value> = get(&org, &format!("api/v1/apps/{app}/tokens?limit=200"))
            .await
            .json()
            .await
            .unwrap();
        let of_pair = apps.iter().filter(|t| t["userId"] == user.as_str());
        assert!(of_pair.clone().all(|t| t["status"] == "REVOKED"));
        assert_eq!(of_pair.count() > 0, lists_revoked);
    }
}
