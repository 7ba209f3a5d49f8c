//! Validation of a loaded [`Config`]: every value that parsed but cannot be right is refused
//! here, before anything runs, with an error naming its key. No IO; a schedule is asked for
//! its next occurrence from the clock, so one that never fires is refused.

use std::time::Duration;

use super::{AuthMode, Config, Error, TargetConfig};
use crate::ids::{ClientId, InvalidId, UserId};

/// Checks `config`, returning the first problem found.
///
/// * `okta.org_url`: required; an absolute URL, `https` unless the host is loopback
///   (`localhost`, 127.0.0.0/8, `::1`); no credentials, path, query or fragment.
/// * `auth = "ssws"` needs `okta.api_token` (or `okta.api_token_file`); `auth = "oauth"` needs
///   `okta.client_id` and `okta.private_key_file`, and `okta.scopes` must be non-empty scope
///   names, including `okta.logs.read` when `offboarding.system_log = true` (the scopes are
///   exactly what is requested, so they are never widened behind the operator's back).
/// * Ranges: `okta.page_size` 1..=200, `okta.concurrency` 1..=75, `okta.max_retries` ≤ 20,
///   `okta.min_backoff` ≤ `okta.max_backoff`, `okta.rate_limit.max_share` in (0, 1],
///   `okta.rate_limit.requests_per_minute` > 0, `safety.max_revocation_fraction` in (0, 1],
///   `safety.max_revocations_per_sweep` ≥ 1, `safety.max_offboarded_users_per_hour` ≥ 1,
///   `server.hook_secret` and `server.hook_secret_previous` not blank (the latter only beside
///   the former), `revocation.max_attempts` ≥ 1,
///   `database.busy_timeout` ≤ 1h, `database.max_size` ≥ 64KiB if set, `database.url` a file
///   (not in-memory).
/// * `schedule.*`: six-field cron, seconds first, UTC, as tokio-cron-scheduler parses it, that
///   fires at least once from now.
/// * `database.url`: a file, not an in-memory database.
/// * `server.shutdown_timeout` > 0.
/// * `targets[i]`: `user` + `client`, non-empty `users` + `clients`, `app` / `apps` alone, or
///   `user` / `users` alone; user ids as [`UserId`] takes them, client and app ids as
///   [`ClientId`] does. Under OAuth, any `app` target needs `okta.apps.read` in `okta.scopes`.
/// * `policies[i]`, `exemptions[i]`: their shape only. Their meaning (unique names, at least
///   one condition, durations > 0, policy and exemption ids by the same id types) is checked by compiling them, which the policy module does
///   (`policy::PolicySet::from_config`) and every command does right after loading.
/// * `notify[i]`: see [`super::NotifyConfig`].
pub fn validate(config: &Config) -> Result<(), Error> {
    validate_okta(config)?;
    validate_local(config)
}

/// Every check of [`validate`] except those of `[okta]`: what a command that only reads or
/// maintains the database needs to be right.
pub fn validate_local(config: &Config) -> Result<(), Error> {
    let s = &config.safety;
    if !(s.max_revocation_fraction > 0.0 && s.max_revocation_fraction <= 1.0) {
        return Err(Error::invalid(
            "safety.max_revocation_fraction",
            "must be in (0, 1]",
        ));
    }
    if s.max_revocations_per_sweep == 0 {
        return Err(Error::invalid(
            "safety.max_revocations_per_sweep",
            "must be at least 1 (0 would refuse every sweep; use mode = \"dry-run\" instead)",
        ));
    }
    if config.revocation.max_attempts == 0 {
        return Err(Error::invalid(
            "revocation.max_attempts",
            "must be at least 1",
        ));
    }
    super::database::validate(&config.database)?;
    check_cron("schedule.sweep", &config.schedule.sweep)?;
    check_cron("schedule.prune", &config.schedule.prune)?;
    if let Some(report) = &config.schedule.report {
        check_cron("schedule.report", report)?;
    }
    super::hook_secret::validate(&config.server)?;
    if s.max_offboarded_users_per_hour == 0 {
        return Err(Error::invalid(
            "safety.max_offboarded_users_per_hour",
            "must be at least 1 (0 would hold every automatic offboarding)",
        ));
    }
    if config.server.shutdown_timeout.is_zero() {
        return Err(Error::invalid(
            "server.shutdown_timeout",
            "must be greater than 0",
        ));
    }
    for (key, d) in [
        (
            "offboarding.poll_interval",
            config.offboarding.poll_interval,
        ),
        ("offboarding.lookback", config.offboarding.lookback),
    ] {
        if d.is_zero() {
            return Err(Error::invalid(key, "must be greater than 0"));
        }
    }
    if config.offboarding.lookback > Duration::from_secs(180 * 86_400) {
        return Err(Error::invalid(
            "offboarding.lookback",
            "Okta refuses a System Log `since` more than 180 days back",
        ));
    }
    check_event_types(&config.offboarding.event_types)?;
    if config.offboarding.max_attempts == 0 {
        return Err(Error::invalid(
            "offboarding.max_attempts",
            "must be at least 1",
        ));
    }
    for (i, target) in config.targets.iter().enumerate() {
        check_target(&format!("targets[{i}]"), target)?;
    }
    super::notify::validate(&config.notify)
}

/// `offboarding.event_types`: System Log event types, matched exactly. An empty list would
/// fetch the whole System Log unfiltered and offboard no one; a blank, spaced or quoted entry
/// matches no event (a quote also breaks the System Log filter it is written into).
fn check_event_types(types: &[String]) -> Result<(), Error> {
    if types.is_empty() {
        return Err(Error::invalid(
            "offboarding.event_types",
            "must name at least one event type (an empty list offboards no one; leave \
             offboarding.system_log off and server.hook_secret unset to stop automatic offboarding)",
        ));
    }
    for (i, t) in types.iter().enumerate() {
        let part =
            |p: &str| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !(t.contains('.') && t.split('.').all(part)) {
            return Err(Error::invalid(
                format!("offboarding.event_types[{i}]"),
                format!(
                    "`{}` is not an Okta event type (dot-separated words of letters, digits \
                     and `_`, such as `user.lifecycle.deactivate`)",
                    t.escape_debug()
                ),
            ));
        }
    }
    Ok(())
}

fn validate_okta(config: &Config) -> Result<(), Error> {
    let okta = &config.okta;
    let Some(org_url) = &okta.org_url else {
        return Err(Error::invalid(
            "okta.org_url",
            "is required, e.g. https://example.okta.com",
        ));
    };
    super::urls::check_org_url(org_url).map_err(|m| Error::invalid("okta.org_url", m))?;
    match okta.auth {
        AuthMode::Ssws if okta.api_token.is_none() => {
            return Err(Error::invalid(
                "okta.api_token",
                "auth = \"ssws\" needs an API token: set okta.api_token_file (preferred) or \
                 okta.api_token",
            ));
        }
        AuthMode::Oauth if okta.client_id.as_deref().is_none_or(str::is_empty) => {
            return Err(Error::invalid(
                "okta.client_id",
                "auth = \"oauth\" needs a client_id",
            ));
        }
        AuthMode::Oauth if okta.private_key_file.is_none() => {
            return Err(Error::invalid(
                "okta.private_key_file",
                "auth = \"oauth\" needs the service app's private key file",
            ));
        }
        AuthMode::Oauth => check_scopes(config)?,
        AuthMode::Ssws => {}
    }
    let checks: [(&str, bool, &str); 6] = [
        (
            "okta.page_size",
            (1..=200).contains(&okta.page_size),
            "must be in 1..=200",
        ),
        (
            "okta.concurrency",
            (1..=75).contains(&okta.concurrency),
            "must be in 1..=75",
        ),
        (
            "okta.max_retries",
            okta.max_retries <= 20,
            "must be at most 20",
        ),
        (
            "okta.min_backoff",
            okta.min_backoff <= okta.max_backoff,
            "must not exceed okta.max_backoff",
        ),
        (
            "okta.rate_limit.max_share",
            okta.rate_limit.max_share > 0.0 && okta.rate_limit.max_share <= 1.0,
            "must be in (0, 1]",
        ),
        (
            "okta.rate_limit.requests_per_minute",
            okta.rate_limit.requests_per_minute != Some(0),
            "must be greater than 0 if set",
        ),
    ];
    match checks.into_iter().find(|(_, ok, _)| !ok) {
        Some((key, _, message)) => Err(Error::invalid(key, message)),
        None => Ok(()),
    }
}

fn check_scopes(config: &Config) -> Result<(), Error> {
    let scopes = &config.okta.scopes;
    if scopes.is_empty() {
        return Err(Error::invalid(
            "okta.scopes",
            "auth = \"oauth\" needs scopes, e.g. [\"okta.users.read\", \"okta.users.manage\"]",
        ));
    }
    if let Some(bad) = scopes.iter().find(|s| {
        s.is_empty()
            || !s
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
    }) {
        return Err(Error::invalid(
            "okta.scopes",
            format!("`{bad}` is not an OAuth scope name (no spaces, quotes or backslashes)"),
        ));
    }
    if !scopes.iter().any(|s| s == "okta.apps.read")
        && let Some((i, t)) = config
            .targets
            .iter()
            .enumerate()
            .find(|(_, t)| t.app.is_some() || !t.apps.is_empty())
    {
        let (field, app) = match &t.app {
            Some(app) => ("app", app.as_str()),
            None => ("apps", t.apps.first().map_or("", String::as_str)),
        };
        return Err(Error::invalid(
            "okta.scopes",
            format!(
                "targets[{i}].{field} (`{app}`) is listed through /api/v1/apps/{{appId}}/tokens, \
                 which needs okta.apps.read; add it to okta.scopes (and grant it to the service app)"
            ),
        ));
    }
    if config.offboarding.system_log && !scopes.iter().any(|s| s == "okta.logs.read") {
        return Err(Error::invalid(
            "okta.scopes",
            "offboarding.system_log = true reads /api/v1/logs, which needs okta.logs.read; add it \
             to okta.scopes (and grant it to the service app)",
        ));
    }
    Ok(())
}

/// Six whitespace-separated fields, parsed exactly as tokio-cron-scheduler 0.15 parses them.
fn check_cron(key: &str, text: &str) -> Result<(), Error> {
    let hint = "expected six fields, seconds first (UTC), e.g. \"0 0 * * * *\"";
    let fields = text.split_whitespace().count();
    if fields != 6 {
        return Err(Error::invalid(
            key,
            format!("`{text}` has {fields} fields; {hint}"),
        ));
    }
    super::cron::parse(text)
        .map_err(|e| Error::invalid(key, format!("`{text}` does not parse ({e}); {hint}")))?;
    // A date that never comes (31 April) parses, and the job would never run.
    super::cron::next_fire(text, chrono::Utc::now())
        .map(drop)
        .ok_or_else(|| Error::invalid(key, format!("`{text}` never fires (no such date)")))
}

fn check_target(key: &str, t: &TargetConfig) -> Result<(), Error> {
    let has_app = t.app.is_some() || !t.apps.is_empty();
    let has_user = t.user.is_some() || !t.users.is_empty();
    let has_client = t.client.is_some() || !t.clients.is_empty();
    let user = |key: String, id: &str| check_id(&key, UserId::new(id)).map(drop);
    // An app id is the OIDC app's client id.
    let client = |key: String, id: &str| check_id(&key, ClientId::new(id)).map(drop);
    if has_app {
        if has_user || has_client {
            return Err(Error::invalid(
                key,
                "set app (or apps) alone: an app target lists every user's tokens of the app",
            ));
        }
        if let Some(app) = &t.app {
            client(format!("{key}.app"), app)?;
        }
        for (j, id) in t.apps.iter().enumerate() {
            client(format!("{key}.apps[{j}]"), id)?;
        }
        return Ok(());
    }
    if has_user && !has_client {
        // A whole user: every client the user holds tokens for.
        if let Some(id) = &t.user {
            user(format!("{key}.user"), id)?;
        }
        for (j, id) in t.users.iter().enumerate() {
            user(format!("{key}.users[{j}]"), id)?;
        }
        return Ok(());
    }
    let single = t.user.is_some() || t.client.is_some();
    let cross = !t.users.is_empty() || !t.clients.is_empty();
    let shape = "set either user + client, or users + clients";
    if single && cross {
        return Err(Error::invalid(key, format!("{shape}, not both")));
    }
    if single {
        let Some(user_id) = &t.user else {
            return Err(Error::invalid(
                format!("{key}.user"),
                format!("missing; {shape}"),
            ));
        };
        let Some(client_id) = &t.client else {
            return Err(Error::invalid(
                format!("{key}.client"),
                format!("missing; {shape}"),
            ));
        };
        user(format!("{key}.user"), user_id)?;
        return client(format!("{key}.client"), client_id);
    }
    for (field, list) in [("users", &t.users), ("clients", &t.clients)] {
        if list.is_empty() {
            return Err(Error::invalid(
                format!("{key}.{field}"),
                format!("empty; {shape}"),
            ));
        }
    }
    for (j, id) in t.users.iter().enumerate() {
        user(format!("{key}.users[{j}]"), id)?;
    }
    for (j, id) in t.clients.iter().enumerate() {
        client(format!("{key}.clients[{j}]"), id)?;
    }
    Ok(())
}

/// `parsed`, an id at `key` typed as the Okta client takes it ([`crate::ids`]), or an error
/// naming the key: one rule for an id wherever it is configured or used.
pub(crate) fn check_id<T>(key: &str, parsed: Result<T, InvalidId>) -> Result<T, Error> {
    parsed.map_err(|e| Error::invalid(key, e.to_string()))
}
