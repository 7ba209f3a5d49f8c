//! The API operations themselves, once a request has passed the throttles and auth: path
//! matching into a [`Route`], query validation (`limit` 1..=200, `after`, `expand=scope`),
//! listing with `Link` cursors, and revocation. Produces an [`Outcome`] (status, JSON body,
//! links); headers and faults are the server's job, but for the tokens a listing is told to
//! leave out.

use axum::http::Method;
use chrono::Utc;
use percent_encoding::percent_decode_str;
use serde::Serialize;

use super::render;
use super::store::{Missing, Store};
use super::types::{RevokeHow, RouteKind};

/// Default and maximum page sizes of listRefreshTokensForUserAndClient.
const DEFAULT_LIMIT: usize = 20;
const MAX_LIMIT: usize = 200;

/// A request path matched against the API.
#[derive(Debug, Clone)]
pub(crate) struct Route {
    pub(crate) kind: RouteKind,
    pub(crate) user: Option<String>,
    pub(crate) client: Option<String>,
    pub(crate) token: Option<String>,
    /// The path exists but not for this method (answered 405 E0000022).
    pub(crate) wrong_method: bool,
}

/// What an operation answers, before headers and faults.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub(crate) status: u16,
    /// The JSON body, serialized.
    pub(crate) body: Option<Vec<u8>>,
    pub(crate) self_link: Option<String>,
    pub(crate) next_link: Option<String>,
}

impl Outcome {
    pub(crate) fn json(status: u16, body: &impl Serialize) -> Outcome {
        Outcome::json_text(status, serde_json::to_vec(body).unwrap_or_default())
    }

    /// A JSON body already written as text.
    pub(crate) fn json_text(status: u16, body: Vec<u8>) -> Outcome {
        Outcome {
            status,
            body: Some(body),
            self_link: None,
            next_link: None,
        }
    }

    fn empty() -> Outcome {
        Outcome {
            status: 204,
            body: None,
            self_link: None,
            next_link: None,
        }
    }

    /// An Okta error outcome; `error_id` fills `errorId`.
    pub(crate) fn error(
        status: u16,
        summary: Option<String>,
        causes: &[String],
        error_id: &str,
    ) -> Outcome {
        let (code, default) = render::status_error(status);
        let summary = summary.unwrap_or_else(|| default.to_owned());
        Outcome::json(status, &render::error(code, &summary, causes, error_id))
    }
}

fn decode(segment: &str) -> String {
    percent_decode_str(segment).decode_utf8_lossy().into_owned()
}

/// Match a method and path to a route.
pub(crate) fn parse(method: &Method, path: &str) -> Route {
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let mut route = Route {
        kind: RouteKind::Other,
        user: None,
        client: None,
        token: None,
        wrong_method: false,
    };
    let (get, delete) = (method == Method::GET, method == Method::DELETE);
    match segs.as_slice() {
        ["api", "v1", "logs"] => {
            if get {
                route.kind = RouteKind::Logs;
            } else {
                route.wrong_method = true;
            }
        }
        ["api", "v1", "users", u] => {
            route.user = Some(decode(u));
            if get {
                route.kind = RouteKind::GetUser;
            } else {
                route.wrong_method = true;
            }
        }
        ["api", "v1", "users", u, "clients"] => {
            route.user = Some(decode(u));
            if get {
                route.kind = RouteKind::ListClients;
            } else {
                route.wrong_method = true;
            }
        }
        ["api", "v1", "apps", a, "tokens", rest @ ..] if rest.len() <= 1 => {
            route.client = Some(decode(a));
            route.token = rest.first().map(|t| decode(t));
            route.kind = super::app_tokens::kind(rest.is_empty(), get, delete);
            route.wrong_method = route.kind == RouteKind::Other;
        }
        ["api", "v1", "users", u, "clients", c, "tokens", rest @ ..] if rest.len() <= 1 => {
            route.user = Some(decode(u));
            route.client = Some(decode(c));
            route.token = rest.first().map(|t| decode(t));
            route.kind = match (rest.is_empty(), get, delete) {
                (true, true, _) => RouteKind::ListTokens,
                (true, _, true) => RouteKind::RevokeAll,
                (false, true, _) => RouteKind::GetToken,
                (false, _, true) => RouteKind::RevokeToken,
                _ => {
                    route.wrong_method = true;
                    RouteKind::Other
                }
            };
        }
        _ => {}
    }
    route
}

/// The opaque `after` cursor: the hex of the last listed token id.
pub(super) fn encode_cursor(id: &str) -> String {
    id.bytes().map(|b| format!("{b:02x}")).collect()
}

pub(super) fn decode_cursor(cursor: &str) -> Option<String> {
    if cursor.is_empty() || !cursor.len().is_multiple_of(2) {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..cursor.len())
        .step_by(2)
        .map(|i| {
            cursor
                .get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect();
    String::from_utf8(bytes?).ok()
}

/// Query parameters of the token operations.
pub(super) struct TokenQuery {
    pub(super) limit: usize,
    pub(super) after: Option<String>,
    pub(super) expand: bool,
}

pub(super) fn parse_query(query: &str, error_id: &str) -> Result<TokenQuery, Outcome> {
    let mut q = TokenQuery {
        limit: DEFAULT_LIMIT,
        after: None,
        expand: false,
    };
    let invalid = |cause: String| {
        Outcome::error(
            400,
            Some("Api validation failed: query parameters".to_owned()),
            &[cause],
            error_id,
        )
    };
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "limit" => match value.parse::<usize>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => q.limit = n,
                _ => {
                    return Err(invalid(format!(
                        "limit: must be an integer between 1 and {MAX_LIMIT}"
                    )));
                }
            },
            "after" => match decode_cursor(&value) {
                Some(id) => q.after = Some(id),
                None => return Err(invalid("after: invalid pagination cursor".to_owned())),
            },
            "expand" if value == "scope" => q.expand = true,
            "expand" => {
                return Err(invalid(format!(
                    "expand: unsupported value '{value}'; only 'scope' is allowed"
                )));
            }
            _ => {}
        }
    }
    Ok(q)
}

pub(super) fn not_found(what: &str, kind: &str, error_id: &str) -> Outcome {
    Outcome::error(
        404,
        Some(format!("Not found: Resource not found: {what} ({kind})")),
        &[],
        error_id,
    )
}

/// Run one operation against the store. `path`/`query` are as received; `base` is the origin.
pub(crate) fn dispatch(
    store: &mut Store,
    route: &Route,
    base: &str,
    path: &str,
    query: &str,
    error_id: &str,
) -> Outcome {
    if route.wrong_method {
        return Outcome::error(405, None, &[], error_id);
    }
    let user = route.user.as_deref().unwrap_or_default();
    let client = route.client.as_deref().unwrap_or_default();
    let self_link = self_link(base, path, query);
    let missing = |m: Missing| missing(route, m, error_id);
    match route.kind {
        RouteKind::Logs => store.syslog.query(base, path, query, error_id),
        RouteKind::AppListTokens
        | RouteKind::AppGetToken
        | RouteKind::AppRevokeToken
        | RouteKind::AppRevokeAll => {
            super::app_tokens::dispatch(store, route, base, &self_link, path, query, error_id)
        }
        RouteKind::Other | RouteKind::Token => Outcome::error(
            404,
            Some(format!("Not found: Resource not found: {path} (Endpoint)")),
            &[],
            error_id,
        ),
        RouteKind::GetUser => super::users::get(store, user, base, error_id),
        RouteKind::ListClients => {
            let Some(u) = store.user(user) else {
                return missing(Missing::User);
            };
            let mut out = super::user_clients::list(store, u, user, base, path, query);
            out.self_link = Some(self_link);
            out
        }
        RouteKind::ListTokens | RouteKind::GetToken => {
            read_tokens(store, route, (base, path, query), error_id, &[])
        }
        RouteKind::RevokeAll => match store.resolve(user, client) {
            Ok(Some(p)) => {
                store.revoke_all(p, RevokeHow::AllForPair, Utc::now());
                Outcome::empty()
            }
            Ok(None) => Outcome::empty(),
            Err(m) => missing(m),
        },
        RouteKind::RevokeToken => {
            let token_id = route.token.as_deref().unwrap_or_default();
            match store.resolve(user, client) {
                Ok(Some(p)) if store.revoke_one(p, token_id, Utc::now()) => Outcome::empty(),
                Ok(_) => missing(Missing::Token),
                Err(m) => missing(m),
            }
        }
    }
}

/// `GET …/tokens` (a page of a pair's listing) and `GET …/tokens/{id}`: they only read the
/// store, so the server runs them under a shared lock, several at once (Okta serves
/// concurrent requests in parallel; rendering a page is most of the sim's work). A listing
/// leaves out the tokens `omitted` names ([`super::FaultKind::OmitToken`]) after its next link
/// is made.
pub(crate) fn read_tokens(
    store: &Store,
    route: &Route,
    (base, path, query): (&str, &str, &str),
    error_id: &str,
    omitted: &[&str],
) -> Outcome {
    let self_link = self_link(base, path, query);
    let user = route.user.as_deref().unwrap_or_default();
    let client = route.client.as_deref().unwrap_or_default();
    let missing = |m: Missing| missing(route, m, error_id);
    let q = match parse_query(query, error_id) {
        Ok(q) => q,
        Err(e) => return e,
    };
    let pair = match store.resolve(user, client) {
        Ok(p) => p,
        Err(m) => return missing(m),
    };
    if let Some(token_id) = &route.token {
        return match pair.and_then(|p| store.get_listed(p, token_id)) {
            Some((t, revoked)) => {
                Outcome::json_text(200, render::token(base, store, &t, revoked, q.expand))
            }
            None => missing(Missing::Token),
        };
    }
    let (tokens, more) = match pair {
        Some(p) => store.listing(p, q.after.as_deref(), q.limit),
        None => (Vec::new(), false),
    };
    let next_link = match tokens.last() {
        Some((last, _)) if more => {
            let expand = if q.expand { "&expand=scope" } else { "" };
            Some(format!(
                "{base}{path}?limit={}&after={}{expand}",
                q.limit,
                encode_cursor(&last.id)
            ))
        }
        _ => None,
    };
    let kept: Vec<_> = (tokens.iter())
        .filter(|(t, _)| !omitted.contains(&t.id.as_str()))
        .collect();
    let body = kept
        .iter()
        .map(|(t, revoked)| render::TokenJson::new(base, store, t, q.expand).revoked(*revoked));
    Outcome {
        self_link: Some(self_link),
        next_link,
        ..Outcome::json_text(200, render::tokens(body))
    }
}

/// The 404 Okta answers for what `m` names as missing.
fn missing(route: &Route, m: Missing, error_id: &str) -> Outcome {
    let user = route.user.as_deref().unwrap_or_default();
    let client = route.client.as_deref().unwrap_or_default();
    match m {
        Missing::User => not_found(user, "User", error_id),
        Missing::Client => not_found(client, "OAuth2Client", error_id),
        Missing::Token => not_found(
            route.token.as_deref().unwrap_or_default(),
            "OAuth2RefreshToken",
            error_id,
        ),
    }
}

/// The URL of the request as received.
fn self_link(base: &str, path: &str, query: &str) -> String {
    if query.is_empty() {
        format!("{base}{path}")
    } else {
        format!("{base}{path}?{query}")
    }
}
