//! DPoP (RFC 9449) proofs: an ephemeral ES256 key pair per client, never written anywhere, and
//! the proof JWT (`typ` `dpop+jwt`, the public key as `jwk`; claims `htm`, `htu`, `iat`, a
//! random `jti`, the server's `nonce` when it asked for one, and `ath` on resource requests).
//! The key is made with `p256` and signs through the same [`SigningKey`] as the client
//! assertion.

use std::time::SystemTime;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::Jwk;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use url::Url;

use super::assertion::{epoch_secs, random_id};
use super::key_files::ec_key;
use super::keys::{KeyError, SigningKey};

/// The ephemeral key that access tokens get bound to.
pub struct DpopKey {
    key: SigningKey,
    jwk: Jwk,
}

impl std::fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpopKey")
            .field("jwk", self.key.public_jwk())
            .finish_non_exhaustive()
    }
}

/// What one proof is for.
#[derive(Debug, Clone, Copy)]
pub struct ProofFor<'a> {
    /// HTTP method, e.g. `POST`.
    pub htm: &'a str,
    /// The request URL; query and fragment are dropped, as RFC 9449 §4.2 says.
    pub url: &'a Url,
    /// The server-provided nonce, if it asked for one.
    pub nonce: Option<&'a str>,
    /// `ath`: see [`ath`]; only on resource requests.
    pub ath: Option<&'a str>,
}

impl DpopKey {
    /// A new P-256 key pair from the thread's CSPRNG (seeded by the system random source).
    pub fn generate() -> Result<DpopKey, KeyError> {
        // A random 32-byte string is a valid scalar unless it is zero or ≥ the group order
        // (odds about 2⁻³²); draw again then.
        let secret = std::iter::repeat_with(rand::random::<[u8; 32]>)
            .take(8)
            .find_map(|bytes| p256::SecretKey::from_slice(&bytes).ok())
            .ok_or(KeyError::Signing)?;
        let key = SigningKey::new(ec_key(&secret)?, None)?;
        let jwk = serde_json::from_value(key.public_jwk().clone())
            .map_err(|e| KeyError::Rejected(e.to_string()))?;
        Ok(DpopKey { key, jwk })
    }

    /// The public key, as sent in every proof's `jwk` header.
    pub fn public_jwk(&self) -> &Value {
        self.key.public_jwk()
    }

    /// A signed proof.
    pub fn proof(&self, what: ProofFor<'_>, now: SystemTime) -> Result<String, KeyError> {
        let mut header = self.key.header("dpop+jwt");
        header.jwk = Some(self.jwk.clone());
        let mut claims = json!({
            "htm": what.htm,
            "htu": htu(what.url),
            "iat": epoch_secs(now),
            "jti": random_id(),
        });
        if let Some(obj) = claims.as_object_mut() {
            if let Some(nonce) = what.nonce {
                obj.insert("nonce".into(), Value::String(nonce.to_owned()));
            }
            if let Some(ath) = what.ath {
                obj.insert("ath".into(), Value::String(ath.to_owned()));
            }
        }
        self.key.sign(&header, &claims)
    }
}

/// `htu`: the URL without query and fragment.
pub fn htu(url: &Url) -> String {
    let mut url = url.clone();
    url.set_query(None);
    url.set_fragment(None);
    url.to_string()
}

/// `ath`: base64url of the SHA-256 of the access token's ASCII text.
pub fn ath(access_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(access_token.as_bytes()))
}
