//! Reading key files into [`Parsed`] keys with RustCrypto's format crates: PEM through
//! `pem-rfc7468`, PKCS#8 through `pkcs8`, PKCS#1 through `pkcs1`, SEC1 and P-256 through `sec1`
//! and `p256`; private JWKs through serde. Errors say what is wrong with the file and never
//! quote it. Buffers that hold private material are zeroized when dropped.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::{AssociatedOid, DecodePrivateKey, EncodePrivateKey};
use pkcs1::der::{Decode, Encode};
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};

use super::keys::{Algorithm, KeyError, Parsed, invalid};

const OTHER_CURVE: &str = "an EC key on a curve other than P-256; use ES256 (P-256)";

/// The first PEM block of `text`: its label and DER bytes (secret). Text before the block is
/// skipped, and so is anything after its END line; the base64 lines may be of any one width.
fn pem_block(text: &str) -> Result<(String, SecretSlice<u8>), KeyError> {
    let not_pem = || {
        invalid("not a PEM key (no -----BEGIN …----- line) and not a JWK (does not start with `{`)")
    };
    let block = &text[text.find("-----BEGIN ").ok_or_else(not_pem)?..];
    // The label is read from the BEGIN line alone and must look like one, so that an error
    // naming it can never quote the key's base64.
    let begin_line = block["-----BEGIN ".len()..].lines().next().unwrap_or("");
    let label = begin_line
        .trim_end()
        .strip_suffix("-----")
        .filter(|l| {
            l.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b' ')
        })
        .ok_or_else(|| {
            invalid("the PEM BEGIN line is malformed (it should read `-----BEGIN <LABEL>-----`)")
        })?
        .to_owned();
    let end = block
        .find("-----END ")
        .map(|at| at + block[at..].find('\n').unwrap_or(block.len() - at))
        .ok_or_else(|| invalid(format!("the PEM block `{label}` has no END line")))?;
    let block = &block[..end];
    if block.contains("Proc-Type: 4,ENCRYPTED") {
        return Err(encrypted());
    }
    let width = block.lines().nth(1).map_or(0, |l| l.trim_end().len());
    let bad = |e: pem_rfc7468::Error| match e {
        pem_rfc7468::Error::Base64(_) => {
            invalid(format!("the PEM block `{label}` is not valid base64"))
        }
        pem_rfc7468::Error::HeaderDisallowed => invalid(format!(
            "the PEM block `{label}` has headers, which revokd does not read"
        )),
        e => invalid(format!("the PEM block `{label}` is malformed ({e})")),
    };
    let mut decoder = pem_rfc7468::Decoder::new_wrapped(block.as_bytes(), width).map_err(bad)?;
    let mut der = Vec::new();
    let decoded = decoder.decode_to_end(&mut der).map(|_| ());
    let der = SecretSlice::from(der);
    decoded.map_err(bad)?;
    Ok((label, der))
}

fn encrypted() -> KeyError {
    invalid(
        "an encrypted key; revokd reads unencrypted keys only (protect the file instead, e.g. \
         with systemd LoadCredential=)",
    )
}

pub(super) fn from_pem(text: &str) -> Result<Parsed, KeyError> {
    let (label, der) = pem_block(text)?;
    let der = der.expose_secret();
    match label.as_str() {
        "PRIVATE KEY" => pkcs8_key(der),
        "RSA PRIVATE KEY" => rsa_pkcs1(der),
        "EC PRIVATE KEY" => ec_sec1(der),
        "ENCRYPTED PRIVATE KEY" => Err(encrypted()),
        "PUBLIC KEY" | "RSA PUBLIC KEY" => Err(invalid(
            "a public key; revokd needs the service app's private key",
        )),
        other => Err(invalid(format!(
            "a PEM `{other}` block; expected PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY"
        ))),
    }
}

/// PKCS#8 `PrivateKeyInfo`: an RSA key (PKCS#1 inside) or an EC P-256 key.
fn pkcs8_key(der: &[u8]) -> Result<Parsed, KeyError> {
    let neither = || {
        invalid(
            "a PKCS#8 key that is neither RSA (2048–8192 bits) nor EC P-256; Okta service apps \
             need RS256 or ES256 keys",
        )
    };
    let info = pkcs8::PrivateKeyInfo::from_der(der).map_err(|_| neither())?;
    if info.algorithm.oid == pkcs1::ALGORITHM_OID {
        return rsa_pkcs1(info.private_key);
    }
    if info.algorithm.oid != p256::elliptic_curve::ALGORITHM_OID {
        return Err(neither());
    }
    if info.algorithm.parameters_oid().ok() != Some(p256::NistP256::OID) {
        return Err(invalid(OTHER_CURVE));
    }
    p256::SecretKey::from_pkcs8_der(der)
        .map_err(|_| invalid("a PKCS#8 EC key that is not a valid P-256 private key"))
        .and_then(|k| ec_key(&k))
}

/// PKCS#1 `RSAPrivateKey`, kept as it is: the form *ring* signs with.
fn rsa_pkcs1(der: &[u8]) -> Result<Parsed, KeyError> {
    let key = pkcs1::RsaPrivateKey::from_der(der)
        .map_err(|_| invalid("an RSA key that is not a valid PKCS#1 RSAPrivateKey"))?;
    Ok(rsa_key(&key, der.to_vec()))
}

fn rsa_key(key: &pkcs1::RsaPrivateKey<'_>, der: Vec<u8>) -> Parsed {
    Parsed {
        alg: Algorithm::Rs256,
        der: SecretSlice::from(der),
        public: json!({
            "kty": "RSA",
            "n": URL_SAFE_NO_PAD.encode(key.modulus.as_bytes()),
            "e": URL_SAFE_NO_PAD.encode(key.public_exponent.as_bytes()),
        }),
    }
}

/// SEC1 `ECPrivateKey` (with or without its public key) on P-256.
fn ec_sec1(der: &[u8]) -> Result<Parsed, KeyError> {
    let bad = || invalid("an EC PRIVATE KEY that is not a P-256 SEC1 key");
    let key = sec1::EcPrivateKey::from_der(der).map_err(|_| bad())?;
    let curve = key.parameters.and_then(|p| p.named_curve());
    if curve.is_some_and(|c| c != p256::NistP256::OID) {
        return Err(invalid(OTHER_CURVE));
    }
    p256::SecretKey::try_from(key)
        .map_err(|_| bad())
        .and_then(|k| ec_key(&k))
}

/// A P-256 key as PKCS#8 (with its public key, as *ring* wants it) and its public JWK.
pub(super) fn ec_key(key: &p256::SecretKey) -> Result<Parsed, KeyError> {
    let der = key
        .to_pkcs8_der()
        .map_err(|_| invalid("an EC key that cannot be re-encoded as PKCS#8"))?;
    let point = key.public_key().to_encoded_point(false);
    let coordinate =
        |c: Option<&p256::FieldBytes>| URL_SAFE_NO_PAD.encode(c.map_or(&[][..], |c| c));
    Ok(Parsed {
        alg: Algorithm::Es256,
        der: SecretSlice::from(der.as_bytes().to_vec()),
        public: json!({
            "kty": "EC",
            "crv": "P-256",
            "x": coordinate(point.x()),
            "y": coordinate(point.y()),
        }),
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

fn public(name: &str, v: Option<&String>) -> Result<Vec<u8>, KeyError> {
    let v = v.ok_or_else(|| invalid(format!("the JWK has no `{name}`")))?;
    URL_SAFE_NO_PAD
        .decode(v.trim_end_matches('='))
        .map_err(|_| invalid(format!("the JWK's `{name}` is not base64url")))
}

fn private(name: &str, v: Option<&SecretString>) -> Result<SecretSlice<u8>, KeyError> {
    let v = v.ok_or_else(|| {
        invalid(format!(
            "the JWK has no `{name}`: it is a public key, or incomplete; revokd needs the private JWK"
        ))
    })?;
    URL_SAFE_NO_PAD
        .decode(v.expose_secret().trim_end_matches('='))
        .map(SecretSlice::from)
        .map_err(|_| invalid(format!("the JWK's `{name}` is not base64url")))
}

pub(super) fn from_jwk(text: &str) -> Result<(Parsed, Option<String>), KeyError> {
    // serde_json's messages can quote values; report only where parsing failed.
    let jwk: Jwk = serde_json::from_str(text).map_err(|e| {
        invalid(format!(
            "not a JWK: invalid JSON or missing `kty` (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    let parsed = match jwk.kty.as_str() {
        "RSA" => rsa_jwk(&jwk)?,
        "EC" if jwk.crv.as_deref() == Some("P-256") => ec_jwk(&jwk)?,
        "EC" => return Err(invalid(OTHER_CURVE)),
        other => {
            return Err(invalid(format!(
                "a JWK of kty `{other}`; expected RSA or EC"
            )));
        }
    };
    Ok((parsed, jwk.kid))
}

fn uint<'a>(name: &str, bytes: &'a [u8]) -> Result<pkcs1::UintRef<'a>, KeyError> {
    pkcs1::UintRef::new(bytes).map_err(|_| invalid(format!("the JWK's `{name}` is not a number")))
}

/// An RSA JWK re-encoded as the PKCS#1 `RSAPrivateKey` it describes.
fn rsa_jwk(jwk: &Jwk) -> Result<Parsed, KeyError> {
    let (n, e) = (public("n", jwk.n.as_ref())?, public("e", jwk.e.as_ref())?);
    let [d, p, q, dp, dq, qi] = [
        ("d", &jwk.d),
        ("p", &jwk.p),
        ("q", &jwk.q),
        ("dp", &jwk.dp),
        ("dq", &jwk.dq),
        ("qi", &jwk.qi),
    ]
    .map(|(name, v)| private(name, v.as_ref()));
    let (d, p, q, dp, dq, qi) = (d?, p?, q?, dp?, dq?, qi?);
    let key = pkcs1::RsaPrivateKey {
        modulus: uint("n", &n)?,
        public_exponent: uint("e", &e)?,
        private_exponent: uint("d", d.expose_secret())?,
        prime1: uint("p", p.expose_secret())?,
        prime2: uint("q", q.expose_secret())?,
        exponent1: uint("dp", dp.expose_secret())?,
        exponent2: uint("dq", dq.expose_secret())?,
        coefficient: uint("qi", qi.expose_secret())?,
        other_prime_infos: None,
    };
    let der = key
        .to_der()
        .map_err(|_| invalid("an RSA JWK that cannot be encoded as PKCS#1"))?;
    Ok(rsa_key(&key, der))
}

/// An EC P-256 JWK: `d` makes the key; `x` and `y` must be its public point.
fn ec_jwk(jwk: &Jwk) -> Result<Parsed, KeyError> {
    let (x, y) = (public("x", jwk.x.as_ref())?, public("y", jwk.y.as_ref())?);
    let d = private("d", jwk.d.as_ref())?;
    let key = p256::SecretKey::from_slice(d.expose_secret())
        .map_err(|_| invalid("the JWK's `d` is not a P-256 private key"))?;
    let parsed = ec_key(&key)?;
    let ours = |name: &str| {
        parsed
            .public
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    if ours("x") != Some(URL_SAFE_NO_PAD.encode(x)) || ours("y") != Some(URL_SAFE_NO_PAD.encode(y))
    {
        return Err(invalid(
            "the JWK's `x` and `y` are not the public key of its `d`",
        ));
    }
    Ok(parsed)
}
