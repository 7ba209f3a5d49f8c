//! `[[notify]]`: the webhook receivers notifications are delivered to, and their validation.
//! The optional secret is read from `secret_file` at load (never inline, never printed): the
//! `Debug` output shows neither the secret nor the receiver URL's path and query, which for
//! Slack incoming webhooks is itself a credential.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;
use url::Url;

use super::{Error, EventKind, Format, duration};

/// One `[[notify]]` receiver.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    /// Names the receiver in logs, metrics and `notify_deliveries.receiver`.
    pub name: String,
    /// Where to POST: `https`, or `http` to a loopback host. Empty when `url_file` gives it
    /// and the configuration was loaded without reading secrets.
    #[serde(default)]
    pub url: String,
    /// A file holding the URL (a Slack webhook URL is a credential: keep it out of a config
    /// file others may read, e.g. with systemd `LoadCredential=`); read at load.
    #[serde(default)]
    pub url_file: Option<PathBuf>,
    #[serde(default)]
    pub format: Format,
    /// The kinds sent to this receiver; unset means every kind.
    #[serde(default)]
    pub events: Option<Vec<EventKind>>,
    /// A file holding a secret sent as `Authorization: Bearer <secret>`.
    #[serde(default)]
    pub secret_file: Option<PathBuf>,
    /// Read from `secret_file` at load.
    #[serde(skip)]
    pub secret: Option<SecretString>,
    /// Whole-request timeout of one delivery attempt.
    #[serde(default = "default_timeout", with = "duration::human")]
    pub timeout: Duration,
    /// Wait after the first failed attempt; doubles with each further one.
    #[serde(default = "default_min_backoff", with = "duration::human")]
    pub min_backoff: Duration,
    /// Ceiling of the wait between attempts.
    #[serde(default = "default_max_backoff", with = "duration::human")]
    pub max_backoff: Duration,
    /// Attempts before a delivery is given up (`failed`).
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
}

fn default_timeout() -> Duration {
    Duration::from_secs(10)
}

fn default_min_backoff() -> Duration {
    Duration::from_secs(5)
}

fn default_max_backoff() -> Duration {
    Duration::from_secs(3600)
}

fn default_max_attempts() -> u32 {
    20
}

impl NotifyConfig {
    /// Whether this receiver is sent events of `kind`.
    pub fn wants(&self, kind: EventKind) -> bool {
        self.events.as_ref().is_none_or(|e| e.contains(&kind))
    }

    /// The URL without path, query or fragment: what may be shown of it.
    pub fn origin(&self) -> String {
        Url::parse(&self.url).map_or_else(
            |_| "[invalid url]".to_owned(),
            |u| u.origin().ascii_serialization(),
        )
    }
}

impl std::fmt::Debug for NotifyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotifyConfig")
            .field("name", &self.name)
            .field("url", &format_args!("{}/[redacted]", self.origin()))
            .field("url_file", &self.url_file)
            .field("format", &self.format)
            .field("events", &self.events)
            .field("secret_file", &self.secret_file)
            .field("secret", &self.secret.as_ref().map(|_| "[redacted]"))
            .field("timeout", &self.timeout)
            .field("min_backoff", &self.min_backoff)
            .field("max_backoff", &self.max_backoff)
            .field("max_attempts", &self.max_attempts)
            .finish()
    }
}

/// Checks every receiver: a unique `name` of `[A-Za-z0-9._-]`; a `url` that is `https` (or
/// `http` to a loopback host) without credentials or fragment; `events` not empty when given;
/// `timeout` at most 5 minutes; `min_backoff` ≤ `max_backoff`; `max_attempts` ≥ 1.
pub(super) fn validate(receivers: &[NotifyConfig]) -> Result<(), Error> {
    let mut names = HashSet::new();
    for (i, r) in receivers.iter().enumerate() {
        let key = |field: &str| format!("notify[{i}].{field}");
        let name_ok = !r.name.is_empty()
            && r.name.len() <= 64
            && r.name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !name_ok {
            return Err(Error::invalid(
                key("name"),
                "must be 1 to 64 letters, digits, `.`, `_` or `-`",
            ));
        }
        if !names.insert(r.name.as_str()) {
            return Err(Error::invalid(
                key("name"),
                format!("`{}` names another receiver too", r.name),
            ));
        }
        if r.url.is_empty() && r.url_file.is_none() {
            return Err(Error::invalid(
                key("url"),
                "missing: set url, or url_file naming a file that holds it",
            ));
        }
        // Empty with `url_file`: not read, for a command that sends nothing.
        if !r.url.is_empty() {
            let from = if r.url_file.is_some() {
                "url_file"
            } else {
                "url"
            };
            check_url(&r.url).map_err(|m| Error::invalid(key(from), m))?;
        }
        if r.events.as_ref().is_some_and(Vec::is_empty) {
            return Err(Error::invalid(
                key("events"),
                "is empty; list the events to send, or leave it out for every event",
            ));
        }
        if r.timeout > Duration::from_secs(300) {
            return Err(Error::invalid(key("timeout"), "must be at most 5m"));
        }
        if r.min_backoff > r.max_backoff {
            return Err(Error::invalid(
                key("min_backoff"),
                format!("must not exceed notify[{i}].max_backoff"),
            ));
        }
        if r.max_attempts == 0 {
            return Err(Error::invalid(key("max_attempts"), "must be at least 1"));
        }
    }
    Ok(())
}

/// The URL is not echoed: a Slack webhook URL is a credential.
fn check_url(text: &str) -> Result<(), String> {
    let url = Url::parse(text).map_err(|e| format!("is not a URL ({e})"))?;
    let loopback = super::urls::loopback_host(&url)?;
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => return Err("must use https (http only for loopback hosts)".into()),
        other => return Err(format!("scheme {other} is not https")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not contain credentials (use secret_file)".into());
    }
    if url.fragment().is_some() {
        return Err("must not have a #fragment".into());
    }
    Ok(())
}
