//! JSON shapes the sim sends, exactly as the Okta contract names them: `OAuth2RefreshToken`
//! (camelCase, `_links`, optional `_embedded.scopes`), `OAuth2Client` (snake_case) and the
//! Okta error body. Pure functions of their inputs; `base` is the org origin with no
//! trailing slash.

use std::borrow::Cow;
use std::fmt;

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde::Serialize;
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
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
/// borrows the token and serializes straight into the output, in the order Okta writes the
/// fields: a page of 200 tokens is written without building a tree of values first.
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
}

impl Serialize for TokenJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (base, t) = (self.base, self.token);
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("id", &t.id)?;
        map.serialize_entry("status", "ACTIVE")?;
        map.serialize_entry("created", &Text(Okta(t.created)))?;
        map.serialize_entry("lastUpdated", &Text(Okta(t.last_updated)))?;
        if let Some(at) = t.expires_at {
            map.serialize_entry("expiresAt", &Text(Okta(at)))?;
        }
        map.serialize_entry("issuer", &t.issuer)?;
        map.serialize_entry("clientId", &t.client_id)?;
        map.serialize_entry("userId", &t.user_id)?;
        map.serialize_entry("scopes", &t.scopes)?;
        let auth_server = auth_server_id(&t.issuer);
        if self.expand {
            let scopes = Scopes {
                base,
                store: self.store,
                names: &t.scopes,
                auth_server,
            };
            map.serialize_entry("_embedded", &Embedded { scopes })?;
        }
        map.serialize_entry(
            "_links",
            &TokenLinks {
                base,
                token: t,
                name: client_name(self.store, &t.client_id),
                auth_server,
            },
        )?;
        map.end()
    }
}

/// A value written with its `Display` form as a JSON string.
struct Text<D>(D);

impl<D: fmt::Display> Serialize for Text<D> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

/// Okta's timestamp text: millisecond precision and a `Z` (`2026-11-29T22:00:00.000Z`).
struct Okta(DateTime<Utc>);

impl fmt::Display for Okta {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.0;
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.timestamp_subsec_millis().min(999)
        )
    }
}

/// Joins its parts when written, so a URL is never built as a `String` first.
struct Url<'a, const N: usize>([&'a str; N]);

impl<const N: usize> fmt::Display for Url<'_, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|part| f.write_str(part))
    }
}

/// `{ "href": …, "title": …, "hints": { "allow": [method] } }`, title and hints optional.
struct Link<'a, const N: usize> {
    href: Url<'a, N>,
    title: Option<&'a str>,
    allow: Option<&'static str>,
}

impl<const N: usize> Serialize for Link<'_, N> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("href", &Text(&self.href))?;
        if let Some(title) = self.title {
            map.serialize_entry("title", title)?;
        }
        if let Some(method) = self.allow {
            map.serialize_entry("hints", &Hints { allow: [method] })?;
        }
        map.end()
    }
}

#[derive(Serialize)]
struct Hints {
    allow: [&'static str; 1],
}

fn link<'a, const N: usize>(href: [&'a str; N], title: Option<&'a str>) -> Link<'a, N> {
    Link {
        href: Url(href),
        title,
        allow: None,
    }
}

struct TokenLinks<'a> {
    base: &'a str,
    token: &'a SimToken,
    name: &'a str,
    auth_server: &'a str,
}

impl Serialize for TokenLinks<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (base, t, name) = (self.base, self.token, self.name);
        let user = [base, "/api/v1/users/", &t.user_id];
        let this = [
            base,
            "/api/v1/users/",
            &t.user_id,
            "/clients/",
            &t.client_id,
            "/tokens/",
            &t.id,
        ];
        let mut map = s.serialize_map(None)?;
        map.serialize_entry(
            "app",
            &link([base, "/api/v1/apps/", &t.client_id], Some(name)),
        )?;
        map.serialize_entry("self", &link(this, None))?;
        let revoke = Link {
            allow: Some("DELETE"),
            ..link(this, None)
        };
        map.serialize_entry("revoke", &revoke)?;
        map.serialize_entry(
            "client",
            &link([base, "/oauth2/v1/clients/", &t.client_id], Some(name)),
        )?;
        map.serialize_entry("user", &link(user, Some(&t.user_id)))?;
        map.serialize_entry(
            "authorizationServer",
            &link(
                [base, "/api/v1/authorizationServers/", self.auth_server],
                Some("Custom Authorization Server"),
            ),
        )?;
        map.end()
    }
}

struct Embedded<'a> {
    scopes: Scopes<'a>,
}

impl Serialize for Embedded<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(1))?;
        map.serialize_entry("scopes", &self.scopes)?;
        map.end()
    }
}

/// `_embedded.scopes`: one `OAuth2Scope` per scope name.
struct Scopes<'a> {
    base: &'a str,
    store: &'a Store,
    names: &'a [String],
    auth_server: &'a str,
}

impl Serialize for Scopes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.names.len()))?;
        for name in self.names {
            let id = match self.store.scope_ids.get(name) {
                Some(id) => Cow::Borrowed(id.as_str()),
                None => Cow::Owned(scope_id(name)),
            };
            seq.serialize_element(&Scope {
                base: self.base,
                name,
                id: &id,
                auth_server: self.auth_server,
            })?;
        }
        seq.end()
    }
}

#[derive(Serialize)]
struct ScopeLinks<'a> {
    scope: Link<'a, 5>,
}

struct Scope<'a> {
    base: &'a str,
    name: &'a str,
    id: &'a str,
    auth_server: &'a str,
}

impl Serialize for Scope<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let name = self.name;
        let href = [
            self.base,
            "/api/v1/authorizationServers/",
            self.auth_server,
            "/scopes/",
            self.id,
        ];
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("id", self.id)?;
        map.serialize_entry("name", name)?;
        map.serialize_entry("displayName", name)?;
        map.serialize_entry(
            "description",
            &Text(format_args!("Allows the app to use the {name} scope.")),
        )?;
        map.serialize_entry(
            "_links",
            &ScopeLinks {
                scope: link(href, Some(name)),
            },
        )?;
        map.end()
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
