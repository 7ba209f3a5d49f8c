//! `[okta]` and `[okta.rate_limit]`: how revokd reaches the org (URL, SSWS or OAuth service
//! app credentials), how it pages, and how patiently it retries and paces itself. Shape and
//! defaults only; `validate.rs` checks the values.

use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

use super::duration;

/// How revokd authenticates to Okta.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    /// `Authorization: SSWS <api token>`.
    #[default]
    Ssws,
    /// OAuth 2.0 service app (client credentials, `private_key_jwt`).
    Oauth,
}

/// `[okta]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OktaConfig {
    /// `https://{yourOktaDomain}`; plain http only for loopback hosts.
    pub org_url: Option<String>,
    pub auth: AuthMode,
    /// SSWS API token. Prefer `api_token_file`.
    pub api_token: Option<SecretString>,
    /// A file holding the SSWS API token (pairs with systemd `LoadCredential=`).
    pub api_token_file: Option<PathBuf>,
    pub client_id: Option<String>,
    pub private_key_file: Option<PathBuf>,
    pub key_id: Option<String>,
    pub scopes: Vec<String>,
    pub dpop: bool,
    /// Tokens per page, 1..=200 (Okta's maximum).
    pub page_size: u32,
    /// Requests in flight at most.
    pub concurrency: usize,
    /// Whole-request timeout.
    #[serde(with = "duration::human")]
    pub timeout: Duration,
    /// Retries after the first attempt, for 429, 5xx and transport faults.
    pub max_retries: u32,
    /// Floor of every backoff wait.
    #[serde(with = "duration::human")]
    pub min_backoff: Duration,
    /// Ceiling of every backoff wait, including 429 waits.
    #[serde(with = "duration::human")]
    pub max_backoff: Duration,
    pub rate_limit: RateLimitConfig,
}

impl Default for OktaConfig {
    fn default() -> Self {
        OktaConfig {
            org_url: None,
            auth: AuthMode::Ssws,
            api_token: None,
            api_token_file: None,
            client_id: None,
            private_key_file: None,
            key_id: None,
            scopes: vec!["okta.users.read".into(), "okta.users.manage".into()],
            dpop: false,
            page_size: 200,
            concurrency: 8,
            timeout: Duration::from_secs(30),
            max_retries: 4,
            min_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(90),
            rate_limit: RateLimitConfig::default(),
        }
    }
}

/// `[okta.rate_limit]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitConfig {
    /// Largest fraction of any bucket's limit revokd may use, in (0, 1].
    pub max_share: f64,
    /// Optional fixed cap on requests per minute, across all buckets.
    pub requests_per_minute: Option<u32>,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            max_share: 0.5,
            requests_per_minute: None,
        }
    }
}

impl AuthMode {
    /// The spelling of `okta.auth`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMode::Ssws => "ssws",
            AuthMode::Oauth => "oauth",
        }
    }
}

impl OktaConfig {
    /// The keys set that `auth` ignores: the OAuth keys under `ssws`, the API token under
    /// `oauth`. `config check` warns of each, since the user clearly meant them to count.
    pub fn ignored_keys(&self) -> Vec<&'static str> {
        let set = |on: bool, key: &'static str| on.then_some(key);
        match self.auth {
            AuthMode::Ssws => [
                set(self.client_id.is_some(), "okta.client_id"),
                set(self.private_key_file.is_some(), "okta.private_key_file"),
                set(self.key_id.is_some(), "okta.key_id"),
                set(self.dpop, "okta.dpop"),
            ]
            .into_iter()
            .flatten()
            .collect(),
            AuthMode::Oauth => [
                set(self.api_token.is_some(), "okta.api_token"),
                set(self.api_token_file.is_some(), "okta.api_token_file"),
            ]
            .into_iter()
            .flatten()
            .collect(),
        }
    }
}
