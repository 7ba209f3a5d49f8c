//! The sim's own reading of the JWTs clients send: compact JWS taken apart, the public keys
//! service apps register (SPKI or PKCS#1 PEM, or a public JWK), signatures checked with
//! RustCrypto's `rsa` and `p256` verifiers, and the RFC 7638 thumbprint DPoP binds tokens to.
//! It shares no code with the client (which signs through `jsonwebtoken` on *ring*), so a bug in
//! one shows up as a refusal from the other.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::pkcs8::DecodePublicKey;
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::signature::Verifier;
use rsa::traits::PublicKeyParts;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Smallest RSA modulus accepted, as Okta (and *ring*) require.
const MIN_RSA_BITS: usize = 2048;
/// Largest RSA modulus accepted.
const MAX_RSA_BITS: usize = 8192;

/// A JWS taken apart, signature not checked.
#[derive(Debug, Clone)]
pub(crate) struct Jws {
    pub(crate) header: Value,
    pub(crate) claims: Value,
    /// `header.claims` as sent: the bytes the signature covers.
    signing_input: String,
    signature: Vec<u8>,
}

impl Jws {
    /// Splits and decodes a compact JWS; `None` if it is not one.
    pub(crate) fn parse(jwt: &str) -> Option<Jws> {
        let mut parts = jwt.split('.');
        let (h, c, s) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let json = |part: &str| {
            URL_SAFE_NO_PAD
                .decode(part)
                .ok()
                .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
                .filter(Value::is_object)
        };
        Some(Jws {
            header: json(h)?,
            claims: json(c)?,
            signing_input: format!("{h}.{c}"),
            signature: URL_SAFE_NO_PAD.decode(s).ok()?,
        })
    }
}

/// A registered public key.
#[derive(Debug, Clone)]
pub(crate) enum PublicKey {
    Rsa(rsa::RsaPublicKey),
    P256(p256::ecdsa::VerifyingKey),
}

impl PublicKey {
    /// Reads a `PUBLIC KEY` / `RSA PUBLIC KEY` PEM or a JWK (`kty` RSA or EC P-256).
    pub(crate) fn parse(text: &str) -> Result<PublicKey, String> {
        let text = text.trim();
        if text.starts_with('{') {
            let jwk: Value = serde_json::from_str(text).map_err(|e| format!("not a JWK: {e}"))?;
            return PublicKey::from_jwk(&jwk)
                .ok_or_else(|| "a JWK without usable RSA n/e or P-256 x/y".into());
        }
        let label = pem_rfc7468::decode_label(text.as_bytes())
            .map_err(|e| format!("neither a PEM public key nor a JWK ({e})"))?;
        let key = match label {
            "PUBLIC KEY" => rsa::RsaPublicKey::from_public_key_pem(text)
                .map(PublicKey::Rsa)
                .or_else(|_| {
                    p256::ecdsa::VerifyingKey::from_public_key_pem(text).map(PublicKey::P256)
                })
                .ok(),
            "RSA PUBLIC KEY" => rsa::RsaPublicKey::from_pkcs1_pem(text)
                .map(PublicKey::Rsa)
                .ok(),
            other => return Err(format!("a PEM `{other}` block; register the public key")),
        };
        key.ok_or_else(|| "not an RSA or P-256 public key".into())
    }

    /// A public JWK's key, if it is RSA or EC P-256.
    pub(crate) fn from_jwk(jwk: &Value) -> Option<PublicKey> {
        let field = |name: &str| {
            jwk.get(name)
                .and_then(Value::as_str)
                .and_then(|v| URL_SAFE_NO_PAD.decode(v).ok())
        };
        match jwk.get("kty").and_then(Value::as_str)? {
            "RSA" => {
                let n = rsa::BigUint::from_bytes_be(&field("n")?);
                let e = rsa::BigUint::from_bytes_be(&field("e")?);
                rsa::RsaPublicKey::new_with_max_size(n, e, MAX_RSA_BITS)
                    .ok()
                    .map(PublicKey::Rsa)
            }
            "EC" if jwk.get("crv").and_then(Value::as_str) == Some("P-256") => {
                let (x, y) = (field("x")?, field("y")?);
                if x.len() != 32 || y.len() != 32 {
                    return None;
                }
                let point = [&[4u8][..], &x, &y].concat();
                p256::ecdsa::VerifyingKey::from_sec1_bytes(&point)
                    .ok()
                    .map(PublicKey::P256)
            }
            _ => None,
        }
    }

    /// The JWS `alg` this key verifies.
    pub(crate) fn alg(&self) -> &'static str {
        match self {
            PublicKey::Rsa(_) => "RS256",
            PublicKey::P256(_) => "ES256",
        }
    }

    /// Whether `jws` is signed by this key with the matching algorithm.
    pub(crate) fn verifies(&self, jws: &Jws) -> bool {
        if jws.header.get("alg").and_then(Value::as_str) != Some(self.alg()) {
            return false;
        }
        let msg = jws.signing_input.as_bytes();
        match self {
            PublicKey::Rsa(key) => {
                let bits = key.n().bits();
                let verifier = rsa::pkcs1v15::VerifyingKey::<Sha256>::new(key.clone());
                (MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits)
                    && rsa::pkcs1v15::Signature::try_from(jws.signature.as_slice())
                        .is_ok_and(|sig| verifier.verify(msg, &sig).is_ok())
            }
            PublicKey::P256(key) => p256::ecdsa::Signature::from_slice(&jws.signature)
                .is_ok_and(|sig| key.verify(msg, &sig).is_ok()),
        }
    }
}

/// The RFC 7638 SHA-256 thumbprint of a public JWK (EC or RSA); `None` if fields are missing.
pub(crate) fn thumbprint(jwk: &Value) -> Option<String> {
    let field = |name: &str| jwk.get(name).and_then(Value::as_str);
    // The required members only, in lexicographic order, without whitespace (RFC 7638 §3.2);
    // serde_json escapes each value as JSON requires.
    let members: &[&str] = match field("kty")? {
        "EC" => &["crv", "kty", "x", "y"],
        "RSA" => &["e", "kty", "n"],
        _ => return None,
    };
    let mut canonical = serde_json::Map::new();
    for &m in members {
        canonical.insert(m.to_owned(), Value::String(field(m)?.to_owned()));
    }
    Some(URL_SAFE_NO_PAD.encode(Sha256::digest(Value::Object(canonical).to_string())))
}

/// `ath`: base64url of the SHA-256 of an access token (RFC 9449 §4.2).
pub(crate) fn ath(access_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(access_token.as_bytes()))
}
