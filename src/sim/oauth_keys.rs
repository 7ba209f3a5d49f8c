//! Signature checks for the sim's OAuth side: the public keys service apps register (SPKI or
//! PKCS#1 PEM, or a public JWK), JWS verification (RS256, ES256) with *ring*, DPoP proofs, and
//! the access-token check on API calls.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::signature::{
    ECDSA_P256_SHA256_FIXED, RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents, UnparsedPublicKey,
};
use std::time::Instant;

use serde_json::Value;

use super::oauth::{Inner, now_secs};
use crate::okta::auth::der::{self, SpkiKey};
use crate::okta::auth::dpop::{ath, jwk_thumbprint};
use crate::okta::auth::jwt::{self, Decoded};

/// Accepted age (and clock skew) of a DPoP proof's `iat`.
const PROOF_WINDOW: u64 = 300;

/// A registered public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PublicKey(SpkiKey);

impl PublicKey {
    /// Reads a `PUBLIC KEY` / `RSA PUBLIC KEY` PEM or a JWK (`kty` RSA or EC P-256).
    pub(crate) fn parse(text: &str) -> Result<PublicKey, String> {
        let text = text.trim();
        if text.starts_with('{') {
            let jwk: Value = serde_json::from_str(text).map_err(|e| format!("not a JWK: {e}"))?;
            return from_jwk(&jwk)
                .map(PublicKey)
                .ok_or_else(|| "a JWK without usable RSA n/e or P-256 x/y".into());
        }
        let begin = text
            .find("-----BEGIN ")
            .ok_or("neither a PEM public key nor a JWK")?;
        let after = &text[begin + 11..];
        let label_end = after.find("-----").ok_or("a PEM block without a label")?;
        let body = &after[label_end + 5..];
        let end = body
            .find("-----END ")
            .ok_or("a PEM block without an END line")?;
        let b64: String = body[..end].chars().filter(|c| !c.is_whitespace()).collect();
        let der_bytes = STANDARD.decode(b64).map_err(|_| "PEM body is not base64")?;
        let key = match &after[..label_end] {
            "PUBLIC KEY" => der::spki(&der_bytes),
            "RSA PUBLIC KEY" => der::rsa_public(&der_bytes),
            other => return Err(format!("a PEM `{other}` block; register the public key")),
        };
        key.map(PublicKey)
            .ok_or_else(|| "not an RSA or P-256 public key".into())
    }

    /// Wraps an already-parsed key.
    pub(crate) fn from_spki(key: SpkiKey) -> PublicKey {
        PublicKey(key)
    }

    /// The JWS `alg` this key verifies.
    pub(crate) fn alg(&self) -> &'static str {
        match self.0 {
            SpkiKey::Rsa { .. } => "RS256",
            SpkiKey::P256(_) => "ES256",
        }
    }

    /// Whether `jws` is signed by this key with the matching algorithm.
    pub(crate) fn verifies(&self, jws: &Decoded) -> bool {
        if jws.header.get("alg").and_then(Value::as_str) != Some(self.alg()) {
            return false;
        }
        let msg = jws.signing_input.as_bytes();
        match &self.0 {
            SpkiKey::Rsa { n, e } => RsaPublicKeyComponents { n, e }
                .verify(&RSA_PKCS1_2048_8192_SHA256, msg, &jws.signature)
                .is_ok(),
            SpkiKey::P256(point) => UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
                .verify(msg, &jws.signature)
                .is_ok(),
        }
    }
}

/// A public JWK's key, if it is RSA or EC P-256.
pub(crate) fn from_jwk(jwk: &Value) -> Option<SpkiKey> {
    let field = |name: &str| {
        jwk.get(name)
            .and_then(Value::as_str)
            .and_then(|v| URL_SAFE_NO_PAD.decode(v).ok())
    };
    match jwk.get("kty").and_then(Value::as_str)? {
        "RSA" => Some(SpkiKey::Rsa {
            n: der::unsigned(&field("n")?).to_vec(),
            e: der::unsigned(&field("e")?).to_vec(),
        }),
        "EC" if jwk.get("crv").and_then(Value::as_str) == Some("P-256") => {
            let (x, y) = (field("x")?, field("y")?);
            if x.len() != 32 || y.len() != 32 {
                return None;
            }
            let mut point = vec![4u8];
            point.extend(x);
            point.extend(y);
            Some(SpkiKey::P256(point))
        }
        _ => None,
    }
}

/// An API call's token: `Err(401)` unknown, expired or wrongly presented; `Err(403)` no scope.
pub(crate) fn check_token(
    inner: &mut Inner,
    authorization: &str,
    dpop: Option<&str>,
    method: &str,
    htu: &str,
    needed: &str,
) -> Result<(), u16> {
    let (scheme, token) = authorization.split_once(' ').ok_or(401_u16)?;
    let issued = inner.tokens.get(token).ok_or(401_u16)?;
    if issued.expires <= Instant::now() {
        inner.tokens.remove(token);
        return Err(401);
    }
    match (scheme, issued.jkt.clone()) {
        ("Bearer", None) => {}
        ("DPoP", Some(bound)) => {
            let proof = dpop.ok_or(401_u16)?;
            let (jkt, claims) =
                verify_proof(inner, proof, method, htu, now_secs()).map_err(|_| 401_u16)?;
            if jkt != bound
                || claims.get("ath").and_then(Value::as_str) != Some(ath(token).as_str())
            {
                return Err(401);
            }
        }
        _ => return Err(401),
    }
    let issued = inner.tokens.get(token).ok_or(401_u16)?;
    if issued.scopes.iter().any(|s| s == needed) {
        Ok(())
    } else {
        Err(403)
    }
}

/// Verifies a DPoP proof for `htm` `htu`; returns its key's thumbprint and its claims.
pub(crate) fn verify_proof(
    inner: &mut Inner,
    proof: &str,
    htm: &str,
    htu: &str,
    now: u64,
) -> Result<(String, Value), String> {
    let jws: Decoded = jwt::decode(proof).ok_or("The DPoP proof is not a valid JWT.")?;
    let h = |name: &str| jws.header.get(name).and_then(Value::as_str);
    if h("typ") != Some("dpop+jwt") {
        return Err("The DPoP proof typ must be dpop+jwt.".into());
    }
    let jwk = jws
        .header
        .get("jwk")
        .ok_or("The DPoP proof has no jwk header.")?;
    let key = from_jwk(jwk).ok_or("The DPoP proof jwk is not a supported public key.")?;
    if jwk.get("d").is_some() {
        return Err("The DPoP proof jwk must not contain a private key.".into());
    }
    let jkt = jwk_thumbprint(jwk).ok_or("The DPoP proof jwk has no thumbprint.")?;
    let key = PublicKey::from_spki(key);
    if !key.verifies(&jws) {
        return Err("The DPoP proof signature is invalid.".into());
    }
    let c = |name: &str| jws.claims.get(name).and_then(Value::as_str);
    if c("htm") != Some(htm) || c("htu") != Some(htu) {
        return Err("The DPoP proof htm or htu does not match the request.".into());
    }
    let iat = jws
        .claims
        .get("iat")
        .and_then(Value::as_u64)
        .ok_or("The DPoP proof has no iat.")?;
    if iat + PROOF_WINDOW < now || iat > now + PROOF_WINDOW {
        return Err("The DPoP proof iat is out of range.".into());
    }
    let jti = c("jti").ok_or("The DPoP proof has no jti.")?.to_owned();
    if !inner.proof_jtis.insert(jti) {
        return Err("The DPoP proof jti was already used.".into());
    }
    Ok((jkt, jws.claims))
}
