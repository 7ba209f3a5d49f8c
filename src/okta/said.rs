//! What a token object as Okta sent it says of the values a store keeps beside its record
//! (issuer, status, scopes, created, last update, expiry), as the raw text of those members,
//! and when that text reads the same for every JSON reader: SQLite's JSON functions included,
//! so a store can tell a value from the text alone rather than ask SQLite (never for a record
//! nested deeper than [`Said::MAX_DEPTH`], checked on the split record). Pure text work.

/// The members of a token object that a store may keep beside its record, each as its raw JSON
/// text in the object as sent; `None` where the object has no such member. Made by
/// [`super::record::split_said`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Said<'a> {
    /// `issuer`.
    pub issuer: Option<&'a str>,
    /// `status`.
    pub status: Option<&'a str>,
    /// `scopes`.
    pub scopes: Option<&'a str>,
    /// `created`.
    pub created: Option<&'a str>,
    /// `lastUpdated`.
    pub last_updated: Option<&'a str>,
    /// `expiresAt`.
    pub expires_at: Option<&'a str>,
}

impl<'a> Said<'a> {
    /// The deepest nesting of a record whose members are told from their text: far past
    /// Okta's records (three levels split, six as sent) and well inside SQLite's JSON limit
    /// (1,000 levels, past which it reads no member at all).
    pub const MAX_DEPTH: usize = 100;

    /// Whether a member's raw text reads as `value` for any JSON reader: an absent member or
    /// `null` as no value, a string without escapes as its text. Any other text (an escaped
    /// string, a number, an object) is not claimed either way, so `false`.
    pub fn reads_as(raw: Option<&str>, value: Option<&str>) -> bool {
        match (raw, value) {
            (None | Some("null"), None) => true,
            (Some(raw), Some(value)) => {
                raw.len() == value.len() + 2
                    && raw.starts_with('"')
                    && raw.ends_with('"')
                    && !raw.contains('\\')
                    && &raw[1..raw.len() - 1] == value
            }
            _ => false,
        }
    }

    /// Whether `raw` is an array of strings without escapes, written with no space: text any
    /// JSON reader renders back as itself.
    pub fn plain_strings(raw: &str) -> bool {
        let Some(inner) = raw.strip_prefix('[').and_then(|r| r.strip_suffix(']')) else {
            return false;
        };
        inner.is_empty()
            || !inner.contains('\\')
                && inner.split(',').all(|item| {
                    item.len() >= 2
                        && item.starts_with('"')
                        && item.ends_with('"')
                        && !item[1..item.len() - 1].contains('"')
                })
    }

    /// Whether the JSON text `json` nests arrays and objects at most [`Self::MAX_DEPTH`] deep.
    pub(super) fn nests_within(json: &str) -> bool {
        let (mut depth, mut in_string, mut escaped) = (0_usize, false, false);
        for b in json.bytes() {
            if in_string {
                match b {
                    _ if escaped => escaped = false,
                    b'\\' => escaped = true,
                    b'"' => in_string = false,
                    _ => {}
                }
                continue;
            }
            match b {
                b'"' => in_string = true,
                b'[' | b'{' => {
                    depth += 1;
                    if depth > Self::MAX_DEPTH {
                        return false;
                    }
                }
                b']' | b'}' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        true
    }

    /// `self` with the member `key` (read, its escapes undone) noted; `None` when that member
    /// is already noted or its key was `escaped`.
    pub(super) fn with(mut self, key: &str, escaped: bool, raw: &'a str) -> Option<Self> {
        let slot = match key {
            "issuer" => &mut self.issuer,
            "status" => &mut self.status,
            "scopes" => &mut self.scopes,
            "created" => &mut self.created,
            "lastUpdated" => &mut self.last_updated,
            "expiresAt" => &mut self.expires_at,
            _ => return Some(self),
        };
        if slot.is_some() || escaped {
            return None;
        }
        *slot = Some(raw);
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::Said;
    use crate::okta::record::split_said;

    #[test]
    fn only_text_every_reader_reads_alike_is_claimed() {
        assert!(Said::reads_as(Some(r#""ACTIVE""#), Some("ACTIVE")));
        assert!(Said::reads_as(None, None) && Said::reads_as(Some("null"), None));
        for (raw, value) in [
            (Some(r#""\u0041CTIVE""#), Some("ACTIVE")),
            (Some("5"), Some("5")),
            (Some(r#""ACTIVE""#), None),
            (None, Some("ACTIVE")),
        ] {
            assert!(!Said::reads_as(raw, value), "{raw:?}");
        }
        assert!(Said::plain_strings("[]") && Said::plain_strings(r#"["a","b c"]"#));
        for raw in [
            r#"[ "a"]"#,
            r#"["a","b\"c"]"#,
            r#"["a,b"]"#,
            "[1]",
            r#""a""#,
        ] {
            assert!(!Said::plain_strings(raw), "{raw}");
        }
    }

    #[test]
    fn an_object_read_more_than_one_way_says_nothing() {
        for json in [
            r#"{"status":"A","st\u0061tus":"B"}"#,
            r#"{"status":"A","status":"B"}"#,
            "[1]",
        ] {
            assert_eq!(split_said(json).1, None, "{json}");
        }
        // Strings at the deepest level: brackets in them are not nesting, and an escaped quote
        // or backslash does not end them.
        let nested = |depth: usize| {
            let open = "[".repeat(depth - 1);
            let close = "]".repeat(depth - 1);
            format!(r#"{{"status":"A","x":{open}["\\","[{{","\"[{{"]{close}}}"#)
        };
        // The object is a level of its own.
        assert!(split_said(&nested(Said::MAX_DEPTH - 1)).1.is_some());
        assert_eq!(split_said(&nested(Said::MAX_DEPTH)).1, None);
    }
}
