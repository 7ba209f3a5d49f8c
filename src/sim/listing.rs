//! What the org lists and answers for a token, as opposed to what it holds ACTIVE. Okta's
//! contract gives a refresh token's `status` as `ACTIVE` or `REVOKED` but does not say whether
//! a revoked token stays in listings and in `GET …/tokens/{id}`; by default the sim drops a
//! revoked token at once, and with [`super::SimConfig::lists_revoked`] it keeps listing and
//! answering it as `REVOKED` (in id order among the pair's ACTIVE tokens).

use std::collections::BTreeMap;
use std::ops::Bound;

use super::store::{Pair, Store, TokenData};
use super::types::SimToken;

/// A token as listed: its public form and whether it is revoked.
pub(crate) type Listed = (SimToken, bool);

impl Store {
    /// Up to `limit` listed tokens of a pair with ids after `after`, and whether more remain.
    pub(crate) fn listing(
        &self,
        pair: u32,
        after: Option<&str>,
        limit: usize,
    ) -> (Vec<Listed>, bool) {
        let Some(p) = self.pairs.get(pair as usize) else {
            return (Vec::new(), false);
        };
        let lower = after.map_or(Bound::Unbounded, Bound::Excluded);
        let mut out: Vec<Listed> = self.listed_from(p, lower).take(limit + 1).collect();
        let more = out.len() > limit;
        out.truncate(limit);
        (out, more)
    }

    /// One listed token of a pair.
    pub(crate) fn get_listed(&self, pair: u32, id: &str) -> Option<Listed> {
        let p = self.pairs.get(pair as usize)?;
        if let Some(d) = p.tokens.get(id) {
            return Some((self.public(p, id, d), false));
        }
        (p.listed_revoked.get(id)).map(|d| (self.public(p, id, d), true))
    }

    /// The pair's listed tokens from `lower` on, in id order: its ACTIVE tokens and, merged
    /// among them, the revoked ones the org still lists.
    pub(crate) fn listed_from<'a>(
        &'a self,
        p: &'a Pair,
        lower: Bound<&'a str>,
    ) -> impl Iterator<Item = Listed> + 'a {
        let range = |m: &'a BTreeMap<Box<str>, TokenData>| {
            m.range::<str, _>((lower, Bound::Unbounded)).peekable()
        };
        let (mut active, mut revoked) = (range(&p.tokens), range(&p.listed_revoked));
        std::iter::from_fn(move || {
            let take_revoked = match (active.peek(), revoked.peek()) {
                (Some((a, _)), Some((r, _))) => r < a,
                (None, Some(_)) => true,
                _ => false,
            };
            let ((id, d), is_revoked) = match take_revoked {
                true => (revoked.next()?, true),
                false => (active.next()?, false),
            };
            Some((self.public(p, id, d), is_revoked))
        })
    }

    /// Takes the pair's ACTIVE tokens out (`ids`, or all of them when `None`), keeping each in
    /// the listing as `REVOKED` when the org lists revoked tokens; returns them.
    pub(crate) fn take_active(&mut self, pair: u32, ids: Option<&[&str]>) -> Vec<SimToken> {
        let lists_revoked = self.lists_revoked;
        let Some(p) = self.pairs.get(pair as usize) else {
            return Vec::new();
        };
        let taken: Vec<(Box<str>, TokenData)> = match ids {
            Some(ids) => (ids.iter())
                .filter_map(|id| p.tokens.get_key_value(*id))
                .map(|(k, d)| (k.clone(), *d))
                .collect(),
            None => p.tokens.iter().map(|(k, d)| (k.clone(), *d)).collect(),
        };
        let tokens = taken.iter().map(|(id, d)| self.public(p, id, d)).collect();
        if let Some(p) = self.pairs.get_mut(pair as usize) {
            for (id, d) in taken {
                p.tokens.remove(&id);
                if lists_revoked {
                    p.listed_revoked.insert(id, d);
                }
            }
        }
        tokens
    }
}
