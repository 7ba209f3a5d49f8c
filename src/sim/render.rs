//! JSON shapes the sim sends, exactly as the Okta contract names them: `OAuth2RefreshToken`
//! (camelCase, `_links`, optional `_embedded.scopes`), `OAuth2Client` (snake_case) and the
//! Okta error body. Pure functions of their inputs; `base` is the org origin with no
//! trailing slash.

use std::borrow::Cow;

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde_json::{Value, json};

use super::seed::scope_id;
use super::store::Store;
use super::types::SimToken;

/// The authorization-server id at the end of an issuer URL (`…/oauth2/aus…`).
fn auth_server_id(issuer: &str) -> &str {
    issuer.rsplit('/').next().unwrap_or(issuer)
}

fn client_name<'a>(store: &'a Store, client_id: &'a str) -> &'a str {
    store.client_name(client_id).unwrap_or(client_id)
}

/// An `OAuth2RefreshToken` object; with `expand` the `_embedded.scopes` are included. It
/// borrows the token and is written as text straight into the output, in the order Okta
/// writes the fields: the benchmarks serve a million tokens a run, and building values (or
/// escaping every constant through serde) was most of the sim's CPU.
pub(crate) struct TokenJson<'a> {
    base: &'a str,
    store: &'a Store,
    token: &'a SimToken,
    expand: bool,
}

impl<'a> TokenJson<'a> {
    pub(crate) fn new(base: &'a str, store: &'a Store, token: &'a SimToken, expand: bool) -> Self {
        TokenJson {
            base,
            store,
            token,
            expand,
        }
    }

    /// The object as JSON text, appended to `out`.
    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        let (base, t) = (self.base, self.token);
        let mut o = Obj::open(out);
        o.key("id").string(&t.id);
        o.key("status").string("ACTIVE");
        o.key("created").time(t.created);
        o.key("lastUpdated").time(t.last_updated);
        if let Some(at) = t.expires_at {
            o.key("expiresAt").time(at);
        }
        o.key("issuer").string(&t.issuer);
        o.key("clientId").string(&t.client_id);
        o.key("userId").string(&t.user_id);
        o.key("scopes").raw(b"[");
        for (i, name) in t.scopes.iter().enumerate() {
            if i > 0 {
                o.raw(b",");
            }
            o.string(name);
        }
        o.raw(b"]");
        let auth_server = auth_server_id(&t.issuer);
        if self.expand {
            o.key("_embedded").raw(b"{\"scopes\":[");
            for (i, name) in t.scopes.iter().enumerate() {
                if i > 0 {
                    o.raw(b",");
                }
                let id = match self.store.scope_ids.get(name) {
                    Some(id) => Cow::Borrowed(id.as_str()),
                    None => Cow::Owned(scope_id(name)),
                };
                scope(o.out, base, name, &id, auth_server);
            }
            o.raw(b"]}");
        }
        let name = client_name(self.store, &t.client_id);
        let this = [
            base,
            "/api/v1/users/",
            &t.user_id,
            "/clients/",
            &t.client_id,
            "/tokens/",
            &t.id,
        ];
        o.key("_links");
        let mut l = Obj::open(o.out);
        link(
            &mut l,
            "app",
            &[base, "/api/v1/apps/", &t.client_id],
            Some(name),
            None,
        );
        link(&mut l, "self", &this, None, None);
        link(&mut l, "revoke", &this, None, Some("DELETE"));
        link(
            &mut l,
            "client",
            &[base, "/oauth2/v1/clients/", &t.client_id],
            Some(name),
            None,
        );
        link(
            &mut l,
            "user",
            &[base, "/api/v1/users/", &t.user_id],
            Some(&t.user_id),
            None,
        );
        let server = [base, "/api/v1/authorizationServers/", auth_server];
        link(
            &mut l,
            "authorizationServer",
            &server,
            Some("Custom Authorization Server"),
            None,
        );
        l.close();
        o.close();
    }
}

/// A JSON array of tokens as text, its buffer sized once for the page (a token with its
/// scopes expanded is about 2 KB).
pub(crate) fn tokens<'a>(items: impl ExactSizeIterator<Item = TokenJson<'a>>) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + items.len() * 2_560);
    out.push(b'[');
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        item.write(&mut out);
    }
    out.push(b']');
    out
}

/// One token's JSON as text.
pub(crate) fn token(base: &str, store: &Store, token: &SimToken, expand: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(2048);
    TokenJson::new(base, store, token, expand).write(&mut out);
    out
}

/// One `_embedded.scopes[]` item: an `OAuth2Scope`.
fn scope(out: &mut Vec<u8>, base: &str, name: &str, id: &str, auth_server: &str) {
    let mut o = Obj::open(out);
    o.key("id").string(id);
    o.key("name").string(name);
    o.key("displayName").string(name);
    o.key("description").raw(b"\"Allows the app to use the ");
    o.fragment(name);
    o.raw(b" scope.\"");
    o.key("_links");
    let mut l = Obj::open(o.out);
    let href = [
        base,
        "/api/v1/authorizationServers/",
        auth_server,
        "/scopes/",
        id,
    ];
    link(&mut l, "scope", &href, Some(name), None);
    l.close();
    o.close();
}

/// `"key":{ "href": …, "title": …, "hints": { "allow": [method] } }`, title and hints optional.
fn link(o: &mut Obj<'_>, key: &str, href: &[&str], title: Option<&str>, allow: Option<&str>) {
    o.key(key);
    let mut l = Obj::open(o.out);
    l.key("href").raw(b"\"");
    for part in href {
        l.fragment(part);
    }
    l.raw(b"\"");
    if let Some(title) = title {
        l.key("title").string(title);
    }
    if let Some(method) = allow {
        l.key("hints").raw(b"{\"allow\":[");
        l.string(method);
        l.raw(b"]}");
    }
    l.close();
}

/// A time as [`Obj::time`] writes it, through `write!`: the form for a year outside four digits.
fn write_time(out: &mut Vec<u8>, t: DateTime<Utc>) {
    use std::io::Write;
    let _ = write!(
        out,
        "\"{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z\"",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.timestamp_subsec_millis().min(999)
    );
}

/// Whether JSON writes `s` inside quotes as it is (no quote, backslash or control character).
/// Every byte is looked at, with no early exit, so the loop runs on whole vectors.
fn plain(s: &str) -> bool {
    !s.bytes().fold(false, |escape, b| {
        escape | (b < 0x20) | (b == b'"') | (b == b'\\')
    })
}

/// A JSON object being written: keys are the sim's own constants; strings are escaped only
/// when they hold something JSON must escape.
struct Obj<'o> {
    out: &'o mut Vec<u8>,
    first: bool,
}

impl<'o> Obj<'o> {
    fn open(out: &'o mut Vec<u8>) -> Obj<'o> {
        out.push(b'{');
        Obj { out, first: true }
    }

    fn close(self) {
        self.out.push(b'}');
    }

    /// A member's key: one of the sim's own constants, which need no escaping.
    fn key(&mut self, key: &str) -> &mut Self {
        debug_assert!(plain(key));
        if !std::mem::take(&mut self.first) {
            self.out.push(b',');
        }
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
        self
    }

    fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.out.extend_from_slice(bytes);
        self
    }

    fn string(&mut self, s: &str) -> &mut Self {
        self.out.push(b'"');
        self.fragment(s);
        self.out.push(b'"');
        self
    }

    /// The inside of a JSON string: `s` as it is when nothing in it needs escaping.
    fn fragment(&mut self, s: &str) -> &mut Self {
        if plain(s) {
            self.out.extend_from_slice(s.as_bytes());
        } else {
            // Serializing a string cannot fail; the quotes serde adds are dropped.
            let quoted = serde_json::to_string(s).unwrap_or_default();
            let inside = quoted.get(1..quoted.len().saturating_sub(1));
            self.out
                .extend_from_slice(inside.unwrap_or_default().as_bytes());
        }
        self
    }

    /// Okta's timestamp text: millisecond precision and a `Z` (`2026-11-29T22:00:00.000Z`).
    /// Written digit by digit: through `write!` it was an eighth of the sim's CPU.
    fn time(&mut self, t: DateTime<Utc>) -> &mut Self {
        let year = t.year();
        if !(0..=9999).contains(&year) {
            write_time(self.out, t);
            return self;
        }
        let mut text = *b"\"0000-00-00T00:00:00.000Z\"";
        let mut put = |at: usize, width: usize, mut n: u32| {
            for i in (at..at + width).rev() {
                text[i] = b'0' + (n % 10) as u8;
                n /= 10;
            }
        };
        put(1, 4, year.unsigned_abs());
        put(6, 2, t.month());
        put(9, 2, t.day());
        put(12, 2, t.hour());
        put(15, 2, t.minute());
        put(18, 2, t.second());
        put(21, 3, t.timestamp_subsec_millis().min(999));
        self.out.extend_from_slice(&text);
        self
    }
}

/// An `OAuth2Client` object as listUserClients returns it.
pub(crate) fn client(base: &str, user_id: &str, client_id: &str, name: &str) -> Value {
    let pair = format!("{base}/api/v1/users/{user_id}/clients/{client_id}");
    json!({
        "client_id": client_id,
        "client_name": name,
        "client_uri": null,
        "logo_uri": null,
        "_links": {
            "self": { "href": format!("{base}/oauth2/v1/clients/{client_id}") },
            "grants": { "href": format!("{pair}/grants") },
            "tokens": { "href": format!("{pair}/tokens") },
        },
    })
}

/// An Okta error body; `errorLink` repeats the code, as Okta does.
pub(crate) fn error(code: &str, summary: &str, causes: &[String], error_id: &str) -> Value {
    let causes: Vec<Value> = causes
        .iter()
        .map(|c| json!({ "errorSummary": c }))
        .collect();
    json!({
        "errorCode": code,
        "errorSummary": summary,
        "errorLink": code,
        "errorId": error_id,
        "errorCauses": causes,
    })
}

/// The Okta code and summary the sim uses for an error status.
pub(crate) fn status_error(status: u16) -> (&'static str, &'static str) {
    match status {
        400 => ("E0000001", "Api validation failed"),
        401 => ("E0000011", "Invalid token provided"),
        403 => (
            "E0000006",
            "You do not have permission to perform the requested action",
        ),
        404 => ("E0000007", "Not found: Resource not found"),
        405 => (
            "E0000022",
            "The endpoint does not support the provided HTTP method",
        ),
        429 => (
            "E0000047",
            "API call exceeded rate limit due to too many requests.",
        ),
        503 => ("E0000010", "Service is in read only mode"),
        _ => ("E0000009", "Internal Server Error"),
    }
}

#[cfg(test)]
mod tests {
    use super::Obj;

    /// Text JSON must escape (quotes, backslashes, control characters) reads back unchanged;
    /// anything else is written as it is.
    #[test]
    fn strings_are_escaped_only_where_json_needs_it() {
        let tricky = "a \"quoted\" C:\\path\n\ttab \u{1} é ✓";
        let mut out = Vec::new();
        let mut o = Obj::open(&mut out);
        o.key("plain").string("oarABC/def");
        o.key("tricky").string(tricky);
        o.close();
        let text = String::from_utf8(out).expect("utf-8");
        assert!(text.starts_with(r#"{"plain":"oarABC/def","tricky":"a \"quoted\" C:\\path\n"#));
        let back: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(back["tricky"], tricky);
        assert_eq!(back["plain"], "oarABC/def");
    }

    /// Times written digit by digit read as `write!` writes them, whatever the digits
    /// (leading zeros, the last millisecond, a leap second), and Okta's form for an ordinary
    /// instant.
    #[test]
    fn times_are_written_as_okta_writes_them() {
        use chrono::{NaiveDate, TimeZone, Utc};
        let leap = NaiveDate::from_ymd_opt(2016, 12, 31)
            .and_then(|d| d.and_hms_milli_opt(23, 59, 59, 1_500))
            .unwrap()
            .and_utc();
        let instants = [
            Utc.with_ymd_and_hms(2026, 11, 29, 22, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(999, 1, 2, 3, 4, 5).unwrap() + chrono::Duration::milliseconds(7),
            Utc.with_ymd_and_hms(2099, 12, 31, 23, 59, 59).unwrap()
                + chrono::Duration::milliseconds(999),
            leap,
            Utc.with_ymd_and_hms(10_000, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(-1, 1, 1, 0, 0, 0).unwrap(),
        ];
        for t in instants {
            let mut out = Vec::new();
            Obj::open(&mut out).time(t);
            let mut want = b"{".to_vec();
            super::write_time(&mut want, t);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                String::from_utf8(want).unwrap(),
                "{t}"
            );
        }
        for (t, text) in [
            (instants[0], r#"{"2026-11-29T22:00:00.000Z""#),
            (instants[4], r#"{"10000-01-01T00:00:00.000Z""#),
            (instants[5], r#"{"-001-01-01T00:00:00.000Z""#),
        ] {
            let mut out = Vec::new();
            Obj::open(&mut out).time(t);
            assert_eq!(String::from_utf8(out).unwrap(), text);
        }
    }
}
