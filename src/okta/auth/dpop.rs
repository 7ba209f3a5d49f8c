//! DPoP (RFC 9449) proofs: an ephemeral ES256 key pair per client, never written anywhere, and
//! the proof JWT (`typ` `dpop+jwt`, the public key as `jwk`; claims `htm`, `htu`, `iat`, a
//! random `jti`, the server's `nonce` when it asked for one, and `ath` on resource requests).

use std::time::SystemTime;

use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use url::Url;

use super::assertion::{epoch_secs, random_id};
use super::jwt;
use super::keys::{KeyError, ec_public_jwk};

/// The ephemeral key that access tokens get bound to.
pub struct DpopKey {
    pair: EcdsaKeyPair,
    jwk: Value,
}

impl std::fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpopKey")
            .field("jwk", &self.jwk)
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
    /// A new P-256 key pair from the system random source.
    pub fn generate() -> Result<DpopKey, KeyError> {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| KeyError::Signing)?;
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .map_err(|e| KeyError::Rejected(e.to_string()))?;
        let jwk = ec_public_jwk(pair.public_key().as_ref());
        Ok(DpopKey { pair, jwk })
    }

    /// The public key, as sent in every proof's `jwk` header.
    pub fn public_jwk(&self) -> &Value {
        &self.jwk
    }

    /// A signed proof.
    pub fn proof(&self, what: ProofFor<'_>, now: SystemTime) -> Result<String, KeyError> {
        let header = json!({ "typ": "dpop+jwt", "alg": "ES256", "jwk": self.jwk });
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
        let rng = SystemRandom::new();
        jwt::encode(&header, &claims, |input| {
            self.pair
                .sign(&rng, input)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| KeyError::Signing)
        })
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
    jwt::b64(Sha256::digest(access_token.as_bytes()))
}

/// The RFC 7638 SHA-256 thumbprint of a public JWK (EC or RSA); `None` if fields are missing.
pub fn jwk_thumbprint(jwk: &Value) -> Option<String> {
    let field = |name: &str| jwk.get(name).and_then(Value::as_str);
    // Members in lexicographic order, no whitespace, as the RFC requires.
    let canonical = match field("kty")? {
        "EC" => format!(
            r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
            field("crv")?,
            field("x")?,
            field("y")?
        ),
        "RSA" => format!(
            r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
            field("e")?,
            field("n")?
        ),
        _ => return None,
    };
    Some(jwt::b64(Sha256::digest(canonical.as_bytes())))
}
