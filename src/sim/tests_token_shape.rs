//! Contract tests of how the simulated org shapes a refresh token: every field of Okta's
//! `OAuth2RefreshToken`, with and without `expand=scope`. Real HTTP through reqwest.

use chrono::{Duration as ChronoDuration, TimeZone, Utc};
use serde_json::Value;

use super::tests_api::{config, get, next_link, tokens_path};
use super::{SimOrg, SimToken};

#[tokio::test]
async fn token_json_matches_the_contract_and_expand_scope_embeds_scopes() {
    let org = SimOrg::start(config()).await.expect("start");
    let (user, client) = org.pairs()[0].clone();
    let resp = get(
        &org,
        &format!("{}?limit=5&expand=scope", tokens_path(&user, &client)),
    )
    .await;
    assert_eq!(resp.headers()["content-type"], "application/json");
    assert!(next_link(&resp).expect("next").contains("expand=scope"));
    let page: Vec<Value> = resp.json().await.expect("json");
    let t = &page[0];
    assert_eq!(t["status"], "ACTIVE");
    assert_eq!(t["userId"], user.as_str());
    assert_eq!(t["clientId"], client.as_str());
    assert!(
        t["created"].as_str().expect("created").ends_with(".000Z")
            || t["created"].as_str().expect("c").ends_with('Z')
    );
    assert!(
        t["issuer"]
            .as_str()
            .expect("issuer")
            .contains("/oauth2/aus")
    );
    assert_eq!(t["_links"]["revoke"]["hints"]["allow"][0], "DELETE");
    let embedded = t["_embedded"]["scopes"].as_array().expect("embedded");
    assert_eq!(
        embedded.len(),
        t["scopes"].as_array().expect("scopes").len()
    );
    assert!(embedded[0]["id"].as_str().expect("id").starts_with("scp"));
    let id = t["id"].as_str().expect("id");
    let one: Value = get(&org, &format!("{}/{id}", tokens_path(&user, &client)))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(one["id"], id);
    assert!(one.get("_embedded").is_none());
    let stored = org
        .tokens(&user, &client)
        .into_iter()
        .find(|s| s.id == id)
        .expect("stored");
    let created: chrono::DateTime<Utc> = one["created"].as_str().expect("c").parse().expect("iso");
    assert_eq!(created, stored.created);
    let bad = get(
        &org,
        &format!("{}?expand=user", tokens_path(&user, &client)),
    )
    .await;
    assert_eq!(bad.status(), 400);
}

/// The whole `OAuth2RefreshToken` object, field for field, with and without `expand=scope`.
#[tokio::test]
async fn a_token_is_rendered_exactly_as_okta_shapes_it() {
    let org = SimOrg::start(config()).await.expect("start");
    let at = Utc
        .with_ymd_and_hms(2025, 5, 1, 8, 30, 15)
        .single()
        .expect("date")
        + ChronoDuration::milliseconds(7);
    let (user, client) = ("00uGOLDENUSER0000001", "0oaGOLDENCLIENT00001");
    org.add_token(SimToken {
        id: "oarGOLDEN00000000001".to_owned(),
        user_id: user.to_owned(),
        client_id: client.to_owned(),
        issuer: format!("{}oauth2/ausGOLDEN", org.base_url()),
        scopes: vec!["offline_access".to_owned(), "okta.users.read".to_owned()],
        created: at,
        last_updated: at + ChronoDuration::days(3),
        expires_at: Some(at + ChronoDuration::days(90)),
    });
    let base = org.base_url().as_str().trim_end_matches('/').to_owned();
    let expected: Value =
        serde_json::from_str(&EXPANDED.replace("{base}", &base)).expect("expected json");
    let text = get(&org, &format!("{}?expand=scope", tokens_path(user, client)))
        .await
        .text()
        .await
        .expect("body");
    assert!(text.starts_with(r#"[{"id":"oarGOLDEN00000000001","status":"ACTIVE","created":"#));
    let page: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(page, Value::Array(vec![expected.clone()]));

    let mut plain = expected;
    plain.as_object_mut().expect("object").remove("_embedded");
    let page: Value = get(&org, &tokens_path(user, client))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(page, Value::Array(vec![plain]));
}

const EXPANDED: &str = r#"{
    "_embedded": {
        "scopes": [
            {
                "_links": {
                    "scope": {
                        "href": "{base}/api/v1/authorizationServers/ausGOLDEN/scopes/scpYbfcucCaoEloh0t2G",
                        "title": "offline_access"
                    }
                },
                "description": "Allows the app to use the offline_access scope.",
                "displayName": "offline_access",
                "id": "scpYbfcucCaoEloh0t2G",
                "name": "offline_access"
            },
            {
                "_links": {
                    "scope": {
                        "href": "{base}/api/v1/authorizationServers/ausGOLDEN/scopes/scpYBuR1dsYWujL9DEz4",
                        "title": "okta.users.read"
                    }
                },
                "description": "Allows the app to use the okta.users.read scope.",
                "displayName": "okta.users.read",
                "id": "scpYBuR1dsYWujL9DEz4",
                "name": "okta.users.read"
            }
        ]
    },
    "_links": {
        "app": {
            "href": "{base}/api/v1/apps/0oaGOLDENCLIENT00001",
            "title": "0oaGOLDENCLIENT00001"
        },
        "authorizationServer": {
            "href": "{base}/api/v1/authorizationServers/ausGOLDEN",
            "title": "Custom Authorization Server"
        },
        "client": {
            "href": "{base}/oauth2/v1/clients/0oaGOLDENCLIENT00001",
            "title": "0oaGOLDENCLIENT00001"
        },
        "revoke": {
            "hints": {
                "allow": [
                    "DELETE"
                ]
            },
            "href": "{base}/api/v1/users/00uGOLDENUSER0000001/clients/0oaGOLDENCLIENT00001/tokens/oarGOLDEN00000000001"
        },
        "self": {
            "href": "{base}/api/v1/users/00uGOLDENUSER0000001/clients/0oaGOLDENCLIENT00001/tokens/oarGOLDEN00000000001"
        },
        "user": {
            "href": "{base}/api/v1/users/00uGOLDENUSER0000001",
            "title": "00uGOLDENUSER0000001"
        }
    },
    "clientId": "0oaGOLDENCLIENT00001",
    "created": "2025-05-01T08:30:15.007Z",
    "expiresAt": "2025-07-30T08:30:15.007Z",
    "id": "oarGOLDEN00000000001",
    "issuer": "{base}/oauth2/ausGOLDEN",
    "lastUpdated": "2025-05-04T08:30:15.007Z",
    "scopes": [
        "offline_access",
        "okta.users.read"
    ],
    "status": "ACTIVE",
    "userId": "00uGOLDENUSER0000001"
}"#;
