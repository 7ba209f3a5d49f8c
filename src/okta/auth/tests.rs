//! Unit tests of the OAuth pieces that need no network: key loading, the client assertion,
//! the renewal rule and DPoP proofs. Keys are the test-only fixtures in `tests/fixtures/oauth`.

use std::time::{Duration, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::SecretString;
use serde_json::Value;
use sha2::{Digest, Sha256};
use url::Url;

use super::assertion::{ASSERTION_LIFETIME, client_assertion};
use super::dpop::{DpopKey, ProofFor, ath};
use super::keys::{Algorithm, SigningKey};
use super::{needs_renewal, renewal_margin};
use crate::sim::jws::{Jws, PublicKey};

pub(crate) fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/oauth/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).expect("fixture exists")
}

pub(crate) fn key(name: &str, kid: Option<&str>) -> SigningKey {
    SigningKey::from_text(&SecretString::from(fixture(name)), kid).expect("the fixture key loads")
}

/// Verifies a JWS against a public JWK with the simulated org's verifier, which shares no code
/// with the signing side under test.
fn verifies(jwk: &Value, jws: &Jws) -> bool {
    PublicKey::from_jwk(jwk).is_some_and(|key| key.verifies(jws))
}

#[test]
fn every_accepted_key_form_loads_and_yields_the_same_public_key() {
    let rsa: Vec<SigningKey> = [
        "test-only-rsa.pkcs8.pem",
        "test-only-rsa.pkcs1.pem",
        "test-only-rsa.jwk.json",
    ]
    .iter()
    .map(|f| key(f, None))
    .collect();
    let ec: Vec<SigningKey> = [
        "test-only-ec.pkcs8.pem",
        "test-only-ec.sec1.pem",
        "test-only-ec.jwk.json",
    ]
    .iter()
    .map(|f| key(f, None))
    .collect();
    for (keys, alg, fields) in [
        (&rsa, Algorithm::Rs256, ["n", "e"]),
        (&ec, Algorithm::Es256, ["x", "y"]),
    ] {
        for k in keys {
            assert_eq!(k.algorithm(), alg);
            for f in fields {
                assert_eq!(k.public_jwk()[f], keys[0].public_jwk()[f], "{f} of {k:?}");
            }
            assert!(
                k.public_jwk().get("d").is_none(),
                "the public JWK has no private part"
            );
        }
    }
    assert_eq!(
        rsa[2].key_id(),
        Some("test-rsa-jwk"),
        "a JWK's own kid is used"
    );
    assert_eq!(ec[2].key_id(), Some("test-ec-jwk"));
    assert_eq!(rsa[0].key_id(), None);
    let overridden = key("test-only-ec.jwk.json", Some("from-config"));
    assert_eq!(overridden.key_id(), Some("from-config"), "okta.key_id wins");
    assert_eq!(overridden.public_jwk()["kid"], "from-config");
}

#[test]
fn debug_output_and_key_errors_never_show_key_material() {
    let pem = fixture("test-only-rsa.pkcs8.pem");
    let middle = pem.lines().nth(5).expect("a body line");
    let shown = format!("{:?}", key("test-only-rsa.pkcs8.pem", Some("k1")));
    assert!(
        !shown.contains(middle) && shown.contains("[redacted]"),
        "{shown}"
    );

    let damaged = pem.replace(middle, &middle[..middle.len() - 3]);
    let jwk = fixture("test-only-ec.jwk.json").replace("\"kty\"", "\"ktx\"");
    let public = fixture("test-only-rsa.pub.pem");
    for (text, expect) in [
        (damaged, "base64"),
        (jwk, "not a JWK"),
        (public, "public key"),
    ] {
        let err =
            SigningKey::from_text(&SecretString::from(text.clone()), None).expect_err("refused");
        let msg = err.to_string();
        assert!(msg.contains(expect), "{msg}");
        for line in text.lines().filter(|l| l.len() > 20) {
            assert!(
                !msg.contains(line.trim()),
                "the error quotes the key: {msg}"
            );
        }
    }
    let d = fixture("test-only-ec.jwk.json");
    let d: Value = serde_json::from_str(&d).expect("json");
    let bad = format!(
        r#"{{"kty":"EC","crv":"P-256","x":1,"d":"{}"}}"#,
        d["d"].as_str().expect("d")
    );
    let msg = SigningKey::from_text(&SecretString::from(bad), None)
        .expect_err("refused")
        .to_string();
    assert!(!msg.contains(d["d"].as_str().expect("d")), "{msg}");
}

#[test]
fn the_client_assertion_carries_the_claims_okta_requires() {
    let token_url = "https://example.okta.com/oauth2/v1/token";
    for (file, alg) in [
        ("test-only-rsa.pkcs8.pem", "RS256"),
        ("test-only-ec.sec1.pem", "ES256"),
    ] {
        let k = key(file, Some("kid-1"));
        let before = SystemTime::now();
        let first = client_assertion(&k, "0oaService", token_url, before).expect("signs");
        let second = client_assertion(&k, "0oaService", token_url, before).expect("signs");
        let [a, b] = [&first, &second]
            .map(|s| Jws::parse(secrecy::ExposeSecret::expose_secret(s)).expect("a JWS"));
        assert_eq!(a.header["alg"], alg);
        assert_eq!(a.header["kid"], "kid-1");
        let c = &a.claims;
        assert_eq!(c["aud"], token_url);
        assert_eq!(c["iss"], "0oaService");
        assert_eq!(c["sub"], "0oaService");
        let (iat, exp) = (
            c["iat"].as_u64().expect("iat"),
            c["exp"].as_u64().expect("exp"),
        );
        assert_eq!(exp - iat, ASSERTION_LIFETIME.as_secs());
        assert!(exp - iat <= 300, "at most five minutes ahead");
        let epoch = before
            .duration_since(SystemTime::UNIX_EPOCH)
            .expect("after 1970")
            .as_secs();
        assert_eq!(iat, epoch);
        assert!(c["jti"].as_str().is_some_and(|j| j.len() >= 16));
        assert_ne!(
            a.claims["jti"], b.claims["jti"],
            "every assertion has its own jti"
        );
        assert!(
            verifies(k.public_jwk(), &a),
            "{alg} signature verifies with the public key"
        );
    }
}

#[test]
fn renewal_happens_five_minutes_early_or_at_a_tenth_of_a_short_lifetime() {
    let s = Duration::from_secs;
    let ms = Duration::from_millis;
    assert_eq!(renewal_margin(s(3600)), s(300));
    assert_eq!(renewal_margin(s(600)), s(60));
    assert_eq!(renewal_margin(s(2)), ms(200));
    let table = [
        (s(0), s(3600), false),
        (s(3299), s(3600), false),
        (s(3300), s(3600), true),
        (s(4000), s(3600), true),
        (ms(1799), s(2), false),
        (ms(1800), s(2), true),
        (s(0), s(0), true),
    ];
    for (age, lifetime, renew) in table {
        assert_eq!(
            needs_renewal(age, lifetime),
            renew,
            "age {age:?} of {lifetime:?}"
        );
    }
}

#[test]
fn a_dpop_proof_carries_htm_htu_iat_jti_nonce_and_ath() {
    let dpop = DpopKey::generate().expect("a key");
    let url =
        Url::parse("https://example.okta.com/api/v1/users/00u1/clients/0oa2/tokens?limit=200#x")
            .expect("url");
    let token_ath = ath("sim-at-token");
    let now = SystemTime::now();
    let what = ProofFor {
        htm: "GET",
        url: &url,
        nonce: Some("n-1"),
        ath: Some(&token_ath),
    };
    let [p1, p2] =
        [(); 2].map(|()| Jws::parse(&dpop.proof(what, now).expect("signs")).expect("a JWS"));
    assert_eq!(p1.header["typ"], "dpop+jwt");
    assert_eq!(p1.header["alg"], "ES256");
    assert_eq!(&p1.header["jwk"], dpop.public_jwk());
    assert!(
        p1.header["jwk"].get("d").is_none(),
        "only the public key is sent"
    );
    let c = &p1.claims;
    assert_eq!(c["htm"], "GET");
    assert_eq!(
        c["htu"],
        "https://example.okta.com/api/v1/users/00u1/clients/0oa2/tokens"
    );
    assert_eq!(c["nonce"], "n-1");
    assert!(c["iat"].as_u64().is_some());
    assert_ne!(p1.claims["jti"], p2.claims["jti"]);
    let expected_ath = URL_SAFE_NO_PAD.encode(Sha256::digest(b"sim-at-token"));
    assert_eq!(c["ath"], expected_ath.as_str());
    assert!(verifies(dpop.public_jwk(), &p1));

    let bare = ProofFor {
        htm: "POST",
        url: &url,
        nonce: None,
        ath: None,
    };
    let p = Jws::parse(&dpop.proof(bare, now).expect("signs")).expect("a JWS");
    assert!(p.claims.get("nonce").is_none() && p.claims.get("ath").is_none());
}

#[test]
fn each_management_call_names_the_scope_okta_requires_for_it() {
    use reqwest::Method;
    let cases = [
        (Method::GET, "/api/v1/users/00u1/clients", "okta.users.read"),
        // getUser
        (Method::GET, "/api/v1/users/00u1", "okta.users.read"),
        (
            Method::GET,
            "/api/v1/users/00u1/clients/0oa1/tokens",
            "okta.users.read",
        ),
        (
            Method::GET,
            "/api/v1/users/00u1/clients/0oa1/tokens/oar1",
            "okta.users.read",
        ),
        (
            Method::DELETE,
            "/api/v1/users/00u1/clients/0oa1/tokens",
            "okta.users.manage",
        ),
        (
            Method::DELETE,
            "/api/v1/users/00u1/clients/0oa1/tokens/oar1",
            "okta.users.manage",
        ),
        // listOAuth2TokensForApplication, getOAuth2TokenForApplication
        (Method::GET, "/api/v1/apps/0oa1/tokens", "okta.apps.read"),
        (
            Method::GET,
            "/api/v1/apps/0oa1/tokens/oar1",
            "okta.apps.read",
        ),
        // revokeOAuth2TokensForApplication, revokeOAuth2TokenForApplication
        (
            Method::DELETE,
            "/api/v1/apps/0oa1/tokens",
            "okta.apps.manage",
        ),
        (
            Method::DELETE,
            "/api/v1/apps/0oa1/tokens/oar1",
            "okta.apps.manage",
        ),
        // listLogEvents
        (Method::GET, "/api/v1/logs", "okta.logs.read"),
    ];
    for (method, path, scope) in cases {
        assert_eq!(
            super::required_scope(&method, path),
            scope,
            "{method} {path}"
        );
    }
}
