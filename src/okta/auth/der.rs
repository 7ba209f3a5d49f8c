//! Just enough DER to find the fields revokd needs in key files: the private scalar and public
//! point of a SEC1 `ECPrivateKey`, and the key inside a `SubjectPublicKeyInfo` (which the
//! simulated org reads). Definite lengths only; anything else is refused. No allocation, no
//! crypto, no secrets kept.

/// DER tags used here.
pub(crate) const SEQUENCE: u8 = 0x30;
pub(crate) const INTEGER: u8 = 0x02;
pub(crate) const BIT_STRING: u8 = 0x03;
pub(crate) const OCTET_STRING: u8 = 0x04;
pub(crate) const OID: u8 = 0x06;

/// One tag-length-value: the tag, the contents, and what follows it.
pub(crate) fn read(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// The contents of a value that must carry `tag`, and what follows it.
pub(crate) fn expect(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (t, contents, rest) = read(input)?;
    (t == tag).then_some((contents, rest))
}

/// The bytes of a BIT STRING with no unused bits.
pub(crate) fn bits(contents: &[u8]) -> Option<&[u8]> {
    match contents.split_first() {
        Some((0, bytes)) => Some(bytes),
        _ => None,
    }
}

/// `id-ecPublicKey` (1.2.840.10045.2.1).
pub(crate) const OID_EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
/// `prime256v1` / P-256 (1.2.840.10045.3.1.7).
pub(crate) const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// `rsaEncryption` (1.2.840.113549.1.1.1).
pub(crate) const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];

/// A public key found in a `SubjectPublicKeyInfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SpkiKey {
    /// RSA modulus and exponent, big-endian without leading zeros.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// An uncompressed P-256 point (`04 || x || y`).
    P256(Vec<u8>),
}

/// Reads a DER `SubjectPublicKeyInfo` (the body of a `PUBLIC KEY` PEM).
pub(crate) fn spki(der: &[u8]) -> Option<SpkiKey> {
    let (info, _) = expect(der, SEQUENCE)?;
    let (alg, rest) = expect(info, SEQUENCE)?;
    let (key, _) = expect(rest, BIT_STRING)?;
    let key = bits(key)?;
    let (oid, params) = expect(alg, OID)?;
    if oid == OID_RSA {
        return rsa_public(key);
    }
    let (curve, _) = expect(params, OID)?;
    (oid == OID_EC_PUBLIC_KEY && curve == OID_P256 && key.len() == 65 && key[0] == 4)
        .then(|| SpkiKey::P256(key.to_vec()))
}

/// Reads a DER PKCS#1 `RSAPublicKey` (`SEQUENCE { n INTEGER, e INTEGER }`).
pub(crate) fn rsa_public(der: &[u8]) -> Option<SpkiKey> {
    let (seq, _) = expect(der, SEQUENCE)?;
    let (n, rest) = expect(seq, INTEGER)?;
    let (e, _) = expect(rest, INTEGER)?;
    Some(SpkiKey::Rsa {
        n: unsigned(n).to_vec(),
        e: unsigned(e).to_vec(),
    })
}

/// An INTEGER's contents without the sign-padding zeros.
pub(crate) fn unsigned(int: &[u8]) -> &[u8] {
    let zeros = int.iter().take_while(|&&b| b == 0).count();
    &int[zeros.min(int.len().saturating_sub(1))..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_form_lengths_are_read_and_truncated_input_is_refused() {
        let mut v = vec![OCTET_STRING, 0x81, 0x80];
        v.extend(std::iter::repeat_n(7u8, 0x80));
        let (tag, contents, rest) = read(&v).unwrap();
        assert_eq!((tag, contents.len(), rest.len()), (OCTET_STRING, 0x80, 0));
        assert!(read(&v[..50]).is_none());
        assert!(read(&[SEQUENCE]).is_none());
    }

    #[test]
    fn unsigned_strips_sign_padding_but_keeps_a_lone_zero() {
        assert_eq!(unsigned(&[0, 0x80, 1]), &[0x80, 1]);
        assert_eq!(unsigned(&[0]), &[0]);
    }
}
