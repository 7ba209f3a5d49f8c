//! The OAuth client against the simulated org's token endpoint: the DPoP nonce retry, replay
//! recovery, renew-and-retry on 401, and the errors for a wrong key or a missing scope.

use std::time::Duration;

use super::tests::{fixture, key};
use super::{Auth, AuthError, OAuthSettings};
use crate::ids::{ClientId, TokenId, UserId};
use crate::okta::client::{ClientSettings, OktaClient};
use crate::okta::error::Error;
use crate::okta::retry::RetryPolicy;
use crate::sim::{RouteKind, ServiceApp, SimConfig, SimOrg};

const CLIENT: &str = "0oaRevokdService";
const BOTH: [&str; 2] = ["okta.users.read", "okta.users.manage"];

fn app(public: &str, scopes: &[&str], require_dpop: bool) -> ServiceApp {
    ServiceApp {
        client_id: CLIENT.into(),
        public_key: fixture(public),
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        require_dpop,
    }
}

async fn org(app: ServiceApp) -> SimOrg {
    SimOrg::start(SimConfig {
        seed: 3,
        users: 3,
        clients: 2,
        pairs: 4,
        big_pairs: 0,
        service_apps: vec![app],
        ..SimConfig::default()
    })
    .await
    .expect("the org starts")
}

fn client(org: &SimOrg, private: &str, scopes: &[&str], dpop: bool) -> OktaClient {
    let auth = Auth::OAuth(OAuthSettings {
        client_id: CLIENT.into(),
        key: key(private, Some("kid-1")),
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        dpop,
    });
    let settings = ClientSettings {
        retry: RetryPolicy {
            min_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(20),
            ..RetryPolicy::default()
        },
        ..ClientSettings::default()
    };
    OktaClient::new(org.base_url(), &auth, settings).expect("the client builds")
}

fn first_user(org: &SimOrg) -> UserId {
    UserId::new(&org.pairs()[0].0).expect("user id")
}

#[tokio::test]
async fn the_token_request_is_resent_with_the_dpop_nonce_the_server_asks_for() {
    let org = org(app("test-only-ec.pub.pem", &BOTH, true)).await;
    let okta = client(&org, "test-only-ec.jwk.json", &BOTH, true);
    okta.list_user_clients(&first_user(&org))
        .await
        .expect("listed with a DPoP-bound token");
    okta.list_user_clients(&first_user(&org))
        .await
        .expect("the cached token is reused");
    let stats = org.oauth_stats();
    assert_eq!(stats.nonce_challenges, 1);
    assert_eq!(stats.tokens_issued, 1);
    assert_eq!(stats.api_unauthorized, 0);
    let token_calls: Vec<u16> = org
        .requests()
        .iter()
        .filter(|r| r.route == RouteKind::Token)
        .map(|r| r.status)
        .collect();
    assert_eq!(token_calls, [400, 200]);
}

#[tokio::test]
async fn a_replayed_assertion_is_refused_and_the_client_mints_a_fresh_one() {
    let org = org(app("test-only-rsa.pub.pem", &BOTH, false)).await;
    // The sim refuses a literally repeated assertion.
    let http = reqwest::Client::new();
    let assertion = super::assertion::client_assertion(
        &key("test-only-rsa.pkcs1.pem", None),
        CLIENT,
        &org.token_url(),
        std::time::SystemTime::now(),
    )
    .expect("signs");
    let form = [
        ("grant_type", "client_credentials"),
        ("scope", "okta.users.read"),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        (
            "client_assertion",
            secrecy::ExposeSecret::expose_secret(&assertion),
        ),
    ];
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let mut answers = Vec::new();
    for _ in 0..2 {
        let r = http
            .post(org.token_url())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.clone())
            .send()
            .await
            .expect("answered");
        answers.push((r.status().as_u16(), r.text().await.expect("body")));
    }
    assert_eq!(answers[0].0, 200, "{answers:?}");
    assert_eq!(answers[1].0, 400);
    assert!(answers[1].1.contains("invalid_client") && answers[1].1.contains("jti already used"));

    // revokd's client, refused once as a replay, recovers with a fresh assertion.
    org.treat_next_assertions_as_replayed(1);
    let okta = client(&org, "test-only-rsa.pkcs8.pem", &BOTH, false);
    okta.list_user_clients(&first_user(&org))
        .await
        .expect("recovered");
    let stats = org.oauth_stats();
    assert_eq!(stats.refused_for("jti already used"), 2);
    assert_eq!(stats.tokens_issued, 2);
}

#[tokio::test]
async fn a_401_renews_the_access_token_once_and_retries_the_request() {
    let org = org(app("test-only-rsa.pub.pem", &BOTH, false)).await;
    let okta = client(&org, "test-only-rsa.jwk.json", &BOTH, false);
    let user = first_user(&org);
    okta.list_user_clients(&user).await.expect("first call");
    org.expire_access_tokens();
    okta.list_user_clients(&user)
        .await
        .expect("renewed and retried");
    let stats = org.oauth_stats();
    assert_eq!((stats.tokens_issued, stats.api_unauthorized), (2, 1));
    let shown = format!("{okta:?}");
    for credential in org.credentials_seen() {
        assert!(!shown.contains(&credential), "Debug shows a credential");
    }
}

#[tokio::test]
async fn a_wrong_key_is_reported_as_a_refused_assertion_naming_the_keys_to_check() {
    let org = org(app("test-only-rsa.pub.pem", &BOTH, false)).await;
    let okta = client(&org, "test-only-rsa-other.pkcs8.pem", &BOTH, false);
    let err = okta
        .list_user_clients(&first_user(&org))
        .await
        .expect_err("refused");
    assert!(
        matches!(&err, Error::Auth { reason, .. } if matches!(**reason, AuthError::ClientRefused { .. })),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("invalid_client") && text.contains("okta.private_key_file"),
        "{text}"
    );
    assert!(text.contains("signature"), "{text}");
    assert_eq!(
        org.oauth_stats().refused_for("bad signature"),
        2,
        "one fresh retry, then the error"
    );
    for credential in org.credentials_seen() {
        assert!(!text.contains(&credential));
    }
}

#[tokio::test]
async fn a_scope_the_app_was_not_granted_or_did_not_request_is_named() {
    let org = org(app("test-only-ec.pub.pem", &["okta.users.read"], false)).await;
    let okta = client(&org, "test-only-ec.pkcs8.pem", &BOTH, false);
    let err = okta
        .list_user_clients(&first_user(&org))
        .await
        .expect_err("refused")
        .to_string();
    assert!(
        err.contains("invalid_scope")
            && err.contains("okta.users.manage")
            && err.contains("okta.scopes"),
        "{err}"
    );

    let read_only = client(&org, "test-only-ec.pkcs8.pem", &["okta.users.read"], false);
    let (u, c) = org.pairs()[0].clone();
    let ids = (
        UserId::new(&u).expect("u"),
        ClientId::new(&c).expect("c"),
        TokenId::new("oar1").expect("t"),
    );
    let err = read_only
        .revoke(&crate::okta::Cleared::unchecked(ids.0, ids.1, Some(ids.2)))
        .await
        .expect_err("403");
    assert_eq!(err.status(), Some(403));
    let text = err.to_string();
    assert!(
        text.contains("E0000006") && text.contains("lack okta.users.manage"),
        "{text}"
    );
    assert_eq!(org.oauth_stats().api_forbidden, 1);
}

#[tokio::test]
async fn a_token_without_okta_apps_read_is_told_to_add_it_on_an_app_listing() {
    let org = org(app("test-only-ec.pub.pem", &BOTH, false)).await;
    let okta = client(&org, "test-only-ec.pkcs8.pem", &BOTH, false);
    let app_id = ClientId::new(&org.pairs()[0].1).expect("app id");
    let err = okta
        .list_app_tokens(&app_id, None)
        .expect("a listing")
        .next_page()
        .await
        .expect_err("403");
    assert_eq!(err.status(), Some(403));
    let text = err.to_string();
    assert!(text.contains("lack okta.apps.read"), "{text}");
    assert!(!text.contains("admin role"), "{text}");
    assert_eq!(org.oauth_stats().api_forbidden, 1);
}

#[tokio::test]
async fn the_system_log_is_read_with_okta_logs_read_and_a_token_without_it_is_told_so() {
    let logs = ["okta.users.read", "okta.users.manage", "okta.logs.read"];
    let org = org(app("test-only-ec.pub.pem", &logs, false)).await;
    org.emit_event("user.lifecycle.deactivate", &org.pairs()[0].0);
    let since = chrono::Utc::now() - chrono::Duration::minutes(5);

    let without = client(&org, "test-only-ec.pkcs8.pem", &BOTH, false);
    let url = without.first_system_log_url(since, &[], 10);
    let err = without.system_log_page(&url).await.expect_err("403");
    assert_eq!(err.status(), Some(403));
    let text = err.to_string();
    assert!(text.contains("lack okta.logs.read"), "{text}");

    let with = client(&org, "test-only-ec.pkcs8.pem", &logs, false);
    let page = with.system_log_page(&url).await.expect("the page");
    assert_eq!(page.events.len(), 1);
    assert_eq!(org.oauth_stats().api_forbidden, 1);
}
