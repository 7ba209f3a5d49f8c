//! Configuration: the typed shape of `revokd.toml`, loaded by figment in one explicit order
//! (field defaults → TOML file → `REVOKD_…` environment with `__` nesting) and validated before
//! anything else runs. Owns no IO beyond reading the config and `*_file` secrets; never
//! `Serialize`, so secrets cannot leak through a dump of it (see [`redacted`] for the view
//! `revokd config check` prints).

pub mod cron;
mod database;
pub mod duration;
mod hook_secret;
mod load;
mod notify;
mod notify_event;
mod okta;
pub mod redacted;
pub mod size;
mod targets;
mod urls;
mod validate;

pub use load::{Needs, Overrides, cannot_read, database_url, load, load_for};
pub use notify::NotifyConfig;
pub use notify_event::{EventKind, Format};
pub use okta::{AuthMode, OktaConfig, RateLimitConfig};
pub use redacted::effective_toml;
pub(crate) use validate::check_id;
pub use validate::{validate, validate_local};

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

/// A configuration error. Every variant names the offending key.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// figment could not read or deserialize a source; its message names the key and source.
    #[error(transparent)]
    Figment(#[from] Box<figment::Error>),
    /// A value parsed but is not acceptable.
    #[error("{key}: {message}")]
    Invalid { key: String, message: String },
}

impl Error {
    pub(crate) fn invalid(key: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Invalid {
            key: key.into(),
            message: message.into(),
        }
    }
}

/// Whether a sweep only records what it would revoke, or revokes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, sqlx::Type)]
#[serde(rename_all = "kebab-case")]
#[sqlx(rename_all = "kebab-case")]
pub enum Mode {
    /// Plan and record (`planned`), revoke nothing. The default: safe by default.
    #[default]
    DryRun,
    /// Revoke what policy selects.
    Enforce,
}

impl Mode {
    /// The spelling used in config, the database and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::DryRun => "dry-run",
            Mode::Enforce => "enforce",
        }
    }
}

/// The whole configuration.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub mode: Mode,
    pub okta: OktaConfig,
    pub database: DatabaseConfig,
    pub schedule: ScheduleConfig,
    pub safety: SafetyConfig,
    pub server: ServerConfig,
    pub revocation: RevocationConfig,
    pub offboarding: OffboardingConfig,
    pub reports: ReportsConfig,
    pub targets: Vec<TargetConfig>,
    pub policies: Vec<PolicyConfig>,
    pub exemptions: Vec<ExemptionConfig>,
    pub notify: Vec<NotifyConfig>,
}

/// The annotated example configuration (`config/revokd.toml`), every key with its default.
pub const EXAMPLE: &str = include_str!("../../config/revokd.toml");

impl Config {
    /// Checks the configuration; see [`validate()`].
    pub fn validate(&self) -> Result<(), Error> {
        validate(self)
    }

    /// Every `(user, client)` pair the targets name: `user` + `client` as one pair,
    /// `users` × `clients` expanded users-major; de-duplicated, in config order.
    pub fn target_pairs(&self) -> Vec<(String, String)> {
        let mut seen = std::collections::HashSet::new();
        let mut pairs = Vec::new();
        for t in &self.targets {
            let single = t.user.iter().zip(t.client.iter());
            let cross = t
                .users
                .iter()
                .flat_map(|u| t.clients.iter().map(move |c| (u, c)));
            for (u, c) in single.chain(cross) {
                if seen.insert((u.as_str(), c.as_str())) {
                    pairs.push((u.clone(), c.clone()));
                }
            }
        }
        pairs
    }
}

/// `[database]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// A sqlx SQLite URL, e.g. `sqlite://revokd.db`.
    pub url: String,
    /// How long token snapshots are kept.
    #[serde(with = "duration::human")]
    pub snapshot_retention: Duration,
    /// How long a statement waits for another process's lock before failing (`SQLITE_BUSY`).
    #[serde(with = "duration::human")]
    pub busy_timeout: Duration,
    /// Largest size of the database file in bytes (written `512MiB`, `2GiB`); reaching it
    /// fails writes exactly as a full disk does. `None`: unlimited.
    #[serde(with = "size::human_opt")]
    pub max_size: Option<u64>,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: "sqlite://revokd.db".into(),
            snapshot_retention: Duration::from_secs(400 * 86_400),
            busy_timeout: Duration::from_secs(10),
            max_size: None,
        }
    }
}

/// `[schedule]`: six-field cron expressions, seconds first, UTC.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScheduleConfig {
    pub sweep: String,
    pub prune: String,
    pub report: Option<String>,
    /// Whether `revokd run` sweeps once as soon as it has started, before the first tick.
    pub sweep_on_start: bool,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        ScheduleConfig {
            sweep: "0 0 * * * *".into(),
            prune: "0 30 3 * * *".into(),
            report: None,
            sweep_on_start: false,
        }
    }
}

/// `[safety]`: the blast-radius guard.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SafetyConfig {
    /// Above this many planned revocations, a sweep revokes nothing.
    pub max_revocations_per_sweep: u64,
    /// Above this fraction of the active tokens seen, a sweep revokes nothing. In (0, 1].
    pub max_revocation_fraction: f64,
    /// Automatic offboarding (event hook, System Log) of more users than this in an hour:
    /// further jobs are `held` until `revokd offboard release`.
    pub max_offboarded_users_per_hour: u64,
    /// How long a process that must revoke waits for another enforcer to finish before it
    /// gives up (exit 1, naming the holder).
    #[serde(with = "duration::human")]
    pub enforcer_wait: Duration,
}

impl Default for SafetyConfig {
    fn default() -> Self {
        SafetyConfig {
            max_revocations_per_sweep: 500,
            max_revocation_fraction: 0.5,
            max_offboarded_users_per_hour: 50,
            enforcer_wait: Duration::from_secs(60),
        }
    }
}

/// `[server]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub hook_secret: Option<SecretString>,
    pub hook_secret_file: Option<PathBuf>,
    /// Accepted as well as `hook_secret` while the hook's secret is rotated: Okta sends the
    /// old one until its hook is updated, and never retries a delivery refused.
    pub hook_secret_previous: Option<SecretString>,
    pub hook_secret_previous_file: Option<PathBuf>,
    /// On SIGTERM/SIGINT, how long an in-flight run may take to finish before it is cut
    /// (its sweep row then says `aborted`).
    #[serde(with = "duration::human")]
    pub shutdown_timeout: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 9464)),
            hook_secret: None,
            hook_secret_file: None,
            hook_secret_previous: None,
            hook_secret_previous_file: None,
            shutdown_timeout: Duration::from_secs(30),
        }
    }
}

/// `[revocation]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RevocationConfig {
    /// Attempts before a revocation is recorded `irrevocable`.
    pub max_attempts: u32,
}

impl Default for RevocationConfig {
    fn default() -> Self {
        RevocationConfig { max_attempts: 6 }
    }
}

/// `[offboarding]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OffboardingConfig {
    pub event_types: Vec<String>,
    pub system_log: bool,
    /// How often the System Log is polled (when `system_log`).
    #[serde(with = "duration::human")]
    pub poll_interval: Duration,
    /// How far back the first System Log poll starts (later polls follow the saved cursor).
    #[serde(with = "duration::human")]
    pub lookback: Duration,
    /// Attempts of a queued offboarding job before it is `failed`.
    pub max_attempts: u32,
}

impl Default for OffboardingConfig {
    fn default() -> Self {
        OffboardingConfig {
            event_types: vec![
                "user.lifecycle.deactivate".into(),
                "user.lifecycle.suspend".into(),
            ],
            system_log: false,
            poll_interval: Duration::from_secs(60),
            lookback: Duration::from_secs(3600),
            max_attempts: 5,
        }
    }
}

/// `[reports]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReportsConfig {
    pub dir: PathBuf,
}

impl Default for ReportsConfig {
    fn default() -> Self {
        ReportsConfig {
            dir: PathBuf::from("reports"),
        }
    }
}

/// `[[targets]]`: one `user` + `client`, or `users` × `clients`; or `app` / `apps` (every
/// user's tokens of the app, through ApplicationTokens); or `user` / `users` alone (every
/// client each user holds tokens for).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TargetConfig {
    pub user: Option<String>,
    pub client: Option<String>,
    pub users: Vec<String>,
    pub clients: Vec<String>,
    /// An OIDC app's client id: every user's tokens of it.
    pub app: Option<String>,
    pub apps: Vec<String>,
}

/// What a matching rule does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    #[default]
    Revoke,
    Flag,
}

/// `[[policies]]`: a named rule; every condition given must hold for it to match.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyConfig {
    pub name: String,
    #[serde(with = "duration::human_opt")]
    pub older_than: Option<Duration>,
    #[serde(with = "duration::human_opt")]
    pub idle_for: Option<Duration>,
    #[serde(with = "duration::human_opt")]
    pub expires_after: Option<Duration>,
    pub scopes_any: Vec<String>,
    pub scopes_all: Vec<String>,
    pub clients: Vec<String>,
    pub users: Vec<String>,
    pub action: Action,
}

/// `[[exemptions]]`: tokens that are never revoked, whatever the rules say.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExemptionConfig {
    pub name: Option<String>,
    pub users: Vec<String>,
    pub clients: Vec<String>,
    pub tokens: Vec<String>,
}
