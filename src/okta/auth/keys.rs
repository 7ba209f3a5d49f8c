//! The service app's signing key: read once from a file (PEM or JWK; pairs with systemd
//! `LoadCredential=`), and JWTs signed with it through `jsonwebtoken` (whose RS256 and ES256
//! run on *ring*, the provider rustls already links). RS256 (RSA 2048–8192 bits) and ES256
//! (P-256). Nothing here logs, and no error or `Debug` output contains key material: parse
//! errors say what is wrong, never what was read.
//!
//! Accepted files: PKCS#8 `PRIVATE KEY`, PKCS#1 `RSA PRIVATE KEY`, SEC1 `EC PRIVATE KEY`, or a
//! private JWK (`.json`; `kty` `RSA` with `n e d p q dp dq qi`, or `EC` with `crv` `P-256` and
//! `x y d`); `key_files` reads them. The key is checked when loaded by signing once, so a key
//! *ring* refuses (e.g. RSA shorter than 2048 bits) fails at startup, not at the first request.
//! The parsed key lives in one `jsonwebtoken::EncodingKey` for the life of the process (the
//! buffers it was read through are zeroized on drop; that one is not, as `jsonwebtoken` keeps it).

use std::path::Path;
use std::sync::Arc;

use jsonwebtoken::{EncodingKey, Header};
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use serde::Serialize;
use serde_json::Value;

use super::key_files::{from_jwk, from_pem};

/// A JWS algorithm revokd signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// ECDSA on P-256 with SHA-256 (signature `r || s`, 64 bytes).
    Es256,
}

impl Algorithm {
    /// The JOSE `alg` name.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Rs256 => "RS256",
            Algorithm::Es256 => "ES256",
        }
    }

    fn jose(self) -> jsonwebtoken::Algorithm {
        match self {
            Algorithm::Rs256 => jsonwebtoken::Algorithm::RS256,
            Algorithm::Es256 => jsonwebtoken::Algorithm::ES256,
        }
    }
}

/// Why a key could not be loaded or used. Never carries key material.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file could not be read; the text says why (and names the file only where there is
    /// one: see [`crate::config::cannot_read`]).
    #[error("{0}")]
    Read(String),
    /// The file is not a key revokd can use; the text says why.
    #[error("{0}")]
    Format(String),
    /// The crypto library refused the key (e.g. RSA shorter than 2048 bits).
    #[error("the key was rejected ({0})")]
    Rejected(String),
    /// Signing failed (the system random source failed).
    #[error("signing failed")]
    Signing,
}

pub(super) fn invalid(text: impl Into<String>) -> KeyError {
    KeyError::Format(text.into())
}

/// A key as a key file yields it: the DER form `jsonwebtoken` signs with (PKCS#1 for RSA,
/// PKCS#8 for P-256, in a zeroizing buffer) and the public JWK members (`kty` and `n e` or
/// `crv x y`).
pub(super) struct Parsed {
    pub(super) alg: Algorithm,
    pub(super) der: SecretSlice<u8>,
    pub(super) public: Value,
}

/// The service app's private key, with its algorithm and `kid`. Cheap to clone.
#[derive(Clone)]
pub struct SigningKey {
    alg: Algorithm,
    kid: Option<String>,
    key: Arc<EncodingKey>,
    public_jwk: Value,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &self.alg.as_str())
            .field("kid", &self.kid)
            .field("key", &"[redacted]")
            .finish()
    }
}

impl SigningKey {
    /// Reads a key file. `key_id` (from `okta.key_id`) wins over a JWK's own `kid`.
    pub fn from_file(path: &Path, key_id: Option<&str>) -> Result<SigningKey, KeyError> {
        let text = std::fs::read_to_string(path)
            .map(SecretString::from)
            .map_err(|e| KeyError::Read(crate::config::cannot_read(path, &e)))?;
        SigningKey::from_text(&text, key_id)
    }

    /// Parses a PEM or JWK text (see the module docs for the accepted forms).
    pub fn from_text(text: &SecretString, key_id: Option<&str>) -> Result<SigningKey, KeyError> {
        let trimmed = text.expose_secret().trim_start();
        let (parsed, jwk_kid) = if trimmed.starts_with('{') {
            from_jwk(trimmed)?
        } else {
            (from_pem(trimmed)?, None)
        };
        SigningKey::new(parsed, key_id.map(str::to_owned).or(jwk_kid))
    }

    /// Wraps parsed key material, checking it by signing once.
    pub(super) fn new(parsed: Parsed, kid: Option<String>) -> Result<SigningKey, KeyError> {
        let der = parsed.der.expose_secret();
        let key = match parsed.alg {
            Algorithm::Rs256 => EncodingKey::from_rsa_der(der),
            Algorithm::Es256 => EncodingKey::from_ec_der(der),
        };
        jsonwebtoken::crypto::sign(b"key check", &key, parsed.alg.jose())
            .map_err(|e| KeyError::Rejected(e.to_string()))?;
        let mut public_jwk = parsed.public;
        if let Some(obj) = public_jwk.as_object_mut() {
            obj.insert("alg".into(), parsed.alg.as_str().into());
            obj.insert("use".into(), "sig".into());
            if let Some(kid) = &kid {
                obj.insert("kid".into(), kid.as_str().into());
            }
        }
        Ok(SigningKey {
            alg: parsed.alg,
            kid,
            key: Arc::new(key),
            public_jwk,
        })
    }

    /// The JWS algorithm this key signs with.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// The `kid` sent in JWS headers, if any.
    pub fn key_id(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The public half as a JWK (with `kid`, `alg`, `use`): what the Okta service app (or the
    /// simulated org) registers.
    pub fn public_jwk(&self) -> &Value {
        &self.public_jwk
    }

    /// A JWS header with this key's `alg` and `kid` and the given `typ`.
    pub fn header(&self, typ: &str) -> Header {
        Header {
            typ: Some(typ.to_owned()),
            kid: self.kid.clone(),
            ..Header::new(self.alg.jose())
        }
    }

    /// A compact JWS of `claims` under `header` (whose `alg` must be this key's).
    pub fn sign<T: Serialize>(&self, header: &Header, claims: &T) -> Result<String, KeyError> {
        jsonwebtoken::encode(header, claims, &self.key).map_err(|_| KeyError::Signing)
    }
}
