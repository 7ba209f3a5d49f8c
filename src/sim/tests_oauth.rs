//! The sim's token endpoint and access-token check, driven with raw HTTP: each refusal names
//! its cause, and API calls get Okta's 401 / 403 bodies.

use std::time::{Duration, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Signer;
use p256::pkcs8::DecodePrivateKey;
use serde_json::{Value, json};

use super::jws::{Jws, PublicKey, thumbprint};
use super::{ServiceApp, SimConfig, SimOrg};

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/oauth/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture")
}

async fn org() -> SimOrg {
    SimOrg::start(SimConfig {
        users: 2,
        clients: 2,
        pairs: 2,
        big_pairs: 0,
        service_apps: vec![ServiceApp {
            client_id: "0oaApp".into(),
            public_key: fixture("test-only-ec.jwk.json").replace("\"d\"", "\"private_d_ignored\""),
            scopes: vec!["okta.users.read".into(), "okta.logs.read".into()],
            require_dpop: false,
        }],
        access_token_lifetime: Duration::from_secs(60),
        ..SimConfig::default()
    })
    .await
    .expect("org")
}

/// An ES256 assertion signed here with `p256`, apart from the client's signing code.
fn assertion(claims: &Value) -> String {
    let key =
        p256::ecdsa::SigningKey::from_pkcs8_pem(&fixture("test-only-ec.pkcs8.pem")).expect("key");
    let b64 = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let input = format!("{}.{}", b64(&json!({"alg": "ES256"})), b64(claims));
    let signature: p256::ecdsa::Signature = key.sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
}

fn claims(org: &SimOrg, iss: &str, exp_in: i64, jti: &str) -> Value {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("time")
        .as_secs() as i64;
    json!({"iss": iss, "sub": iss, "aud": org.token_url(), "iat": now, "exp": now + exp_in, "jti": jti})
}

async fn token_request(org: &SimOrg, assertion: &str, scope: &str) -> (u16, Value) {
    let form = [
        ("grant_type", "client_credentials"),
        ("scope", scope),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        ("client_assertion", assertion),
    ];
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let r = reqwest::Client::new()
        .post(org.token_url())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("answered");
    (r.status().as_u16(), r.json().await.expect("json"))
}

#[tokio::test]
async fn the_token_endpoint_checks_client_audience_expiry_and_scopes() {
    let org = org().await;
    let mut wrong_aud = claims(&org, "0oaApp", 60, "j1");
    wrong_aud["aud"] = json!("https://elsewhere.example/oauth2/v1/token");
    let cases = [
        (
            claims(&org, "0oaNobody", 60, "j2"),
            "okta.users.read",
            "invalid_client",
            "unknown client_id",
        ),
        (
            wrong_aud,
            "okta.users.read",
            "invalid_client",
            "wrong audience",
        ),
        (
            claims(&org, "0oaApp", -5, "j3"),
            "okta.users.read",
            "invalid_client",
            "expired",
        ),
        (
            claims(&org, "0oaApp", 7200, "j4"),
            "okta.users.read",
            "invalid_client",
            "exp too far ahead",
        ),
        (
            claims(&org, "0oaApp", 60, "j5"),
            "okta.users.read okta.users.manage",
            "invalid_scope",
            "scope not granted",
        ),
    ];
    for (claims, scope, error, reason) in cases {
        let (status, body) = token_request(&org, &assertion(&claims), scope).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some(error)),
            "{reason}: {body}"
        );
        assert!(
            body["error_description"]
                .as_str()
                .is_some_and(|d| !d.is_empty())
        );
        assert_eq!(org.oauth_stats().refused_for(reason), 1, "{reason}");
    }
    let (status, body) = token_request(
        &org,
        &assertion(&claims(&org, "0oaApp", 60, "j6")),
        "okta.users.read",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 60);
    assert_eq!(body["scope"], "okta.users.read");
    assert_eq!(org.oauth_stats().tokens_issued, 1);
}

#[tokio::test]
async fn api_calls_take_bearer_tokens_and_get_oktas_401_and_403_bodies() {
    let org = org().await;
    let (_, body) = token_request(
        &org,
        &assertion(&claims(&org, "0oaApp", 60, "k1")),
        "okta.users.read",
    )
    .await;
    let token = body["access_token"].as_str().expect("a token").to_owned();
    let (user, client) = org.pairs()[0].clone();
    let url = format!(
        "{}api/v1/users/{user}/clients/{client}/tokens",
        org.base_url()
    );
    let http = reqwest::Client::new();
    let call = |method: reqwest::Method, auth: String| {
        http.request(method, &url)
            .header("authorization", auth)
            .send()
    };

    let ok = call(reqwest::Method::GET, format!("Bearer {token}"))
        .await
        .expect("answered");
    assert_eq!(ok.status(), 200);
    let unknown = call(reqwest::Method::GET, "Bearer sim-at-unknown".into())
        .await
        .expect("answered");
    assert_eq!(unknown.status(), 401);
    let body: Value = unknown.json().await.expect("json");
    assert_eq!(body["errorCode"], "E0000011");
    let forbidden = call(reqwest::Method::DELETE, format!("Bearer {token}"))
        .await
        .expect("answered");
    assert_eq!(forbidden.status(), 403);
    let body: Value = forbidden.json().await.expect("json");
    assert_eq!(body["errorCode"], "E0000006");
    assert_eq!(
        body["errorSummary"],
        "You do not have permission to perform the requested action"
    );
    assert!(
        org.revoked().is_empty(),
        "the refused DELETE revoked nothing"
    );
    let stats = org.oauth_stats();
    assert_eq!((stats.api_unauthorized, stats.api_forbidden), (1, 1));
}

#[tokio::test]
async fn app_token_routes_need_the_apps_scopes() {
    let org = org().await;
    let (_, body) = token_request(
        &org,
        &assertion(&claims(&org, "0oaApp", 60, "a1")),
        "okta.users.read",
    )
    .await;
    let token = body["access_token"].as_str().expect("a token").to_owned();
    let (_, client) = org.pairs()[0].clone();
    let http = reqwest::Client::new();
    let get = |path: String| {
        http.get(format!("{}{path}", org.base_url()))
            .header("authorization", format!("Bearer {token}"))
            .send()
    };
    let users = get(format!("api/v1/users/{}/clients", org.pairs()[0].0))
        .await
        .expect("answered");
    assert_eq!(users.status(), 200);
    let apps = get(format!("api/v1/apps/{client}/tokens"))
        .await
        .expect("answered");
    assert_eq!(apps.status(), 403, "okta.apps.read was not granted");
}

#[tokio::test]
async fn the_system_log_needs_okta_logs_read_and_nothing_else() {
    let org = org().await;
    let http = reqwest::Client::new();
    let mut statuses = Vec::new();
    for (jti, scope) in [("l1", "okta.users.read"), ("l2", "okta.logs.read")] {
        let (_, body) =
            token_request(&org, &assertion(&claims(&org, "0oaApp", 60, jti)), scope).await;
        let token = body["access_token"].as_str().expect("a token").to_owned();
        let logs = http
            .get(format!("{}api/v1/logs", org.base_url()))
            .header("authorization", format!("Bearer {token}"))
            .send()
            .await
            .expect("answered");
        statuses.push((scope, logs.status().as_u16()));
    }
    assert_eq!(
        statuses,
        vec![("okta.users.read", 403), ("okta.logs.read", 200)]
    );
}

#[test]
fn the_jwk_thumbprint_matches_rfc_7638s_example() {
    // RFC 7638 §3.1.
    let jwk = json!({
        "kty": "RSA",
        "e": "AQAB",
        "alg": "RS256",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        "kid": "2011-04-29",
    });
    assert_eq!(
        thumbprint(&jwk).as_deref(),
        Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
    );
}

#[test]
fn a_registered_key_verifies_only_its_own_signature_over_the_sent_bytes() {
    let ec = PublicKey::parse(&fixture("test-only-ec.pub.pem")).expect("an SPKI P-256 key");
    let rsa = PublicKey::parse(&fixture("test-only-rsa.pub.pem")).expect("an SPKI RSA key");
    let (a, b) = (
        assertion(&json!({"iss": "a"})),
        assertion(&json!({"iss": "b"})),
    );
    let parsed = Jws::parse(&a).expect("a JWS");
    assert!(ec.verifies(&parsed));
    assert!(!rsa.verifies(&parsed), "another key");
    let (signed_b, signature_a) = (
        b.rsplit_once('.').expect("three parts").0,
        a.rsplit_once('.').expect("three parts").1,
    );
    let spliced = Jws::parse(&format!("{signed_b}.{signature_a}")).expect("a JWS");
    assert!(!ec.verifies(&spliced), "a signature over other claims");
    assert!(Jws::parse("a.b").is_none() && Jws::parse(&format!("{a}.x")).is_none());
}
