//! Deterministic seeding of the org from [`SimConfig`]: one `StdRng` seeded from
//! `config.seed` draws every id and timestamp in a fixed order, so the same config and `now`
//! always give the same org. Timestamps are whole milliseconds so they round-trip through
//! Okta's `2018-03-09T03:18:06.000Z` text exactly. Tokens are never already expired: Okta does
//! not list expired tokens as ACTIVE.

use std::collections::{HashMap, HashSet};

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use super::SimConfig;
use super::store::{NO_EXPIRY, Store, TokenData};

const ALNUM: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const DAY_MS: i64 = 86_400_000;

/// Scopes a seeded token may carry besides `offline_access`.
pub(crate) const SCOPE_CATALOG: &[&str] = &[
    "openid",
    "profile",
    "email",
    "okta.users.read",
    "okta.users.manage",
    "admin:write",
    "payments:read",
    "payments:write",
    "reports:read",
];

const CLIENT_NAMES: &[&str] = &[
    "Expense Tracker",
    "Payroll Portal",
    "CI Deployer",
    "Mobile Banking",
    "Data Warehouse Sync",
    "Support Desk",
    "Analytics CLI",
    "Legacy CRM",
];

/// An Okta-style id: `prefix` followed by alphanumerics up to 20 characters.
pub(crate) fn okta_id(rng: &mut StdRng, prefix: &str) -> String {
    let mut id = String::with_capacity(20);
    id.push_str(prefix);
    // Ten base-62 digits per u64 draw: seeding a million tokens spends most of its time here.
    let base = ALNUM.len() as u64;
    while id.len() < 20 {
        let mut x: u64 = rng.random();
        for _ in 0..10 {
            if id.len() >= 20 {
                break;
            }
            let digit = usize::try_from(x % base).unwrap_or(0);
            id.push(char::from(ALNUM[digit]));
            x /= base;
        }
    }
    id
}

/// A stable `scp…` id for a scope name, so names added by tests get ids too.
pub(crate) fn scope_id(name: &str) -> String {
    // FNV-1a: stable across runs and platforms, unlike `DefaultHasher`.
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    okta_id(&mut StdRng::seed_from_u64(hash), "scp")
}

/// Choose `n` distinct (user, client) index pairs in a deterministic order.
fn choose_pairs(rng: &mut StdRng, users: usize, clients: usize, n: usize) -> Vec<(usize, usize)> {
    let total = users.saturating_mul(clients);
    let n = n.min(total);
    if n.saturating_mul(2) >= total {
        let mut all: Vec<(usize, usize)> = (0..users)
            .flat_map(|u| (0..clients).map(move |c| (u, c)))
            .collect();
        all.shuffle(rng);
        all.truncate(n);
        return all;
    }
    // Sparse: rejection sampling terminates quickly because at most half are taken.
    let mut seen = HashSet::with_capacity(n);
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let p = (rng.random_range(0..users), rng.random_range(0..clients));
        if seen.insert(p) {
            out.push(p);
        }
    }
    out
}

/// Build the org's store from `config`; `base` is the org origin without a trailing slash.
pub(crate) fn seed(config: &SimConfig, base: &str) -> Store {
    let mut rng = StdRng::seed_from_u64(config.seed);
    let mut store = Store::default();
    store.lists_revoked = config.lists_revoked;
    store.user_clients_page = config.user_clients_page;
    store.user_clients_held_only = config.user_clients_held_only;
    store
        .user_clients_unlisted
        .clone_from(&config.user_clients_unlisted);
    store.omit_client_id = config.omit_client_id;
    store.omit_status = config.omit_status;
    let now_ms = config.now.timestamp_millis();

    let users: Vec<u32> = (0..config.users)
        .map(|_| store.add_user(&okta_id(&mut rng, "00u")))
        .collect();
    let clients: Vec<u32> = (0..config.clients)
        .map(|i| {
            let id = okta_id(&mut rng, "0oa");
            let name = CLIENT_NAMES
                .get(i % CLIENT_NAMES.len())
                .copied()
                .unwrap_or("App");
            let name = if i < CLIENT_NAMES.len() {
                name.to_owned()
            } else {
                format!("{name} {i}")
            };
            store.add_client(&id, &name)
        })
        .collect();
    for (n, &client) in clients.iter().take(config.distinct_app_ids).enumerate() {
        store.set_app_id(client, &format!("0oaApp{n:014}"));
    }
    let issuers: Vec<u32> = (0..2)
        .map(|_| store.intern_issuer(&format!("{base}/oauth2/{}", okta_id(&mut rng, "aus"))))
        .collect();
    for name in std::iter::once("offline_access").chain(SCOPE_CATALOG.iter().copied()) {
        store.scope_ids.insert(name.to_owned(), scope_id(name));
    }

    let mut scope_cache = HashMap::new();
    let chosen = choose_pairs(&mut rng, users.len(), clients.len(), config.pairs);
    for (n, (u, c)) in chosen.into_iter().enumerate() {
        let (Some(&user), Some(&client)) = (users.get(u), clients.get(c)) else {
            continue;
        };
        let pair = store.add_pair(user, client);
        let count = if n < config.big_pairs {
            rng.random_range(250..=600)
        } else {
            rng.random_range(0..=3)
        };
        // A client talks to one authorization server, as in real orgs.
        let issuer = issuers.get(c % issuers.len()).copied().unwrap_or(0);
        let mut made = 0;
        while made < count {
            let id = okta_id(&mut rng, "oar");
            let data = token_data(&mut rng, &mut store, &mut scope_cache, issuer, now_ms);
            if store.insert_data(pair, id.into_boxed_str(), data) {
                made += 1;
            }
        }
    }
    store
}

fn token_data(
    rng: &mut StdRng,
    store: &mut Store,
    scope_cache: &mut HashMap<u16, u32>,
    issuer: u32,
    now_ms: i64,
) -> TokenData {
    let created_ms = now_ms - rng.random_range(0..400 * DAY_MS);
    let updated_ms = created_ms + rng.random_range(0..=now_ms - created_ms);
    let expires_ms = if rng.random_bool(0.1) {
        NO_EXPIRY
    } else {
        let lifetime = rng.random_range(30 * DAY_MS..=365 * DAY_MS);
        let at = updated_ms + lifetime;
        // An expired token is not ACTIVE in Okta; give it a little life left instead.
        if at > now_ms {
            at
        } else {
            now_ms + rng.random_range(3_600_000..=30 * DAY_MS)
        }
    };
    let extra = rng.random_range(0..=3usize);
    let mut mask = 0u16;
    while (mask.count_ones() as usize) < extra {
        mask |= 1 << rng.random_range(0..SCOPE_CATALOG.len());
    }
    // Interning hashes whole scope lists; a cache by bitmask keeps a 1M-token seed fast.
    let scopes = *scope_cache.entry(mask).or_insert_with(|| {
        let names = std::iter::once("offline_access")
            .chain(
                SCOPE_CATALOG
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| mask & (1 << i) != 0)
                    .map(|(_, s)| *s),
            )
            .map(str::to_owned)
            .collect::<Vec<_>>();
        store.intern_scopes(&names)
    });
    TokenData {
        issuer,
        scopes,
        created_ms,
        updated_ms,
        expires_ms,
    }
}
