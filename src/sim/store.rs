//! The org's data: users, clients, user/client pairs and their ACTIVE refresh tokens, plus the
//! log of revocations. Tokens are stored compactly (interned issuer and scope set, millisecond
//! integers) because the benchmark seeds a million of them. Each pair keeps its tokens in a
//! `BTreeMap` by id, which is the listing order and makes the `after` cursor (the last id
//! seen) stay correct when tokens are revoked between pages. No HTTP here.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, TimeZone, Utc};

use super::types::{RevokeHow, RevokedToken, SimToken};

/// Sentinel for "no expiry" in [`TokenData::expires_ms`].
pub(crate) const NO_EXPIRY: i64 = i64::MIN;

/// A token's data without its id (the map key) or pair.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TokenData {
    pub(crate) issuer: u32,
    pub(crate) scopes: u32,
    pub(crate) created_ms: i64,
    pub(crate) updated_ms: i64,
    pub(crate) expires_ms: i64,
}

/// One user/client pair and its ACTIVE tokens.
#[derive(Debug)]
pub(crate) struct Pair {
    pub(crate) user: u32,
    pub(crate) client: u32,
    pub(crate) tokens: BTreeMap<Box<str>, TokenData>,
    /// Revoked tokens the org still lists as `REVOKED` ([`super::SimConfig::lists_revoked`]).
    pub(crate) listed_revoked: BTreeMap<Box<str>, TokenData>,
}

/// A client as listUserClients shows it.
#[derive(Debug)]
pub(crate) struct Client {
    pub(crate) id: String,
    pub(crate) name: String,
    /// The app's instance id (ApplicationTokens' `appId`): `id` unless set otherwise.
    pub(crate) app_id: String,
}

/// Values stored once and referenced by index from every token.
#[derive(Debug, Default)]
struct Interner {
    values: Vec<Vec<String>>,
    index: HashMap<Vec<String>, u32>,
}

impl Interner {
    fn intern(&mut self, value: &[String]) -> u32 {
        if let Some(&i) = self.index.get(value) {
            return i;
        }
        let i = u32::try_from(self.values.len()).unwrap_or(u32::MAX);
        self.values.push(value.to_vec());
        self.index.insert(value.to_vec(), i);
        i
    }

    fn get(&self, i: u32) -> &[String] {
        self.values.get(i as usize).map_or(&[], Vec::as_slice)
    }
}

/// The whole org.
#[derive(Debug, Default)]
pub(crate) struct Store {
    pub(crate) users: Vec<String>,
    user_index: HashMap<String, u32>,
    user_pairs: Vec<Vec<u32>>,
    pub(crate) clients: Vec<Client>,
    client_index: HashMap<String, u32>,
    app_index: HashMap<String, u32>,
    pub(crate) pairs: Vec<Pair>,
    pair_index: HashMap<(u32, u32), u32>,
    issuers: Interner,
    scope_sets: Interner,
    /// Scope name → `scp…` id, for `expand=scope`.
    pub(crate) scope_ids: HashMap<String, String>,
    pub(crate) revoked: Vec<RevokedToken>,
    /// Whether revoked tokens stay listed as `REVOKED` ([`super::SimConfig::lists_revoked`]).
    pub(crate) lists_revoked: bool,
    /// Clients a page of a user's clients ([`super::SimConfig::user_clients_page`]).
    pub(crate) user_clients_page: Option<usize>,
    /// Whether a user's clients are only those they hold a token for
    /// ([`super::SimConfig::user_clients_held_only`]).
    pub(crate) user_clients_held_only: bool,
    /// Clients a user's clients never name ([`super::SimConfig::user_clients_unlisted`]).
    pub(crate) user_clients_unlisted: Vec<String>,
    /// Whether tokens are sent without `clientId` ([`super::SimConfig::omit_client_id`]).
    pub(crate) omit_client_id: bool,
    /// Whether tokens are sent without `status` ([`super::SimConfig::omit_status`]).
    pub(crate) omit_status: bool,
    /// The System Log (`GET /api/v1/logs`).
    pub(crate) syslog: super::syslog::SysLog,
    /// Users whose status is not `ACTIVE` or changed since the seed (see `super::users`).
    pub(crate) user_status: HashMap<String, super::users::UserState>,
}

/// Why a lookup of a path's ids failed; each is an Okta E0000007.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Missing {
    User,
    Client,
    Token,
}

fn to_ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn from_ms(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

fn idx(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl Store {
    /// Add a user (idempotent) and return its index.
    pub(crate) fn add_user(&mut self, id: &str) -> u32 {
        if let Some(&i) = self.user_index.get(id) {
            return i;
        }
        let i = idx(self.users.len());
        self.users.push(id.to_owned());
        self.user_pairs.push(Vec::new());
        self.user_index.insert(id.to_owned(), i);
        i
    }

    /// Add a client (idempotent) and return its index.
    pub(crate) fn add_client(&mut self, id: &str, name: &str) -> u32 {
        if let Some(&i) = self.client_index.get(id) {
            return i;
        }
        let i = idx(self.clients.len());
        self.clients.push(Client {
            id: id.to_owned(),
            name: name.to_owned(),
            app_id: id.to_owned(),
        });
        self.client_index.insert(id.to_owned(), i);
        self.app_index.insert(id.to_owned(), i);
        i
    }

    /// Gives client `i` an app instance id other than its client id.
    pub(crate) fn set_app_id(&mut self, i: u32, app_id: &str) {
        if let Some(client) = self.clients.get_mut(i as usize) {
            self.app_index.remove(&client.app_id);
            client.app_id = app_id.to_owned();
            self.app_index.insert(app_id.to_owned(), i);
        }
    }

    /// The client whose app instance id is `app_id`.
    pub(crate) fn app(&self, app_id: &str) -> Option<u32> {
        self.app_index.get(app_id).copied()
    }

    /// Add a pair (idempotent) and return its index.
    pub(crate) fn add_pair(&mut self, user: u32, client: u32) -> u32 {
        if let Some(&i) = self.pair_index.get(&(user, client)) {
            return i;
        }
        let i = idx(self.pairs.len());
        self.pairs.push(Pair {
            user,
            client,
            tokens: BTreeMap::new(),
            listed_revoked: BTreeMap::new(),
        });
        self.pair_index.insert((user, client), i);
        if let Some(list) = self.user_pairs.get_mut(user as usize) {
            list.push(i);
        }
        i
    }

    /// Intern a scope set ahead of seeding, so seeded tokens can share it by index.
    pub(crate) fn intern_scopes(&mut self, scopes: &[String]) -> u32 {
        self.scope_sets.intern(scopes)
    }

    /// Intern an issuer URL ahead of seeding.
    pub(crate) fn intern_issuer(&mut self, issuer: &str) -> u32 {
        self.issuers.intern(&[issuer.to_owned()])
    }

    /// Insert pre-interned token data (the seeding fast path).
    pub(crate) fn insert_data(&mut self, pair: u32, id: Box<str>, data: TokenData) -> bool {
        match self.pairs.get_mut(pair as usize) {
            Some(p) => {
                // A token given again is ACTIVE again.
                p.listed_revoked.remove(&id);
                p.tokens.insert(id, data).is_none()
            }
            None => false,
        }
    }

    /// Add a token from its public form, creating its user, client and pair as needed, and
    /// replacing a token with the same id in that pair.
    pub(crate) fn add(&mut self, token: SimToken) {
        let user = self.add_user(&token.user_id);
        let client = self.add_client(&token.client_id, &token.client_id);
        let pair = self.add_pair(user, client);
        let data = TokenData {
            issuer: self.issuers.intern(std::slice::from_ref(&token.issuer)),
            scopes: self.scope_sets.intern(&token.scopes),
            created_ms: to_ms(token.created),
            updated_ms: to_ms(token.last_updated),
            expires_ms: token.expires_at.map_or(NO_EXPIRY, to_ms),
        };
        self.insert_data(pair, token.id.into_boxed_str(), data);
    }

    /// A client's display name.
    pub(crate) fn client_name(&self, id: &str) -> Option<&str> {
        let i = self.client_index.get(id)?;
        self.clients.get(*i as usize).map(|c| c.name.as_str())
    }

    /// A client's index.
    pub(crate) fn client(&self, id: &str) -> Option<u32> {
        self.client_index.get(id).copied()
    }

    pub(crate) fn user(&self, id: &str) -> Option<u32> {
        self.user_index.get(id).copied()
    }

    /// The pairs of a user, in creation order.
    pub(crate) fn user_pairs(&self, user: u32) -> &[u32] {
        self.user_pairs
            .get(user as usize)
            .map_or(&[], Vec::as_slice)
    }

    /// Resolve a path's user and client. A known user and client that were never paired are
    /// a pair with no tokens (`Ok(None)`).
    pub(crate) fn resolve(&self, user: &str, client: &str) -> Result<Option<u32>, Missing> {
        let u = self.user(user).ok_or(Missing::User)?;
        let c = self
            .client_index
            .get(client)
            .copied()
            .ok_or(Missing::Client)?;
        Ok(self.pair_index.get(&(u, c)).copied())
    }

    /// The ACTIVE tokens of a pair, by id.
    fn active(&self, pair: u32) -> Vec<SimToken> {
        let Some(p) = self.pairs.get(pair as usize) else {
            return Vec::new();
        };
        p.tokens
            .iter()
            .map(|(id, d)| self.public(p, id, d))
            .collect()
    }

    /// Revoke one token; `false` if the pair has no such ACTIVE token.
    pub(crate) fn revoke_one(&mut self, pair: u32, id: &str, at: DateTime<Utc>) -> bool {
        let Some(token) = self.take_active(pair, Some(&[id])).pop() else {
            return false;
        };
        self.revoked.push(RevokedToken {
            token,
            how: RevokeHow::Single,
            at,
        });
        true
    }

    /// Revoke every token of a pair; returns how many.
    pub(crate) fn revoke_all(&mut self, pair: u32, how: RevokeHow, at: DateTime<Utc>) -> usize {
        let tokens = self.take_active(pair, None);
        let n = tokens.len();
        self.revoked.extend(
            tokens
                .into_iter()
                .map(|token| RevokedToken { token, how, at }),
        );
        n
    }

    pub(crate) fn public(&self, p: &Pair, id: &str, d: &TokenData) -> SimToken {
        SimToken {
            id: id.to_owned(),
            user_id: self.users.get(p.user as usize).cloned().unwrap_or_default(),
            client_id: self
                .clients
                .get(p.client as usize)
                .map(|c| c.id.clone())
                .unwrap_or_default(),
            issuer: self
                .issuers
                .get(d.issuer)
                .first()
                .cloned()
                .unwrap_or_default(),
            scopes: self.scope_sets.get(d.scopes).to_vec(),
            created: from_ms(d.created_ms),
            last_updated: from_ms(d.updated_ms),
            expires_at: (d.expires_ms != NO_EXPIRY).then(|| from_ms(d.expires_ms)),
        }
    }

    /// Every pair as (user_id, client_id).
    pub(crate) fn pairs(&self) -> Vec<(String, String)> {
        self.pairs
            .iter()
            .map(|p| {
                let user = self.users.get(p.user as usize).cloned().unwrap_or_default();
                let client = self
                    .clients
                    .get(p.client as usize)
                    .map(|c| c.id.clone())
                    .unwrap_or_default();
                (user, client)
            })
            .collect()
    }

    /// ACTIVE tokens of a pair named by ids.
    pub(crate) fn tokens(&self, user: &str, client: &str) -> Vec<SimToken> {
        match self.resolve(user, client) {
            Ok(Some(pair)) => self.active(pair),
            _ => Vec::new(),
        }
    }

    /// Every ACTIVE token.
    pub(crate) fn all_tokens(&self) -> Vec<SimToken> {
        (0..self.pairs.len())
            .flat_map(|i| self.active(idx(i)))
            .collect()
    }
}
