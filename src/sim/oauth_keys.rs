//! The sim's checks of presented credentials: DPoP proofs (signature, `htm`/`htu`, `iat`
//! window, single-use `jti`) and the access token on API calls (known, unexpired, presented as
//! issued, carrying the scope the call needs). Signatures are checked by `jws`.

use std::time::Instant;

use serde_json::Value;

use super::jws::{Jws, PublicKey, ath, thumbprint};
use super::oauth::{Inner, now_secs};

/// Accepted age (and clock skew) of a DPoP proof's `iat`.
const PROOF_WINDOW: u64 = 300;

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
    let jws = Jws::parse(proof).ok_or("The DPoP proof is not a valid JWT.")?;
    let h = |name: &str| jws.header.get(name).and_then(Value::as_str);
    if h("typ") != Some("dpop+jwt") {
        return Err("The DPoP proof typ must be dpop+jwt.".into());
    }
    let jwk = jws
        .header
        .get("jwk")
        .ok_or("The DPoP proof has no jwk header.")?;
    let key =
        PublicKey::from_jwk(jwk).ok_or("The DPoP proof jwk is not a supported public key.")?;
    if jwk.get("d").is_some() {
        return Err("The DPoP proof jwk must not contain a private key.".into());
    }
    let jkt = thumbprint(jwk).ok_or("The DPoP proof jwk has no thumbprint.")?;
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
