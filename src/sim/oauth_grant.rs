//! The sim token endpoint's checks of one client-credentials request, in Okta's order: the
//! grant type and client assertion, the assertion's claims and signature, its single-use
//! `jti`, the requested scopes and the DPoP proof. Each refusal carries Okta's RFC 6749 error.

use std::collections::HashMap;

use serde_json::Value;

use super::jws::Jws;
use super::oauth::{App, Inner, MAX_ASSERTION_AHEAD};
use super::oauth_keys::verify_proof;

/// Why a token request was refused.
pub(super) enum Refused {
    /// Okta's `error` and `error_description`; `reason` names the counter it bumps.
    Error {
        reason: &'static str,
        error: &'static str,
        description: String,
    },
    /// The DPoP proof lacks the server's nonce: answer `use_dpop_nonce` with it.
    NonceChallenge,
}

/// What a request that passed every check is granted.
pub(super) struct Grant {
    pub(super) scopes: Vec<String>,
    /// Thumbprint of the DPoP key the token will be bound to.
    pub(super) jkt: Option<String>,
}

/// A refusal with Okta's `error` and `description`, counted under `reason`.
fn refused(reason: &'static str, error: &'static str, description: impl Into<String>) -> Refused {
    Refused::Error {
        reason,
        error,
        description: description.into(),
    }
}

/// A refusal of the client assertion (`invalid_client`), counted under `reason`.
fn bad_client(reason: &'static str, description: &str) -> Refused {
    refused(reason, "invalid_client", description)
}

/// Runs every check of a token request at `token_url`; on success the assertion's `jti` is
/// spent. `nonce` is the server's current DPoP nonce.
pub(super) fn check(
    inner: &mut Inner,
    nonce: &str,
    token_url: &str,
    dpop: Option<&str>,
    form: &HashMap<String, String>,
) -> Result<Grant, Refused> {
    let field = |name: &str| form.get(name).map(String::as_str);
    let assertion = client_assertion(field)?;
    inner.seen.push(assertion.to_owned());
    let jws = Jws::parse(assertion).ok_or_else(|| {
        bad_client(
            "malformed assertion",
            "The client_assertion is not a valid JWT.",
        )
    })?;
    let now = super::oauth::now_secs();
    let client_id = verify_assertion(inner, &jws, token_url, now)?;
    let jti = jws.claims.get("jti").and_then(Value::as_str);
    check_replay(inner, jti)?;
    let app = &inner.apps[client_id];
    let scopes = granted_scopes(app, field("scope"))?;
    let require_dpop = app.require_dpop;
    let jkt = match dpop {
        None if require_dpop => {
            return Err(refused(
                "dpop proof missing",
                "invalid_dpop_proof",
                "The DPoP proof JWT header is missing.",
            ));
        }
        None => None,
        Some(proof) => Some(check_dpop(inner, nonce, proof, token_url, now)?),
    };
    if let Some(jti) = jti {
        inner.used_jtis.insert(jti.to_owned());
    }
    Ok(Grant { scopes, jkt })
}

/// The client assertion of a `client_credentials` form authenticated by `private_key_jwt`.
fn client_assertion<'a>(field: impl Fn(&str) -> Option<&'a str>) -> Result<&'a str, Refused> {
    if field("grant_type") != Some("client_credentials") {
        return Err(refused(
            "unsupported grant_type",
            "unsupported_grant_type",
            "The grant type is not supported.",
        ));
    }
    if field("client_assertion_type")
        != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
    {
        return Err(bad_client(
            "no client assertion",
            "Client authentication failed: client_assertion_type is missing or invalid.",
        ));
    }
    field("client_assertion").ok_or_else(|| {
        bad_client(
            "no client assertion",
            "Client authentication failed: client_assertion is missing.",
        )
    })
}

/// The client id of an assertion whose claims, signature, audience and expiry all hold.
fn verify_assertion<'j>(
    inner: &Inner,
    jws: &'j Jws,
    token_url: &str,
    now: u64,
) -> Result<&'j str, Refused> {
    let claim = |name: &str| jws.claims.get(name).and_then(Value::as_str);
    let Some(client_id) = claim("iss") else {
        return Err(bad_client(
            "malformed assertion",
            "The client_assertion has no iss claim.",
        ));
    };
    if claim("sub") != Some(client_id) {
        return Err(bad_client(
            "iss and sub differ",
            "The iss and sub claims of the client_assertion must both be the client_id.",
        ));
    }
    let Some(app) = inner.apps.get(client_id) else {
        return Err(bad_client(
            "unknown client_id",
            "Invalid value for 'client_id' parameter.",
        ));
    };
    if !app.key.verifies(jws) {
        return Err(bad_client(
            "bad signature",
            "The client_assertion signature is invalid.",
        ));
    }
    if claim("aud") != Some(token_url) {
        return Err(bad_client(
            "wrong audience",
            "The audience claim for client_assertion must be the endpoint invoking the client_assertion.",
        ));
    }
    check_expiry(jws.claims.get("exp").and_then(Value::as_u64), now)?;
    Ok(client_id)
}

/// The assertion's `exp` must lie after `now` and at most `MAX_ASSERTION_AHEAD` beyond it.
fn check_expiry(exp: Option<u64>, now: u64) -> Result<(), Refused> {
    match exp {
        None => Err(bad_client(
            "no exp",
            "The client_assertion has no exp claim.",
        )),
        Some(exp) if exp <= now => Err(bad_client(
            "expired",
            "The client_assertion token is expired.",
        )),
        Some(exp) if exp > now + MAX_ASSERTION_AHEAD => Err(bad_client(
            "exp too far ahead",
            "The client_assertion token has an expiration too far into the future.",
        )),
        Some(_) => Ok(()),
    }
}

/// Refuses a `jti` already spent, or any assertion while a forced replay is pending.
fn check_replay(inner: &mut Inner, jti: Option<&str>) -> Result<(), Refused> {
    let replayed = jti.is_some_and(|j| inner.used_jtis.contains(j));
    let forced = inner.replay_next > 0;
    if !(replayed || forced) {
        return Ok(());
    }
    inner.replay_next = inner
        .replay_next
        .saturating_sub(u32::from(forced && !replayed));
    Err(bad_client(
        "jti already used",
        "The client_assertion token has already been used (jti already used).",
    ))
}

/// The space-separated `scope` of the form, if it is non-empty and all granted to `app`.
fn granted_scopes(app: &App, scope: Option<&str>) -> Result<Vec<String>, Refused> {
    let requested: Vec<String> = scope
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let missing: Vec<&str> = requested
        .iter()
        .filter(|s| !app.scopes.contains(s))
        .map(String::as_str)
        .collect();
    let description = if requested.is_empty() {
        "The 'scope' parameter is required for client credentials.".to_owned()
    } else if !missing.is_empty() {
        format!(
            "The following scopes are not allowed: {}.",
            missing.join(", ")
        )
    } else {
        return Ok(requested);
    };
    Err(refused("scope not granted", "invalid_scope", description))
}

/// The thumbprint of a valid DPoP `proof` for this token request carrying `nonce`.
fn check_dpop(
    inner: &mut Inner,
    nonce: &str,
    proof: &str,
    token_url: &str,
    now: u64,
) -> Result<String, Refused> {
    match verify_proof(inner, proof, "POST", token_url, now) {
        Err(why) => Err(refused("dpop proof invalid", "invalid_dpop_proof", why)),
        Ok((_, claims)) if claims.get("nonce").and_then(Value::as_str) != Some(nonce) => {
            Err(Refused::NonceChallenge)
        }
        Ok((jkt, _)) => Ok(jkt),
    }
}
