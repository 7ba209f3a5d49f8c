//! The service app's signing key: read once from a file (PEM or JWK; pairs with systemd
//! `LoadCredential=`), kept as zeroizing secret bytes, and parsed again only for the moment of
//! signing. RS256 (RSA 2048–8192 bits) and ES256 (P-256). Nothing here logs, and no error or
//! `Debug` output contains key material: parse errors say what is wrong, never what was read.
//!
//! Accepted files: PKCS#8 `PRIVATE KEY`, PKCS#1 `RSA PRIVATE KEY`, SEC1 `EC PRIVATE KEY` (with
//! its public key, as OpenSSL writes it), or a private JWK (`.json`; `kty` `RSA` with
//! `n e d p q dp dq qi`, or `EC` with `crv` `P-256` and `x y d`).

use std::path::Path;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::rsa::{KeyPairComponents, PublicKeyComponents};
use ring::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair, RSA_PKCS1_SHA256, RsaKeyPair,
};
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use serde_json::{Value, json};

use super::der;
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
}

/// Why a key could not be loaded or used. Never carries key material.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
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

fn rejected(e: ring::error::KeyRejected) -> KeyError {
    KeyError::Rejected(e.to_string())
}

/// The private material, kept in zeroizing buffers.
pub(super) enum Material {
    RsaPkcs8(SecretSlice<u8>),
    RsaPkcs1(SecretSlice<u8>),
    /// JWK parts: public `n`, `e`; private `d p q dp dq qi` in that order.
    RsaParts {
        n: Vec<u8>,
        e: Vec<u8>,
        private: Vec<SecretSlice<u8>>,
    },
    EcPkcs8(SecretSlice<u8>),
    /// A P-256 private scalar (32 bytes) and its uncompressed public point.
    EcParts {
        d: SecretSlice<u8>,
        point: Vec<u8>,
    },
}

/// The service app's private key, with its algorithm and `kid`. Cheap to clone.
#[derive(Clone)]
pub struct SigningKey {
    alg: Algorithm,
    kid: Option<String>,
    material: Arc<Material>,
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
            .map_err(|source| KeyError::Read {
                path: path.display().to_string(),
                source,
            })?;
        SigningKey::from_text(&text, key_id)
    }

    /// Parses a PEM or JWK text (see the module docs for the accepted forms).
    pub fn from_text(text: &SecretString, key_id: Option<&str>) -> Result<SigningKey, KeyError> {
        let trimmed = text.expose_secret().trim_start();
        let (material, jwk_kid) = if trimmed.starts_with('{') {
            from_jwk(trimmed)?
        } else {
            (from_pem(trimmed)?, None)
        };
        let (alg, public_jwk) = public_of(&material)?;
        let kid = key_id.map(str::to_owned).or(jwk_kid);
        let mut key = SigningKey {
            alg,
            kid,
            material: Arc::new(material),
            public_jwk,
        };
        if let (Some(kid), Some(obj)) = (&key.kid, key.public_jwk.as_object_mut()) {
            obj.insert("kid".into(), Value::String(kid.clone()));
        }
        Ok(key)
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

    /// Signs `message`, returning the JWS signature bytes.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let rng = SystemRandom::new();
        let rsa = |pair: RsaKeyPair| {
            let mut sig = vec![0; pair.public().modulus_len()];
            pair.sign(&RSA_PKCS1_SHA256, &rng, message, &mut sig)
                .map_err(|_| KeyError::Signing)?;
            Ok(sig)
        };
        let ec = |pair: EcdsaKeyPair| {
            pair.sign(&rng, message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| KeyError::Signing)
        };
        match &*self.material {
            Material::RsaPkcs8(der) => {
                rsa(RsaKeyPair::from_pkcs8(der.expose_secret()).map_err(rejected)?)
            }
            Material::RsaPkcs1(der) => {
                rsa(RsaKeyPair::from_der(der.expose_secret()).map_err(rejected)?)
            }
            Material::RsaParts { n, e, private } => rsa(rsa_from_parts(n, e, private)?),
            Material::EcPkcs8(der) => ec(ec_pkcs8(der.expose_secret())?),
            Material::EcParts { d, point } => ec(ec_parts(d.expose_secret(), point)?),
        }
    }
}

pub(super) fn ec_pkcs8(der: &[u8]) -> Result<EcdsaKeyPair, KeyError> {
    EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der, &SystemRandom::new())
        .map_err(rejected)
}

fn ec_parts(d: &[u8], point: &[u8]) -> Result<EcdsaKeyPair, KeyError> {
    EcdsaKeyPair::from_private_key_and_public_key(
        &ECDSA_P256_SHA256_FIXED_SIGNING,
        d,
        point,
        &SystemRandom::new(),
    )
    .map_err(rejected)
}

fn rsa_from_parts(n: &[u8], e: &[u8], private: &[SecretSlice<u8>]) -> Result<RsaKeyPair, KeyError> {
    let [d, p, q, dp, dq, qi] = private else {
        return Err(invalid("an RSA JWK needs d, p, q, dp, dq and qi"));
    };
    RsaKeyPair::from_components(&KeyPairComponents {
        public_key: PublicKeyComponents { n, e },
        d: d.expose_secret(),
        p: p.expose_secret(),
        q: q.expose_secret(),
        dP: dp.expose_secret(),
        dQ: dq.expose_secret(),
        qInv: qi.expose_secret(),
    })
    .map_err(rejected)
}

/// Parses the key once (validating it) and derives its algorithm and public JWK.
fn public_of(material: &Material) -> Result<(Algorithm, Value), KeyError> {
    let rsa_jwk = |pair: &RsaKeyPair| {
        let c = PublicKeyComponents::<Vec<u8>>::from(pair.public());
        rsa_public_jwk(&c.n, &c.e)
    };
    let ec_jwk = |pair: &EcdsaKeyPair| ec_public_jwk(pair.public_key().as_ref());
    let jwk = match material {
        Material::RsaPkcs8(der) => {
            rsa_jwk(&RsaKeyPair::from_pkcs8(der.expose_secret()).map_err(rejected)?)
        }
        Material::RsaPkcs1(der) => {
            rsa_jwk(&RsaKeyPair::from_der(der.expose_secret()).map_err(rejected)?)
        }
        Material::RsaParts { n, e, private } => rsa_jwk(&rsa_from_parts(n, e, private)?),
        Material::EcPkcs8(der) => ec_jwk(&ec_pkcs8(der.expose_secret())?),
        Material::EcParts { d, point } => ec_jwk(&ec_parts(d.expose_secret(), point)?),
    };
    let alg = match material {
        Material::RsaPkcs8(_) | Material::RsaPkcs1(_) | Material::RsaParts { .. } => {
            Algorithm::Rs256
        }
        Material::EcPkcs8(_) | Material::EcParts { .. } => Algorithm::Es256,
    };
    let mut jwk = jwk;
    if let Some(obj) = jwk.as_object_mut() {
        obj.insert("alg".into(), Value::String(alg.as_str().into()));
        obj.insert("use".into(), Value::String("sig".into()));
    }
    Ok((alg, jwk))
}

/// The public JWK of an RSA key (big-endian `n`, `e`).
pub fn rsa_public_jwk(n: &[u8], e: &[u8]) -> Value {
    json!({ "kty": "RSA", "n": URL_SAFE_NO_PAD.encode(der::unsigned(n)), "e": URL_SAFE_NO_PAD.encode(der::unsigned(e)) })
}

/// The public JWK of a P-256 key given as an uncompressed point (`04 || x || y`).
pub fn ec_public_jwk(point: &[u8]) -> Value {
    let (x, y) = point
        .get(1..)
        .unwrap_or_default()
        .split_at(point.len().saturating_sub(1) / 2);
    json!({ "kty": "EC", "crv": "P-256", "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y) })
}
