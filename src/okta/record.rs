//! Okta's record of a token as revokd keeps it: the JSON object exactly as Okta sent it, field
//! by field and in Okta's order, minus `_links` (derivable from the ids) and with each
//! `_embedded.scopes[]` item replaced by its scope id. The items themselves (also without
//! `_links`) go to the store's scope catalog, keyed by issuer and scope id, so a token's
//! snapshot plus the catalog still show exactly what Okta said. Splitting also notes what the
//! object says of the token's values ([`Said`]). Pure text work: no IO.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::said::Said;

/// One `_embedded.scopes[]` item as Okta sent it, without its `_links`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeRecord {
    /// The scope's `id` (`scp…`).
    pub id: String,
    /// The item's JSON, `_links` left out.
    pub json: String,
}

/// A token's record split for storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// The token's JSON without `_links`; `_embedded.scopes` holds scope ids.
    pub json: String,
    /// The scope items the ids refer to, in Okta's order.
    pub scopes: Vec<ScopeRecord>,
}

/// A JSON object's key, borrowed from the input unless it had escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

/// A JSON object's members in their order, values left as raw text.
struct Members<'a>(Vec<(Key<'a>, &'a RawValue)>);

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members<'de>, A::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(12));
                while let Some(entry) = map.next_entry::<Key<'de>, &'de RawValue>()? {
                    members.push(entry);
                }
                Ok(Members(members))
            }
        }
        d.deserialize_map(V)
    }
}

fn members(json: &str) -> Option<Members<'_>> {
    serde_json::from_str(json).ok()
}

/// Writes `"key":value` members as one JSON object.
fn object<'a>(out: &mut String, members: impl Iterator<Item = (&'a str, &'a str)>) {
    out.push('{');
    for (i, (key, value)) in members.enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_key(out, key);
        out.push(':');
        out.push_str(value);
    }
    out.push('}');
}

fn push_key(out: &mut String, key: &str) {
    if key.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push('"');
        out.push_str(key);
        out.push('"');
    } else {
        // Serializing a string cannot fail.
        out.push_str(&serde_json::to_string(key).unwrap_or_default());
    }
}

/// A scope item's `id` (a string) and its text without its `_links` member, from one parse.
fn scope_item(json: &str) -> Option<ScopeRecord> {
    let m = members(json)?;
    let mut id = None;
    let mut out = String::with_capacity(json.len());
    object(
        &mut out,
        m.0.iter()
            .inspect(|(k, v)| {
                if k.0 == "id" {
                    id = serde_json::from_str::<String>(v.get()).ok();
                }
            })
            .filter(|(k, _)| k.0 != "_links")
            .map(|(k, v)| (k.0.as_ref(), v.get())),
    );
    Some(ScopeRecord { id: id?, json: out })
}

/// `_embedded` with its scope items replaced by their ids; `None` when an item has no string
/// `id` (the member is then kept whole).
fn embedded(json: &str, scopes: &mut Vec<ScopeRecord>) -> Option<String> {
    let m = members(json)?;
    let mut parts: Vec<(&str, Cow<'_, str>)> = Vec::with_capacity(m.0.len());
    for (k, v) in &m.0 {
        if k.0 != "scopes" {
            parts.push((k.0.as_ref(), Cow::Borrowed(v.get())));
            continue;
        }
        let items: Vec<&RawValue> = serde_json::from_str(v.get()).ok()?;
        let first = scopes.len();
        for item in items {
            scopes.push(scope_item(item.get())?);
        }
        let ids: Vec<&str> = scopes[first..].iter().map(|s| s.id.as_str()).collect();
        parts.push((k.0.as_ref(), Cow::Owned(serde_json::to_string(&ids).ok()?)));
    }
    let mut out = String::with_capacity(json.len());
    object(&mut out, parts.iter().map(|(k, v)| (*k, v.as_ref())));
    Some(out)
}

/// Splits one token object (already known to be valid JSON) for storage. A value that is not
/// an object is kept as it is.
pub fn split(json: &str) -> TokenRecord {
    split_said(json).0
}

/// [`split`], with the object's [`Said`] members. No `Said` when `json` is not an object,
/// when one of those members is written twice or under a key with escapes (which of them a
/// reader takes is then not one answer), or when the record nests deeper than
/// [`Said::MAX_DEPTH`].
pub fn split_said(json: &str) -> (TokenRecord, Option<Said<'_>>) {
    let Some(m) = members(json) else {
        let record = TokenRecord {
            json: json.to_owned(),
            scopes: Vec::new(),
        };
        return (record, None);
    };
    let mut said = Some(Said::default());
    let mut scopes = Vec::new();
    let mut kept: Vec<(&str, Cow<'_, str>)> = Vec::with_capacity(m.0.len());
    for (k, v) in &m.0 {
        let escaped = matches!(k.0, Cow::Owned(_));
        said = said.and_then(|s| s.with(&k.0, escaped, v.get()));
        match k.0.as_ref() {
            "_links" => {}
            "_embedded" => {
                let mut found = Vec::new();
                match embedded(v.get(), &mut found) {
                    Some(text) => {
                        scopes.extend(found);
                        kept.push((k.0.as_ref(), Cow::Owned(text)));
                    }
                    None => kept.push((k.0.as_ref(), Cow::Borrowed(v.get()))),
                }
            }
            key => kept.push((key, Cow::Borrowed(v.get()))),
        }
    }
    let mut out = String::with_capacity(json.len() / 2);
    object(&mut out, kept.iter().map(|(k, v)| (*k, v.as_ref())));
    let said = said.filter(|_| Said::nests_within(&out));
    (TokenRecord { json: out, scopes }, said)
}

/// A stable 64-bit fingerprint (FNV-1a) of a record and its scope items: equal records have
/// equal fingerprints in every build, so the store can tell an unchanged token without
/// reading its last snapshot.
pub fn fingerprint(json: &str, scopes: &[ScopeRecord]) -> i64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0100_0000_01b3;
    let mut h = OFFSET;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(PRIME);
        }
    };
    eat(json.as_bytes());
    for s in scopes {
        // A separator no JSON text contains keeps ["a"]["b"] apart from ["ab"].
        eat(&[0xff]);
        eat(s.json.as_bytes());
    }
    i64::from_le_bytes(h.to_le_bytes())
}

/// A stable 128-bit hash (XXH3) of a token's item exactly as Okta sent it: equal items hash
/// equal in every build, so the store can tell an unchanged item without splitting it, and at
/// 128 bits a changed item taken for unchanged is not a practical concern. Not cryptographic:
/// Okta, not an adversary, writes the items, and it only has to tell a token's next listing
/// from its last.
pub fn item_hash(bytes: &[u8]) -> [u8; 16] {
    xxhash_rust::xxh3::xxh3_128(bytes).to_le_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = r#"{"id":"oar1","status":"ACTIVE","issuer":"https://o/oauth2/aus1","scopes":["openid","offline_access"],"_embedded":{"scopes":[{"id":"scp1","name":"openid","_links":{"scope":{"href":"x"}}},{"id":"scp2","name":"offline_access"}]},"_links":{"self":{"href":"https://o/t"}},"new\"Field":1}"#;

    #[test]
    fn links_are_dropped_and_embedded_scopes_become_ids_in_okta_order() {
        let r = split(TOKEN);
        assert_eq!(
            r.json,
            r#"{"id":"oar1","status":"ACTIVE","issuer":"https://o/oauth2/aus1","scopes":["openid","offline_access"],"_embedded":{"scopes":["scp1","scp2"]},"new\"Field":1}"#
        );
        assert_eq!(
            r.scopes,
            vec![
                ScopeRecord {
                    id: "scp1".into(),
                    json: r#"{"id":"scp1","name":"openid"}"#.into()
                },
                ScopeRecord {
                    id: "scp2".into(),
                    json: r#"{"id":"scp2","name":"offline_access"}"#.into()
                },
            ]
        );
    }

    #[test]
    fn a_scope_item_without_an_id_keeps_embedded_whole() {
        let r = split(r#"{"id":"oar1","_embedded":{"scopes":[{"name":"openid"}]},"_links":{}}"#);
        assert_eq!(
            r.json,
            r#"{"id":"oar1","_embedded":{"scopes":[{"name":"openid"}]}}"#
        );
        assert!(r.scopes.is_empty());
    }

    #[test]
    fn fingerprints_change_with_the_record_or_a_scope_item() {
        let a = split(TOKEN);
        let same = fingerprint(&a.json, &a.scopes);
        assert_eq!(same, fingerprint(&split(TOKEN).json, &split(TOKEN).scopes));
        let mut b = a.clone();
        b.scopes[1].json = r#"{"id":"scp2","name":"offline"}"#.into();
        assert_ne!(same, fingerprint(&b.json, &b.scopes));
        assert_ne!(
            same,
            fingerprint(&a.json.replace("ACTIVE", "REVOKED"), &a.scopes)
        );
        // Pinned: the stored fingerprints must not change between builds.
        assert_eq!(fingerprint("{}", &[]), 645_223_143_103_797_797);
    }

    #[test]
    fn item_hashes_tell_any_byte_apart_and_are_pinned() {
        let base = TOKEN.as_bytes();
        let h = item_hash(base);
        assert_eq!(h, item_hash(TOKEN.to_owned().as_bytes()));
        for i in 0..base.len() {
            let mut other = base.to_vec();
            other[i] ^= 1;
            assert_ne!(h, item_hash(&other), "byte {i}");
        }
        assert_ne!(h, item_hash(&base[..base.len() - 1]));
        assert_ne!(item_hash(b""), item_hash(b"\0"));
        // Pinned, as the reference XXH3-128 gives it (little-endian): the stored hashes must not
        // change between builds.
        assert_eq!(
            u128::from_le_bytes(item_hash(b"{}")),
            0xdc70_48f8_f874_7f56_1349_cde1_2770_5c16
        );
    }
}
