//! The Okta HTTP client: one reqwest client built once (rustls, timeouts, no redirects,
//! `User-Agent: revokd/<version>`, `Accept: application/json`), authentication per
//! [`super::auth`] (headers marked sensitive; under OAuth a 401 renews the token and retries
//! once), retries per [`super::retry`], capped bodies,
//! and the operations revokd needs on `/api/v1/users/{userId}/clients…`. It talks HTTP only:
//! no storage, no policy, no logging of errors (callers log them once, where handled).
//!
//! This file holds the client's settings and construction; `client/request.rs` sends one logical
//! request (auth, budget, retries, body cap) and `client/tokens.rs` holds the token listings and
//! look-ups built on it.

mod request;
mod tokens;
mod users;

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{ACCEPT, HeaderMap, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

pub use super::auth::Auth;
use super::auth::{Authorizer, oauth_from_config};
use super::concurrency::Aimd;
use super::error::Error;
use super::ratelimit::{Budget, BudgetSettings};
use super::retry::RetryPolicy;
use super::stats::HttpStats;
use crate::config::{self, AuthMode, OktaConfig};
pub use tokens::{RawTokenPage, TokenLookup, TokenPage, TokenPages};
pub use users::{UserLifecycle, UserStatus};

/// Okta's largest page for token listings.
pub const MAX_PAGE_SIZE: u32 = 200;
/// Largest response body read; a page of 200 tokens is well under 1 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
/// Pages followed in one listing before giving up (200 × 10,000 = two million tokens a pair).
pub const MAX_PAGES: usize = 10_000;

/// Client settings, from `[okta]`.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub page_size: u32,
    pub retry: RetryPolicy,
    pub budget: BudgetSettings,
    /// Requests in flight at most; lowered adaptively on Okta's concurrency 429.
    pub concurrency: usize,
    pub max_body_bytes: usize,
}

impl Default for ClientSettings {
    fn default() -> Self {
        ClientSettings {
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            page_size: MAX_PAGE_SIZE,
            retry: RetryPolicy::default(),
            budget: BudgetSettings::default(),
            concurrency: 8,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }
}

/// A client for one Okta org. Cheap to clone; clones share the connection pool and counters.
#[derive(Debug, Clone)]
pub struct OktaClient {
    http: reqwest::Client,
    base: Url,
    auth: Authorizer,
    settings: ClientSettings,
    budget: Arc<Budget>,
    aimd: Arc<Aimd>,
    stats: Arc<HttpStats>,
}

/// The SSWS API token, refused (naming the key it came from, never its value) when an HTTP
/// header cannot carry it: a line break or a control character, e.g. a comment line left in
/// its file.
fn ssws_token(okta: &OktaConfig) -> Result<SecretString, config::Error> {
    let token = (okta.api_token.clone())
        .ok_or_else(|| config::Error::invalid("okta.api_token", "required with auth = \"ssws\""))?;
    let key = match okta.api_token_file {
        Some(_) => "okta.api_token_file",
        None => "okta.api_token",
    };
    if HeaderValue::from_str(token.expose_secret()).is_err() {
        return Err(config::Error::invalid(
            key,
            "the token holds characters an HTTP header cannot carry (a line break or a \
             control character; value not shown)",
        ));
    }
    Ok(token)
}

impl OktaClient {
    /// Builds the client. `base_url` is the org URL (`https://{yourOktaDomain}`); tests point
    /// it at the simulated org.
    pub fn new(base_url: Url, auth: &Auth, settings: ClientSettings) -> Result<Self, Error> {
        let mut defaults = HeaderMap::new();
        defaults.insert(ACCEPT, HeaderValue::from_static("application/json"));
        let http = reqwest::Client::builder()
            .user_agent(concat!(
                env!("CARGO_PKG_NAME"),
                "/",
                env!("CARGO_PKG_VERSION")
            ))
            .default_headers(defaults)
            .timeout(settings.timeout)
            .connect_timeout(settings.connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(Error::Transport)?;
        let auth = Authorizer::new(auth, &base_url, &settings.retry)?;
        let budget = Arc::new(Budget::new(settings.budget));
        let settings_concurrency = settings.concurrency;
        Ok(OktaClient {
            http,
            base: base_url,
            auth,
            settings,
            budget,
            aimd: Arc::new(Aimd::new(settings_concurrency)),
            stats: Arc::default(),
        })
    }

    /// Carries `old`'s pacing into this client, under this client's settings: what is known
    /// of each rate-limit bucket and revokd's requests in flight to any of them. A reload
    /// builds a new client; with this, the process keeps one view of Okta's buckets, so runs
    /// on the old and the new configuration together still take no more than one share.
    pub fn carry_pacing_from(&mut self, old: &OktaClient) {
        old.budget.put_in_force(self.settings.budget);
        self.budget = Arc::clone(&old.budget);
    }

    /// The client `[okta]` describes. Configuration problems name their key.
    pub fn from_config(okta: &OktaConfig) -> Result<Self, config::Error> {
        let org = okta.org_url.as_deref().unwrap_or_default();
        let base =
            Url::parse(org).map_err(|e| config::Error::invalid("okta.org_url", e.to_string()))?;
        let auth = match okta.auth {
            AuthMode::Oauth => oauth_from_config(okta)?,
            AuthMode::Ssws => Auth::Ssws(ssws_token(okta)?),
        };
        let settings = ClientSettings {
            timeout: okta.timeout,
            page_size: okta.page_size,
            retry: RetryPolicy {
                max_retries: okta.max_retries,
                min_backoff: okta.min_backoff,
                max_backoff: okta.max_backoff,
                rate_limit_jitter: okta.max_backoff.min(Duration::from_secs(1)),
            },
            budget: BudgetSettings {
                max_share: okta.rate_limit.max_share,
                requests_per_minute: okta.rate_limit.requests_per_minute,
                // A window is at most a minute; this only guards against a bogus Reset.
                max_wait: Duration::from_secs(120),
            },
            concurrency: okta.concurrency,
            ..ClientSettings::default()
        };
        OktaClient::new(base, &auth, settings).map_err(|e| {
            config::Error::invalid("okta", format!("cannot build the HTTP client: {e}"))
        })
    }

    /// A clone that counts into fresh counters (one per sweep).
    pub fn with_fresh_stats(&self) -> (OktaClient, Arc<HttpStats>) {
        let stats = Arc::new(HttpStats::default());
        (
            OktaClient {
                stats: Arc::clone(&stats),
                ..self.clone()
            },
            stats,
        )
    }

    /// The org URL.
    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// Tokens asked for per page.
    pub(super) fn page_size(&self) -> u32 {
        self.settings.page_size
    }

    pub(super) fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        url.set_query(None);
        if let Ok(mut path) = url.path_segments_mut() {
            path.clear().extend(segments);
        }
        url
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::okta::{ClientId, UserId};
    use secrecy::SecretString;

    #[test]
    fn debug_output_never_shows_the_token() {
        let auth = Auth::Ssws(SecretString::from("00SECRETsecret-token-value"));
        let client = OktaClient::new(
            Url::parse("https://o.okta.com").unwrap(),
            &auth,
            ClientSettings::default(),
        )
        .unwrap();
        let shown = format!("{auth:?} {client:?}");
        assert!(!shown.contains("00SECRET"), "{shown}");
    }

    #[test]
    fn a_client_built_by_a_reload_paces_with_the_buckets_of_the_one_before() {
        let auth = Auth::Ssws(SecretString::from("t"));
        let url = Url::parse("https://o.okta.com/").unwrap();
        let old = OktaClient::new(url.clone(), &auth, ClientSettings::default()).unwrap();
        let mut new = OktaClient::new(url, &auth, ClientSettings::default()).unwrap();
        assert!(!Arc::ptr_eq(&old.budget, &new.budget));
        new.carry_pacing_from(&old);
        assert!(Arc::ptr_eq(&old.budget, &new.budget));
    }

    #[test]
    fn ids_are_placed_as_path_segments_with_expand_and_limit() {
        let auth = Auth::Ssws(SecretString::from("t"));
        let client = OktaClient::new(
            Url::parse("https://o.okta.com/").unwrap(),
            &auth,
            ClientSettings::default(),
        )
        .unwrap();
        let url = client.first_tokens_page(
            &UserId::new("00u1").unwrap(),
            &ClientId::new("0oa2").unwrap(),
        );
        assert_eq!(
            url.as_str(),
            "https://o.okta.com/api/v1/users/00u1/clients/0oa2/tokens?expand=scope&limit=200"
        );
    }
}
