//! The ApplicationTokens operations of the simulated org (`/api/v1/apps/{appId}/tokens…`):
//! every user's refresh tokens of one app, listed with `Link` cursors (`limit` 1..=200, `after`,
//! `expand=scope`), one fetched or revoked by id, or all revoked at once. The app id is the
//! OIDC app's client id. Listing order is (user id, token id), and the opaque `after` cursor
//! names the last token listed, so revocations between pages never skip a token. The scope
//! checks (`okta.apps.read` / `okta.apps.manage`) and the `/api/v1/apps*` bucket are the
//! server's; this module only answers.

use std::ops::Bound;

use chrono::Utc;

use super::listing::Listed;
use super::render;
use super::routes::{Outcome, Route, encode_cursor, not_found, parse_query};
use super::store::Store;
use super::types::{RevokeHow, RouteKind};

/// The route kind of a request under `/api/v1/apps/{appId}/tokens`; [`RouteKind::Other`] for
/// a method the path does not take.
pub(super) fn kind(collection: bool, get: bool, delete: bool) -> RouteKind {
    match (collection, get, delete) {
        (true, true, _) => RouteKind::AppListTokens,
        (true, _, true) => RouteKind::AppRevokeAll,
        (false, true, _) => RouteKind::AppGetToken,
        (false, _, true) => RouteKind::AppRevokeToken,
        _ => RouteKind::Other,
    }
}

impl Store {
    /// The pairs of a client, by user id (the app listing's order).
    fn app_pairs(&self, client: u32) -> Vec<u32> {
        let mut pairs: Vec<u32> = (0..self.pairs.len())
            .filter_map(|i| u32::try_from(i).ok())
            .filter(|&i| {
                self.pairs
                    .get(i as usize)
                    .is_some_and(|p| p.client == client)
            })
            .collect();
        pairs.sort_by(|a, b| self.user_of(*a).cmp(self.user_of(*b)));
        pairs
    }

    fn user_of(&self, pair: u32) -> &str {
        self.pairs
            .get(pair as usize)
            .and_then(|p| self.users.get(p.user as usize))
            .map_or("", String::as_str)
    }

    /// Up to `limit` tokens of a client after the `(user, token)` position `after`, and
    /// whether more remain.
    fn app_page(
        &self,
        client: u32,
        after: Option<(&str, &str)>,
        limit: usize,
    ) -> (Vec<Listed>, bool) {
        let mut out = Vec::new();
        for pair in self.app_pairs(client) {
            let user = self.user_of(pair);
            let lower = match after {
                Some((u, _)) if user < u => continue,
                Some((u, t)) if user == u => Bound::Excluded(t),
                _ => Bound::Unbounded,
            };
            let Some(p) = self.pairs.get(pair as usize) else {
                continue;
            };
            for listed in self.listed_from(p, lower) {
                if out.len() == limit {
                    return (out, true);
                }
                out.push(listed);
            }
        }
        (out, false)
    }

    /// The pair of a client that lists token `id` (ACTIVE, or revoked and still listed).
    fn app_token_pair(&self, client: u32, id: &str) -> Option<u32> {
        self.app_pairs(client).into_iter().find(|&p| {
            self.pairs
                .get(p as usize)
                .is_some_and(|p| p.tokens.contains_key(id) || p.listed_revoked.contains_key(id))
        })
    }
}

/// Runs one ApplicationTokens operation. `self_link` is the request's own URL.
pub(super) fn dispatch(
    store: &mut Store,
    route: &Route,
    base: &str,
    self_link: &str,
    path: &str,
    query: &str,
    error_id: &str,
) -> Outcome {
    let app = route.client.as_deref().unwrap_or_default();
    let Some(client) = store.app(app) else {
        return not_found(app, "App", error_id);
    };
    let token_missing = |id: &str| not_found(id, "OAuth2RefreshToken", error_id);
    match route.kind {
        RouteKind::AppListTokens => {
            let q = match parse_query(query, error_id) {
                Ok(q) => q,
                Err(e) => return e,
            };
            let after = q.after.as_deref().and_then(|a| a.split_once('/'));
            if q.after.is_some() && after.is_none() {
                return Outcome::error(
                    400,
                    Some("Api validation failed: query parameters".to_owned()),
                    &["after: invalid pagination cursor".to_owned()],
                    error_id,
                );
            }
            let (tokens, more) = store.app_page(client, after, q.limit);
            let next_link = match tokens.last() {
                Some((last, _)) if more => {
                    let expand = if q.expand { "&expand=scope" } else { "" };
                    let position = format!("{}/{}", last.user_id, last.id);
                    Some(format!(
                        "{base}{path}?limit={}&after={}{expand}",
                        q.limit,
                        encode_cursor(&position)
                    ))
                }
                _ => None,
            };
            let body = (tokens.iter()).map(|(t, revoked)| {
                render::TokenJson::new(base, store, t, q.expand).revoked(*revoked)
            });
            Outcome {
                self_link: Some(self_link.to_owned()),
                next_link,
                ..Outcome::json_text(200, render::tokens(body))
            }
        }
        RouteKind::AppGetToken => {
            let q = match parse_query(query, error_id) {
                Ok(q) => q,
                Err(e) => return e,
            };
            let id = route.token.as_deref().unwrap_or_default();
            match store
                .app_token_pair(client, id)
                .and_then(|p| store.get_listed(p, id))
            {
                Some((t, revoked)) => {
                    Outcome::json_text(200, render::token(base, store, &t, revoked, q.expand))
                }
                None => token_missing(id),
            }
        }
        RouteKind::AppRevokeToken => {
            let id = route.token.as_deref().unwrap_or_default();
            match store.app_token_pair(client, id) {
                Some(p) if store.revoke_one(p, id, Utc::now()) => empty(),
                _ => token_missing(id),
            }
        }
        RouteKind::AppRevokeAll => {
            let at = Utc::now();
            for pair in store.app_pairs(client) {
                store.revoke_all(pair, RevokeHow::AllForApp, at);
            }
            empty()
        }
        _ => not_found(path, "Endpoint", error_id),
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
