//! The `private_key_jwt` client assertion (RFC 7523 §2.2, Okta's "Implement OAuth for Okta
//! with a service app"): a JWT signed by the service app's key, `iss` = `sub` = client id,
//! `aud` = the token URL, a short life and a random `jti` so it can be used once only.

use std::time::{Duration, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::SecretString;
use serde_json::{Value, json};

use super::keys::{KeyError, SigningKey};

/// How long an assertion is valid: well under Okta's one-hour maximum, since each one is sent
/// once, immediately.
pub const ASSERTION_LIFETIME: Duration = Duration::from_secs(300);

/// Seconds since the Unix epoch.
pub(crate) fn epoch_secs(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A fresh random identifier (128 bits, base64url) for `jti`.
pub(crate) fn random_id() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>())
}

/// The assertion's claims.
pub fn claims(client_id: &str, token_url: &str, now: SystemTime, jti: &str) -> Value {
    let iat = epoch_secs(now);
    json!({
        "iss": client_id,
        "sub": client_id,
        "aud": token_url,
        "iat": iat,
        "exp": iat + ASSERTION_LIFETIME.as_secs(),
        "jti": jti,
    })
}

/// A signed, single-use client assertion with a new `jti`. It is a credential (valid for
/// [`ASSERTION_LIFETIME`]), so it is returned as a secret.
pub fn client_assertion(
    key: &SigningKey,
    client_id: &str,
    token_url: &str,
    now: SystemTime,
) -> Result<SecretString, KeyError> {
    let claims = claims(client_id, token_url, now, &random_id());
    key.sign(&key.header("JWT"), &claims)
        .map(SecretString::from)
}
