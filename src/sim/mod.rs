//! The simulated Okta org: a stateful, deterministic, in-process fake of the Okta Management
//! API operations revokd uses (`/api/v1/users/{userId}/clients…`), served by axum on
//! `127.0.0.1:0`. It honours the contract in `shared/okta/README.md` (snake_case clients,
//! camelCase tokens, `Link` pagination, `expand=scope`, Okta error bodies) and the rate-limit
//! behaviour in `shared/okta/FACTS.md` §1 (per-bucket windows, `X-Rate-Limit-*` headers, the
//! concurrency 429), and it can inject faults. Tests, the benchmark and `revokd demo` run
//! against it and assert on its state (which tokens are gone, how many 429s were served).
//! It must never be used against, or pretend to be, a real org: it binds loopback only.

mod app_tokens;
mod buckets;
mod conn;
mod faults;
mod hooks;
mod json_text;
pub(crate) mod jws;
mod limits;
mod listing;
mod oauth;
mod oauth_grant;
mod oauth_keys;
mod record;
mod render;
mod reply;
mod routes;
mod seed;
mod server;
mod store;
mod syslog;
mod types;
mod usage;
mod user_clients;
mod users;

#[cfg(test)]
mod tests_api;
#[cfg(test)]
mod tests_app_tokens;
#[cfg(test)]
mod tests_faults;
#[cfg(test)]
mod tests_limits;
#[cfg(test)]
mod tests_lists_revoked;
#[cfg(test)]
mod tests_oauth;
#[cfg(test)]
mod tests_token_shape;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::oneshot;

pub use buckets::{BucketModel, SimBucket, USER_WRITES_SHARE, WindowStats};
pub use types::{
    Fault, FaultKind, LinkStyle, RequestRecord, RevokeHow, RevokedToken, RouteKind, SimStats,
    SimToken,
};
pub use types::{OAuthStats, ServiceApp};

pub use hooks::{Delivery, OKTA_HOOK_TIMEOUT, hook_body};
pub use usage::OnUse;

use server::Shared;

/// How the simulated org is seeded and how it behaves.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Seed of every generated id and timestamp: the same config (and `now`) gives the same org.
    pub seed: u64,
    /// The instant token timestamps are generated relative to.
    pub now: DateTime<Utc>,
    /// Number of users (`00u…`).
    pub users: usize,
    /// Number of OAuth clients (`0oa…`).
    pub clients: usize,
    /// Distinct user/client pairs to seed; clamped to `users × clients`.
    pub pairs: usize,
    /// How many of the pairs get 250..=600 tokens (so paging matters); the rest get 0..=3.
    pub big_pairs: usize,
    /// The SSWS token the sim accepts (`Authorization: SSWS <api_token>`).
    pub api_token: String,
    /// Requests per bucket per window. `0` and `u32::MAX` both mean unlimited; the headers
    /// then report a limit of `u32::MAX`.
    pub rate_limit_per_window: u32,
    /// Requests per window of the `/api/v1/apps*` bucket (ApplicationTokens); `None` means
    /// the same as `rate_limit_per_window`.
    pub apps_rate_limit_per_window: Option<u32>,
    /// Requests per window of the System Log bucket (`/api/v1/logs`); `None` means the same
    /// as `rate_limit_per_window`. Okta's published table makes it a tenth of most others.
    pub logs_rate_limit_per_window: Option<u32>,
    /// Rate-limit window length (Okta: 60 s). Windows start at a bucket's first request.
    pub window: Duration,
    /// Which routes share a bucket.
    pub bucket_model: BucketModel,
    /// Simultaneous requests admitted; one more gets Okta's concurrency 429.
    pub concurrency_limit: usize,
    /// Delay added to every request while it counts as in flight.
    pub latency: Duration,
    /// How `Link` relations are sent.
    pub link_style: LinkStyle,
    /// How far Okta's clock is ahead of this host's (behind when negative), in seconds: the
    /// `Date` and `X-Rate-Limit-Reset` headers are both on Okta's clock, and a client must
    /// wait `Reset − Date`, never `Reset −` its own clock.
    pub clock_skew_secs: i64,
    /// Keep a log of requests for [`SimOrg::requests`]. Turn off for large benchmarks; when on,
    /// only the most recent [`REQUEST_LOG_CAPACITY`] requests are kept.
    pub record_requests: bool,
    /// OAuth service apps the token endpoint (`POST /oauth2/v1/token`) knows.
    pub service_apps: Vec<ServiceApp>,
    /// Lifetime of the access tokens it issues (Okta: one hour; tests use seconds).
    pub access_token_lifetime: Duration,
    /// How many of the seeded clients (the first ones) are apps whose instance id differs
    /// from their `client_id`, as when the `client_id` was set by hand at creation: the
    /// ApplicationTokens routes take the app id, every other route and every token the
    /// client id. The others keep Okta's default, one id for both.
    pub distinct_app_ids: usize,
    /// Keep a revoked token in listings and `GET …/tokens/{id}` with `status` `REVOKED`.
    /// Okta's contract gives the status as `ACTIVE` or `REVOKED` without saying whether a
    /// revoked token stays listed; by default the sim drops it at once.
    pub lists_revoked: bool,
    /// Page `GET /api/v1/users/{id}/clients` this many clients at a time, with `Link: next`.
    /// Okta's contract documents one array and no paging; `None` (the default) sends that.
    pub user_clients_page: Option<usize>,
    /// List in `GET /api/v1/users/{id}/clients` only the clients the user holds a token
    /// for, so a client leaves the list with the user's last token of it. Okta documents
    /// "clients for which the specified user has grants or tokens" and the sim keeps no
    /// grants; by default it lists every client the user was seeded with, as a grant would.
    pub user_clients_held_only: bool,
    /// Clients `GET /api/v1/users/{id}/clients` never names, though users hold their tokens
    /// (whether that list covers every authorization server's tokens is not published).
    pub user_clients_unlisted: Vec<String>,
    /// Send tokens without `clientId`. Every field of Okta's `OAuth2RefreshToken` schema is
    /// optional; by default the sim sends it, as Okta's examples do.
    pub omit_client_id: bool,
    /// Send tokens without `status`, active and revoked alike. The schema marks no field
    /// required, so a token listed with no status must never count as proof it was revoked.
    pub omit_status: bool,
}

/// Most requests [`SimOrg::requests`] remembers; older ones are dropped first.
pub const REQUEST_LOG_CAPACITY: usize = 100_000;

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 1,
            now: Utc::now(),
            users: 20,
            clients: 5,
            pairs: 40,
            big_pairs: 2,
            api_token: "sim-api-token".to_owned(),
            rate_limit_per_window: 1200,
            apps_rate_limit_per_window: None,
            logs_rate_limit_per_window: None,
            window: Duration::from_secs(60),
            bucket_model: BucketModel::PerRoute,
            concurrency_limit: 75,
            latency: Duration::ZERO,
            link_style: LinkStyle::Separate,
            clock_skew_secs: 0,
            record_requests: true,
            service_apps: Vec::new(),
            access_token_lifetime: Duration::from_secs(3600),
            distinct_app_ids: 0,
            lists_revoked: false,
            user_clients_page: None,
            user_clients_held_only: false,
            user_clients_unlisted: Vec::new(),
            omit_client_id: false,
            omit_status: false,
        }
    }
}

/// Handle on a running simulated org. Clones share one server, which stops when the last clone
/// is dropped or on [`SimOrg::shutdown`].
#[derive(Clone)]
pub struct SimOrg {
    handle: Arc<Handle>,
}

impl std::fmt::Debug for SimOrg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimOrg")
            .field("base_url", &self.handle.shared.base_url.as_str())
            .finish_non_exhaustive()
    }
}

struct Handle {
    shared: Arc<Shared>,
    stop: std::sync::Mutex<Option<oneshot::Sender<()>>>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.stop_server();
    }
}

impl Handle {
    fn stop_server(&self) {
        let sender = self
            .stop
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(sender) = sender {
            // The server may already be gone; nothing to do then.
            let _ = sender.send(());
        }
    }
}

impl SimOrg {
    /// Seed the org and serve it on `127.0.0.1:0`. The listener is bound before the server
    /// task is spawned, so the org accepts requests as soon as this returns.
    pub async fn start(config: SimConfig) -> std::io::Result<SimOrg> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let port = listener.local_addr()?.port();
        let base_url = url::Url::parse(&format!("http://127.0.0.1:{port}/"))
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        let shared = Arc::new(Shared::new(config, base_url).map_err(std::io::Error::other)?);
        let (stop_tx, stop_rx) = oneshot::channel();
        server::spawn(conn::SimListener(listener), shared.clone(), stop_rx);
        Ok(SimOrg {
            handle: Arc::new(Handle {
                shared,
                stop: std::sync::Mutex::new(Some(stop_tx)),
            }),
        })
    }

    /// Stop accepting requests; connections still open finish their current request.
    pub fn shutdown(&self) {
        self.handle.stop_server();
    }

    /// The org's base URL, `http://127.0.0.1:PORT/`.
    pub fn base_url(&self) -> url::Url {
        self.handle.shared.base_url.clone()
    }

    /// Every (user_id, client_id) pair, including those with no tokens, in seeding order;
    /// pairs first created by [`SimOrg::add_token`] follow the seeded ones.
    pub fn pairs(&self) -> Vec<(String, String)> {
        self.handle.shared.store().pairs()
    }

    /// The ACTIVE tokens of one pair, in listing order (by id).
    pub fn tokens(&self, user: &str, client: &str) -> Vec<SimToken> {
        self.handle.shared.store().tokens(user, client)
    }

    /// Every ACTIVE token, pair by pair.
    pub fn all_tokens(&self) -> Vec<SimToken> {
        self.handle.shared.store().all_tokens()
    }

    /// The app instance id of the client `client_id` (its `client_id` unless
    /// [`SimConfig::distinct_app_ids`] gave it another), or `None` for an unknown client.
    pub fn app_id(&self, client_id: &str) -> Option<String> {
        let store = self.handle.shared.store();
        let i = store.client(client_id)?;
        store.clients.get(i as usize).map(|c| c.app_id.clone())
    }

    /// Every token revoked through the API, in revocation order.
    pub fn revoked(&self) -> Vec<RevokedToken> {
        self.handle.shared.store().revoked.clone()
    }

    /// Revokes one token as another admin would, outside revokd (no request is served);
    /// `false` when the org holds no such ACTIVE token.
    pub fn revoke_out_of_band(&self, user: &str, client: &str, token: &str) -> bool {
        let mut store = self.handle.shared.store();
        match store.resolve(user, client) {
            Ok(Some(pair)) => store.revoke_one(pair, token, chrono::Utc::now()),
            _ => false,
        }
    }

    /// Counters of what the org has served so far.
    pub fn stats(&self) -> SimStats {
        self.handle.shared.stats()
    }

    /// How many requests `HangBefore` / `HangAfter` faults have parked so far.
    pub fn hung(&self) -> u64 {
        self.handle
            .shared
            .hung
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Waits until at least `n` requests have been parked by hang faults.
    pub async fn until_hung(&self, n: u64) {
        loop {
            let signal = self.handle.shared.hung_signal.notified();
            if self.hung() >= n {
                return;
            }
            signal.await;
        }
    }

    /// What every rate-limit window has seen so far, by bucket: finished windows first.
    pub fn windows(&self) -> Vec<WindowStats> {
        self.handle.shared.limits.windows()
    }

    /// The request log (empty when `record_requests` is off), in order of arrival. A request
    /// is logged when it arrives and its status filled in when the org decides it.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.handle.shared.requests()
    }

    /// Add a fault; it applies to matching requests until its `times` run out.
    pub fn inject(&self, fault: Fault) {
        self.handle.shared.faults.inject(fault);
    }

    /// Remove every pending fault.
    pub fn clear_faults(&self) {
        self.handle.shared.faults.clear();
    }

    /// Add (or replace, by id within its pair) an ACTIVE token. Unknown users, clients and
    /// pairs are created, so a test can make a token "come back" after revocation.
    pub fn add_token(&self, token: SimToken) {
        self.handle.shared.store().add(token);
    }

    /// The token endpoint, `http://127.0.0.1:PORT/oauth2/v1/token`.
    pub fn token_url(&self) -> String {
        format!("{}oauth2/v1/token", self.handle.shared.base_url)
    }

    /// Register (or replace) an OAuth service app; errors if its public key does not parse.
    pub fn register_service_app(&self, app: &ServiceApp) -> Result<(), String> {
        self.handle.shared.oauth.register(app)
    }

    /// What the token endpoint and the access-token check have done so far.
    pub fn oauth_stats(&self) -> OAuthStats {
        self.handle.shared.oauth.stats()
    }

    /// Refuse the next `n` otherwise valid token requests as replays (`invalid_client`,
    /// "jti already used"), as if their assertions had been seen before.
    pub fn treat_next_assertions_as_replayed(&self, n: u32) {
        self.handle.shared.oauth.treat_next_as_replayed(n);
    }

    /// Make every access token issued so far expired (the next API call with one gets 401).
    pub fn expire_access_tokens(&self) {
        self.handle.shared.oauth.expire_access_tokens();
    }

    /// Every client assertion received and access token issued so far: the credentials a
    /// test can search logs and databases for.
    pub fn credentials_seen(&self) -> Vec<String> {
        self.handle.shared.oauth.credentials_seen()
    }

    /// Let "other integrations" consume `fraction` (0.0..=1.0) of every bucket's budget at the
    /// start of each window, from the next window on.
    pub fn set_background_load(&self, fraction: f64) {
        self.handle.shared.limits.set_background_load(fraction);
    }
}
