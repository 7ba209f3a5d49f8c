//! JSON shapes the sim sends, exactly as the Okta contract names them: `OAuth2RefreshToken`
//! (camelCase, `_links`, optional `_embedded.scopes`), `OAuth2Client` (snake_case) and the
//! Okta error body. Pure functions of their inputs; `base` is the org origin with no
//! trailing slash.

use std::borrow::Cow;

use serde_json::{Value, json};

use super::json_text::Obj;
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
    /// Listed as `REVOKED` rather than `ACTIVE`.
    revoked: bool,
}

impl<'a> TokenJson<'a> {
    pub(crate) fn new(base: &'a str, store: &'a Store, token: &'a SimToken, expand: bool) -> Self {
        TokenJson {
            base,
            store,
            token,
            expand,
            revoked: false,
        }
    }

    /// The same object with `status` `REVOKED` when `revoked`.
    pub(crate) fn revoked(self, revoked: bool) -> Self {
        TokenJson { revoked, ..self }
    }

    /// The object as JSON text, appended to `out`.
    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        let (base, t) = (self.base, self.token);
        let mut o = Obj::open(out);
        o.key("id").string(&t.id);
        if !self.store.omit_status {
            o.key("status")
                .string(if self.revoked { "REVOKED" } else { "ACTIVE" });
        }
        o.key("created").time(t.created);
        o.key("lastUpdated").time(t.last_updated);
        if let Some(at) = t.expires_at {
            o.key("expiresAt").time(at);
        }
        o.key("issuer").string(&t.issuer);
        if !self.store.omit_client_id {
            o.key("clientId").string(&t.client_id);
        }
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
pub(crate) fn token(
    base: &str,
    store: &Store,
    token: &SimToken,
    revoked: bool,
    expand: bool,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(2048);
    TokenJson::new(base, store, token, expand)
        .revoked(revoked)
        .write(&mut out);
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
