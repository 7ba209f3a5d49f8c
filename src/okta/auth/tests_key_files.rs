//! Key files as tools write them (text around the PEM block, other line widths, CRLF, SEC1
//! without its public key) load as the same key; keys revokd cannot sign with are refused with
//! a message that says why and never quotes the file.

use secrecy::SecretString;
use serde_json::Value;

use super::keys::{KeyError, SigningKey};
use super::tests::{fixture, key};

fn load(text: &str) -> Result<SigningKey, KeyError> {
    SigningKey::from_text(&SecretString::from(text.to_owned()), None)
}

/// `pem` with its base64 body wrapped at `width` columns.
fn rewrap(pem: &str, width: usize) -> String {
    let lines: Vec<&str> = pem.lines().collect();
    let body: String = lines[1..lines.len() - 1].concat();
    let wrapped: Vec<String> = body
        .as_bytes()
        .chunks(width)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    format!(
        "{}\n{}\n{}\n",
        lines[0],
        wrapped.join("\n"),
        lines[lines.len() - 1]
    )
}

#[test]
fn pem_keys_load_with_text_around_them_other_line_widths_and_crlf() {
    for name in ["test-only-rsa.pkcs8.pem", "test-only-ec.sec1.pem"] {
        let reference = key(name, None);
        let pem = fixture(name);
        let bundled = format!(
            "Bag Attributes\n    localKeyID: 01 02\n{pem}-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
        );
        for text in [bundled, rewrap(&pem, 76), pem.replace('\n', "\r\n")] {
            let loaded = load(&text).unwrap_or_else(|e| panic!("{name} loads: {e}"));
            assert_eq!(loaded.public_jwk(), reference.public_jwk(), "{name}");
        }
    }
    assert_eq!(
        key("test-only-ec.sec1-no-public.pem", None).public_jwk(),
        key("test-only-ec.pkcs8.pem", None).public_jwk(),
        "the public key of a SEC1 key without one is derived"
    );
}

#[test]
fn keys_revokd_cannot_sign_with_are_refused_saying_why() {
    let pkcs1 = fixture("test-only-rsa.pkcs1.pem");
    let legacy_encrypted = pkcs1.replacen(
        "-----\n",
        "-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,0123456789ABCDEF0123456789ABCDEF\n\n",
        1,
    );
    let mut swapped: Value = serde_json::from_str(&fixture("test-only-ec.jwk.json")).expect("json");
    let x = swapped["x"].clone();
    swapped["x"] = swapped["y"].clone();
    swapped["y"] = x;
    let unended = pkcs1.replace("-----END RSA PRIVATE KEY-----", "");
    for (text, expect) in [
        (fixture("test-only-rsa-1024.pkcs8.pem"), "rejected"),
        (fixture("test-only-ec-p384.pkcs8.pem"), "other than P-256"),
        (legacy_encrypted, "an encrypted key"),
        (swapped.to_string(), "not the public key of its `d`"),
        (
            pkcs1.replace("RSA PRIVATE KEY", "CERTIFICATE"),
            "a PEM `CERTIFICATE` block",
        ),
        (unended, "has no END line"),
        (
            pkcs1.replacen("PRIVATE KEY-----", "PRIVATE KEY", 1),
            "BEGIN line is malformed",
        ),
    ] {
        let msg = load(&text).expect_err("refused").to_string();
        assert!(msg.contains(expect), "{expect}: {msg}");
        for line in text.lines().filter(|l| l.len() > 20) {
            assert!(
                !msg.contains(line.trim()),
                "the error quotes the key: {msg}"
            );
        }
    }
}
