//! JSON shapes the sim sends, exactly as the Okta contract names them: `OAuth2RefreshToken`
//! (camelCase, `_links`, optional `_embedded.scopes`), `OAuth2Client` (snake_case) and the
//! Okta error body. Pure functions of their inputs; `base` is the org origin with no
//! trailing slash.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::seed::scope_id;
use super::store::Store;
use super::types::SimToken;

/// Okta's timestamp text: millisecond precision and a `Z`.
pub(crate) fn timestamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// The authorization-server id at the end of an issuer URL (`…/oauth2/aus…`).
fn auth_server_id(issuer: &str) -> &str {
    issuer.rsplit('/').next().unwrap_or(issuer)
}

fn client_name<'a>(store: &'a Store, client_id: &'a str) -> &'a str {
    store.client_name(client_id).unwrap_or(client_id)
}

/// An `OAuth2RefreshToken` object; with `expand` the `_embedded.scopes` are included.
pub(crate) fn token(base: &str, store: &Store, t: &SimToken, expand: bool) -> Value {
    let user_url = format!("{base}/api/v1/users/{}", t.user_id);
    let self_url = format!("{user_url}/clients/{}/tokens/{}", t.client_id, t.id);
    let name = client_name(store, &t.client_id);
    let auth_server = auth_server_id(&t.issuer);
    let mut v = json!({
        "id": t.id,
        "status": "ACTIVE",
        "created": timestamp(t.created),
        "lastUpdated": timestamp(t.last_updated),
        "issuer": t.issuer,
        "clientId": t.client_id,
        "userId": t.user_id,
        "scopes": t.scopes,
        "_links": {
            "app": { "href": format!("{base}/api/v1/apps/{}", t.client_id), "title": name },
            "self": { "href": self_url },
            "revoke": { "href": self_url, "hints": { "allow": ["DELETE"] } },
            "client": { "href": format!("{base}/oauth2/v1/clients/{}", t.client_id), "title": name },
            "user": { "href": user_url, "title": t.user_id },
            "authorizationServer": {
                "href": format!("{base}/api/v1/authorizationServers/{auth_server}"),
                "title": "Custom Authorization Server",
            },
        },
    });
    if let (Some(at), Some(obj)) = (t.expires_at, v.as_object_mut()) {
        obj.insert("expiresAt".to_owned(), Value::String(timestamp(at)));
    }
    if expand && let Some(obj) = v.as_object_mut() {
        let scopes: Vec<Value> = t
            .scopes
            .iter()
            .map(|name| {
                let id = store.scope_ids.get(name).cloned().unwrap_or_else(|| scope_id(name));
                json!({
                    "id": id,
                    "name": name,
                    "displayName": name,
                    "description": format!("Allows the app to use the {name} scope."),
                    "_links": { "scope": {
                        "href": format!("{base}/api/v1/authorizationServers/{auth_server}/scopes/{id}"),
                        "title": name,
                    } },
                })
            })
            .collect();
        obj.insert("_embedded".to_owned(), json!({ "scopes": scopes }));
    }
    v
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
