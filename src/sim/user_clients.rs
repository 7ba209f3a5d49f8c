//! `GET /api/v1/users/{userId}/clients`: the clients a user holds tokens for. Okta's contract
//! documents one array and no paging parameters; like Okta's other lists it might still page
//! with `Link` headers, so with [`super::SimConfig::user_clients_page`] the sim sends that
//! many clients a page (`limit` lowers it), in the user's order, each `next` link naming the
//! last client sent (`after`). With [`super::SimConfig::user_clients_held_only`] a client
//! leaves the list with the user's last token of it, and with
//! [`super::SimConfig::user_clients_unlisted`] some clients are never named.

use serde_json::Value;

use super::render;
use super::routes::{Outcome, decode_cursor, encode_cursor};
use super::store::Store;

/// The user's clients (`user` is the seeded index of `user_id`), one page of them when the
/// org pages this list.
pub(super) fn list(
    store: &Store,
    user: u32,
    user_id: &str,
    base: &str,
    path: &str,
    query: &str,
) -> Outcome {
    let all: Vec<&str> = store
        .user_pairs(user)
        .iter()
        .filter_map(|&p| store.pairs.get(p as usize))
        .filter(|p| !store.user_clients_held_only || !p.tokens.is_empty())
        .filter_map(|p| store.clients.get(p.client as usize))
        .map(|c| c.id.as_str())
        .filter(|c| !store.user_clients_unlisted.iter().any(|u| u == c))
        .collect();
    let (page, next) = match store.user_clients_page {
        None => (all.as_slice(), None),
        Some(size) => {
            let mut limit = size.max(1);
            let mut after = None;
            for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
                match key.as_ref() {
                    "limit" => limit = value.parse().unwrap_or(limit).clamp(1, size.max(1)),
                    "after" => after = decode_cursor(&value),
                    _ => {}
                }
            }
            let start = after
                .and_then(|a| all.iter().position(|c| *c == a))
                .map_or(0, |i| i + 1);
            let rest = all.get(start..).unwrap_or_default();
            let page = rest.get(..limit.min(rest.len())).unwrap_or_default();
            let next = (rest.len() > page.len())
                .then(|| page.last())
                .flatten()
                .map(|last| format!("{base}{path}?limit={limit}&after={}", encode_cursor(last)));
            (page, next)
        }
    };
    let clients: Vec<Value> = page
        .iter()
        .map(|id| render::client(base, user_id, id, store.client_name(id).unwrap_or(id)))
        .collect();
    Outcome {
        next_link: next,
        ..Outcome::json(200, &clients)
    }
}
