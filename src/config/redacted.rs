//! The effective configuration as TOML text, for `revokd config check`: every key shown, unset
//! optional keys as comments, a file-backed secret as its `*_file` key only, an inline secret
//! as a comment, notification URLs as their origin. The text is itself a valid configuration
//! that loads back to the same values (inline secrets and notification URLs aside, which must
//! then come from elsewhere). Built by hand from [`Config`] (which is deliberately not
//! `Serialize`), so a secret's value has no path into the output.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use secrecy::SecretString;

use super::EventKind;
use super::{Action, Config, duration, size};

/// Renders `config` as TOML that [`super::load`] reads back to the same values. A secret read
/// from a file appears as its `*_file` key alone; one set inline appears only as a comment
/// (`# api_token = "[redacted]" …`), never as a value.
pub fn effective_toml(config: &Config) -> String {
    let mut w = Writer(String::new());
    w.kv("mode", &q(config.mode.as_str()));

    let o = &config.okta;
    w.table("okta");
    w.opt("org_url", o.org_url.as_deref().map(q));
    w.kv("auth", &q(o.auth.as_str()));
    w.secret(
        "api_token",
        o.api_token.as_ref(),
        o.api_token_file.as_deref(),
    );
    w.opt("client_id", o.client_id.as_deref().map(q));
    w.opt("private_key_file", o.private_key_file.as_deref().map(path));
    w.opt("key_id", o.key_id.as_deref().map(q));
    w.kv("scopes", &list(&o.scopes));
    w.kv("dpop", &o.dpop.to_string());
    w.kv("page_size", &o.page_size.to_string());
    w.kv("concurrency", &o.concurrency.to_string());
    w.kv("timeout", &dur(o.timeout));
    w.kv("max_retries", &o.max_retries.to_string());
    w.kv("min_backoff", &dur(o.min_backoff));
    w.kv("max_backoff", &dur(o.max_backoff));
    w.table("okta.rate_limit");
    w.kv("max_share", &float(o.rate_limit.max_share));
    w.opt(
        "requests_per_minute",
        o.rate_limit.requests_per_minute.map(|n| n.to_string()),
    );

    w.table("database");
    w.kv("url", &q(&config.database.url));
    w.kv(
        "snapshot_retention",
        &dur(config.database.snapshot_retention),
    );
    w.kv("busy_timeout", &dur(config.database.busy_timeout));
    w.opt(
        "max_size",
        config.database.max_size.map(|b| q(&size::format(b))),
    );

    w.table("schedule");
    w.kv("sweep", &q(&config.schedule.sweep));
    w.kv("prune", &q(&config.schedule.prune));
    w.opt("report", config.schedule.report.as_deref().map(q));
    w.kv(
        "sweep_on_start",
        &config.schedule.sweep_on_start.to_string(),
    );

    w.table("safety");
    w.kv(
        "max_revocations_per_sweep",
        &config.safety.max_revocations_per_sweep.to_string(),
    );
    w.kv(
        "max_revocation_fraction",
        &float(config.safety.max_revocation_fraction),
    );
    w.kv(
        "max_offboarded_users_per_hour",
        &config.safety.max_offboarded_users_per_hour.to_string(),
    );
    w.kv("enforcer_wait", &dur(config.safety.enforcer_wait));

    let s = &config.server;
    w.table("server");
    w.kv("listen", &q(&s.listen.to_string()));
    w.secret(
        "hook_secret",
        s.hook_secret.as_ref(),
        s.hook_secret_file.as_deref(),
    );
    w.secret(
        "hook_secret_previous",
        s.hook_secret_previous.as_ref(),
        s.hook_secret_previous_file.as_deref(),
    );
    w.kv("shutdown_timeout", &dur(s.shutdown_timeout));

    w.table("revocation");
    w.kv("max_attempts", &config.revocation.max_attempts.to_string());
    let off = &config.offboarding;
    w.table("offboarding");
    w.kv("event_types", &list(&off.event_types));
    w.kv("system_log", &off.system_log.to_string());
    w.kv("poll_interval", &dur(off.poll_interval));
    w.kv("lookback", &dur(off.lookback));
    w.kv("max_attempts", &off.max_attempts.to_string());
    w.table("reports");
    w.kv("dir", &path(&config.reports.dir));

    for t in &config.targets {
        w.array_table("targets");
        w.opt("user", t.user.as_deref().map(q));
        w.opt("client", t.client.as_deref().map(q));
        w.kv("users", &list(&t.users));
        w.kv("clients", &list(&t.clients));
        w.opt("app", t.app.as_deref().map(q));
        w.kv("apps", &list(&t.apps));
    }
    for p in &config.policies {
        w.array_table("policies");
        w.kv("name", &q(&p.name));
        w.kv(
            "action",
            &q(match p.action {
                Action::Revoke => "revoke",
                Action::Flag => "flag",
            }),
        );
        w.opt("older_than", p.older_than.map(dur));
        w.opt("idle_for", p.idle_for.map(dur));
        w.opt("expires_after", p.expires_after.map(dur));
        for (key, l) in [
            ("scopes_any", &p.scopes_any),
            ("scopes_all", &p.scopes_all),
            ("clients", &p.clients),
            ("users", &p.users),
        ] {
            w.kv(key, &list(l));
        }
    }
    for e in &config.exemptions {
        w.array_table("exemptions");
        w.opt("name", e.name.as_deref().map(q));
        w.kv("users", &list(&e.users));
        w.kv("clients", &list(&e.clients));
        w.kv("tokens", &list(&e.tokens));
    }
    for n in &config.notify {
        w.array_table("notify");
        w.kv("name", &q(&n.name));
        // A Slack webhook's path is its credential: only the origin is shown, as a comment,
        // so this output fed back fails naming notify[i].url rather than notifying elsewhere.
        match &n.url_file {
            Some(file) => w.kv("url_file", &path(file)),
            None => {
                let _ = writeln!(
                    w.0,
                    "# url = \"{}/[redacted]\" (not shown: a webhook's path may be its \
                     credential; give it again, or keep it in a file named by url_file)",
                    n.origin()
                );
            }
        }
        w.kv("format", &q(n.format.as_str()));
        let events: Vec<String> = n
            .events
            .as_deref()
            .unwrap_or(&EventKind::ALL)
            .iter()
            .map(|k| k.as_str().to_owned())
            .collect();
        w.kv("events", &list(&events));
        w.opt("secret_file", n.secret_file.as_deref().map(path));
        w.kv("timeout", &dur(n.timeout));
        w.kv("min_backoff", &dur(n.min_backoff));
        w.kv("max_backoff", &dur(n.max_backoff));
        w.kv("max_attempts", &n.max_attempts.to_string());
    }
    w.0
}

struct Writer(String);

impl Writer {
    fn table(&mut self, name: &str) {
        let _ = write!(self.0, "\n[{name}]\n");
    }

    fn array_table(&mut self, name: &str) {
        let _ = write!(self.0, "\n[[{name}]]\n");
    }

    fn kv(&mut self, key: &str, value: &str) {
        let _ = writeln!(self.0, "{key} = {value}");
    }

    /// A secret: `KEY_file = "path"` when it comes from a file, a comment when it is set
    /// inline (its value never appears), and both keys as unset comments otherwise.
    fn secret(&mut self, key: &str, value: Option<&SecretString>, file: Option<&Path>) {
        match (value, file) {
            (_, Some(file)) => self.kv(&format!("{key}_file"), &path(file)),
            (Some(_), None) => {
                let _ = writeln!(
                    self.0,
                    "# {key} = \"[redacted]\" (set inline; not shown: set {key}_file or \
                     REVOKD_… in the environment)"
                );
            }
            (None, None) => {
                self.opt(key, None);
                self.opt(&format!("{key}_file"), None);
            }
        }
    }

    /// An unset optional key is shown as a comment, so every key appears.
    fn opt(&mut self, key: &str, value: Option<String>) {
        match value {
            Some(v) => self.kv(key, &v),
            None => {
                let _ = writeln!(self.0, "# {key} is unset");
            }
        }
    }
}

/// A TOML basic string. JSON string escapes (`\"`, `\\`, `\n`, `\uXXXX`) are valid TOML.
fn q(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

fn list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| q(s)).collect();
    format!("[{}]", quoted.join(", "))
}

fn path(p: &Path) -> String {
    q(&p.display().to_string())
}

fn dur(d: Duration) -> String {
    q(&duration::format(d))
}

/// `Debug` keeps a decimal point or exponent (`1.0`, `0.5`), so TOML reads a float back.
fn float(f: f64) -> String {
    format!("{f:?}")
}
