//! Reading key files into `Material`: the PEM forms (PKCS#8, PKCS#1, SEC1) and private
//! JWKs. Errors say what is wrong with the file and never quote it.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::signature::RsaKeyPair;
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use serde::Deserialize;

use super::der;
use super::keys::{KeyError, Material, ec_pkcs8, invalid};

/// Decodes the first PEM block of `text` into its label and DER bytes (secret).
fn pem_block(text: &str) -> Result<(String, SecretSlice<u8>), KeyError> {
    let not_pem = || {
        invalid("not a PEM key (no -----BEGIN …----- line) and not a JWK (does not start with `{`)")
    };
    let begin = text.find("-----BEGIN ").ok_or_else(not_pem)?;
    let after = &text[begin + "-----BEGIN ".len()..];
    let label_end = after.find("-----").ok_or_else(not_pem)?;
    let label = after[..label_end].to_owned();
    let body = &after[label_end + 5..];
    let end = body
        .find("-----END ")
        .ok_or_else(|| invalid(format!("the PEM block `{label}` has no END line")))?;
    let b64: String = body[..end].chars().filter(|c| !c.is_whitespace()).collect();
    let b64 = SecretString::from(b64);
    let der = STANDARD
        .decode(b64.expose_secret())
        .map_err(|_| invalid(format!("the PEM block `{label}` is not valid base64")))?;
    Ok((label, SecretSlice::from(der)))
}

pub(super) fn from_pem(text: &str) -> Result<Material, KeyError> {
    let (label, der) = pem_block(text)?;
    match label.as_str() {
        "PRIVATE KEY" => {
            let bytes = der.expose_secret();
            if RsaKeyPair::from_pkcs8(bytes).is_ok() {
                Ok(Material::RsaPkcs8(der))
            } else if ec_pkcs8(bytes).is_ok() {
                Ok(Material::EcPkcs8(der))
            } else {
                Err(invalid(
                    "a PKCS#8 key that is neither RSA (2048–8192 bits) nor EC P-256; Okta service \
                     apps need RS256 or ES256 keys",
                ))
            }
        }
        "RSA PRIVATE KEY" => Ok(Material::RsaPkcs1(der)),
        "EC PRIVATE KEY" => sec1(der.expose_secret()),
        "ENCRYPTED PRIVATE KEY" => Err(invalid(
            "an encrypted key; revokd reads unencrypted keys only (protect the file instead, e.g. \
             with systemd LoadCredential=)",
        )),
        "PUBLIC KEY" | "RSA PUBLIC KEY" => Err(invalid(
            "a public key; revokd needs the service app's private key",
        )),
        other => Err(invalid(format!(
            "a PEM `{other}` block; expected PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY"
        ))),
    }
}

/// SEC1 `ECPrivateKey`: version 1, the scalar, optional curve `[0]`, public key `[1]`.
fn sec1(der_bytes: &[u8]) -> Result<Material, KeyError> {
    let bad = || invalid("an EC PRIVATE KEY that is not a P-256 SEC1 key with its public key");
    let (seq, _) = der::expect(der_bytes, der::SEQUENCE).ok_or_else(bad)?;
    let (_version, rest) = der::expect(seq, der::INTEGER).ok_or_else(bad)?;
    let (d, mut rest) = der::expect(rest, der::OCTET_STRING).ok_or_else(bad)?;
    let mut point = None;
    while let Some((tag, contents, next)) = der::read(rest) {
        match tag {
            0xa0 => {
                let (curve, _) = der::expect(contents, der::OID).ok_or_else(bad)?;
                if curve != der::OID_P256 {
                    return Err(invalid(
                        "an EC key on a curve other than P-256; use ES256 (P-256)",
                    ));
                }
            }
            0xa1 => {
                let (bits, _) = der::expect(contents, der::BIT_STRING).ok_or_else(bad)?;
                point = der::bits(bits).map(<[u8]>::to_vec);
            }
            _ => {}
        }
        rest = next;
    }
    let point = point.ok_or_else(bad)?;
    if d.len() > 32 {
        return Err(bad());
    }
    let mut scalar = vec![0u8; 32 - d.len()];
    scalar.extend_from_slice(d);
    Ok(Material::EcParts {
        d: SecretSlice::from(scalar),
        point,
    })
}

/// The JWK fields revokd reads; private ones are decoded straight into secrets.
#[derive(Deserialize)]
struct Jwk {
    kty: String,
    kid: Option<String>,
    crv: Option<String>,
    n: Option<String>,
    e: Option<String>,
    x: Option<String>,
    y: Option<String>,
    d: Option<SecretString>,
    p: Option<SecretString>,
    q: Option<SecretString>,
    dp: Option<SecretString>,
    dq: Option<SecretString>,
    qi: Option<SecretString>,
}

pub(super) fn from_jwk(text: &str) -> Result<(Material, Option<String>), KeyError> {
    // serde_json's messages can quote values; report only where parsing failed.
    let jwk: Jwk = serde_json::from_str(text).map_err(|e| {
        invalid(format!(
            "not a JWK: invalid JSON or missing `kty` (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    let public = |name: &str, v: &Option<String>| {
        let v = v
            .as_deref()
            .ok_or_else(|| invalid(format!("the JWK has no `{name}`")))?;
        URL_SAFE_NO_PAD
            .decode(v.trim_end_matches('='))
            .map_err(|_| invalid(format!("the JWK's `{name}` is not base64url")))
    };
    let private = |name: &str, v: &Option<SecretString>| {
        let v = v.as_ref().ok_or_else(|| {
            invalid(format!("the JWK has no `{name}`: it is a public key, or incomplete; revokd needs the private JWK"))
        })?;
        URL_SAFE_NO_PAD
            .decode(v.expose_secret().trim_end_matches('='))
            .map(SecretSlice::from)
            .map_err(|_| invalid(format!("the JWK's `{name}` is not base64url")))
    };
    let material = match jwk.kty.as_str() {
        "RSA" => Material::RsaParts {
            n: public("n", &jwk.n)?,
            e: public("e", &jwk.e)?,
            private: vec![
                private("d", &jwk.d)?,
                private("p", &jwk.p)?,
                private("q", &jwk.q)?,
                private("dp", &jwk.dp)?,
                private("dq", &jwk.dq)?,
                private("qi", &jwk.qi)?,
            ],
        },
        "EC" if jwk.crv.as_deref() == Some("P-256") => {
            let (x, y) = (public("x", &jwk.x)?, public("y", &jwk.y)?);
            let mut point = vec![4u8];
            point.extend(x);
            point.extend(y);
            Material::EcParts {
                d: private("d", &jwk.d)?,
                point,
            }
        }
        "EC" => {
            return Err(invalid(
                "an EC JWK on a curve other than P-256; use ES256 (P-256)",
            ));
        }
        other => {
            return Err(invalid(format!(
                "a JWK of kty `{other}`; expected RSA or EC"
            )));
        }
    };
    Ok((material, jwk.kid))
}
