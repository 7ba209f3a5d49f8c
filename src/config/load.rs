//! Loading: field defaults → the TOML file → `REVOKD_…` environment (`__` nests), then secrets
//! from their `*_file`s, then [`super::validate`]. The only IO here is reading the config file
//! and the secret files; no error message ever carries a secret's value.

use std::path::Path;

use figment::Figment;
use figment::error::{Actual, Kind};
use figment::providers::{Env, Format, Toml};
use secrecy::{ExposeSecret, SecretString};

use super::{Config, Error};

/// Environment variables under `REVOKD_` that are not config keys: `REVOKD_CONFIG` (the file,
/// read by the CLI) and `REVOKD_LOG` (the log filter).
const NOT_CONFIG_KEYS: &[&str] = &["config", "log"];

/// Keys whose values are secrets: never echoed in an error.
const SECRET_KEYS: &[&str] = &[
    "okta.api_token",
    "server.hook_secret",
    "server.hook_secret_previous",
];

/// What a command needs from the configuration: everything (commands that talk to Okta), or
/// only the database and the policies (commands that read or maintain the database).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// Okta settings included: `okta.org_url` and credentials are required, secrets are read.
    Everything,
    /// `[database]`, and the policies where a report decides. The Okta settings are not
    /// required and `*_file` secrets are not read (the files may be readable only by the
    /// service); whatever else is set is still checked.
    Database,
}

/// Settings given on the command line, applied after every other source.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--db`: replaces `database.url`.
    pub database_url: Option<String>,
}

/// `--db URL|FILE` or `database.url` as a sqlx SQLite URL: a URL (`sqlite:…`, `file:…`, or
/// of another scheme, which validation then refuses) is kept; a plain path becomes
/// `sqlite://PATH`, its `%` escaped so that it stays part of the file's name (sqlx decodes
/// the path; `?` still starts parameters such as `mode=ro`).
pub fn database_url(arg: &str) -> String {
    let url = arg.starts_with("sqlite:") || arg.starts_with("file:");
    if url || super::database::scheme(arg).is_some() {
        arg.to_owned()
    } else {
        format!("sqlite://{}", arg.replace('%', "%25"))
    }
}

/// Loads and validates the configuration.
///
/// Order (later wins): field defaults, then `file` (if given; a missing or unreadable file is
/// an error naming it), then `REVOKD_…` environment variables with `__` for nesting
/// (`REVOKD_OKTA__ORG_URL`). `okta.api_token_file`, `server.hook_secret_file`,
/// `server.hook_secret_previous_file` and each `notify[i].secret_file` are then read into their secrets (one trailing newline trimmed),
/// and the result is checked by [`super::validate`]. Every error names the offending key.
pub fn load(file: Option<&Path>) -> Result<Config, Error> {
    load_for(file, &Overrides::default(), Needs::Everything)
}

/// [`load`], with command-line `overrides` applied last, checked for what a command `needs`.
pub fn load_for(file: Option<&Path>, overrides: &Overrides, needs: Needs) -> Result<Config, Error> {
    let mut figment = Figment::new();
    if let Some(path) = file {
        // Toml::file would silently skip a missing file; an explicitly named one must exist.
        std::fs::File::open(path).map_err(|e| {
            Error::invalid("--config", format!("cannot read {}: {e}", path.display()))
        })?;
        figment = figment.merge(Toml::file_exact(path));
    }
    check_env_names()?;
    let env = Env::prefixed("REVOKD_").ignore(NOT_CONFIG_KEYS).split("__");
    let figment = figment.merge(env);
    let mut config: Config = figment.extract().map_err(keyed)?;
    let url = overrides
        .database_url
        .as_ref()
        .unwrap_or(&config.database.url);
    config.database.url = database_url(url);
    let checked = match needs {
        Needs::Everything => read_secrets(&mut config).and_then(|()| super::validate(&config)),
        Needs::Database => super::validate::validate_local(&config),
    };
    // A value refused after loading is named with where it came from: a file, or a variable
    // that overrode it (a systemd drop-in), unless `--db` replaced it.
    checked.map_err(|e| match e {
        Error::Invalid { key, message } => {
            let from = if key == "database.url" && overrides.database_url.is_some() {
                Some(" (from --db)".to_owned())
            } else {
                figment
                    .find_metadata(&key.replace('[', ".").replace(']', ""))
                    .and_then(|md| source_of(md, &key))
            };
            Error::invalid(key, format!("{message}{}", from.unwrap_or_default()))
        }
        e => e,
    })?;
    Ok(config)
}

/// Reads `*_file` secrets into their value fields. `*_file` keeps its path, so the effective
/// config can say where a secret came from.
fn read_secrets(config: &mut Config) -> Result<(), Error> {
    let okta = &mut config.okta;
    read_secret(
        &mut okta.api_token,
        okta.api_token_file.as_deref(),
        "okta.api_token",
    )?;
    let server = &mut config.server;
    read_secret(
        &mut server.hook_secret,
        server.hook_secret_file.as_deref(),
        "server.hook_secret",
    )?;
    read_secret(
        &mut server.hook_secret_previous,
        server.hook_secret_previous_file.as_deref(),
        "server.hook_secret_previous",
    )?;
    for (i, receiver) in config.notify.iter_mut().enumerate() {
        if let Some(path) = &receiver.url_file {
            let key = format!("notify[{i}].url");
            let mut url = None;
            read_secret(&mut url, Some(path), &key)?;
            if !receiver.url.is_empty() {
                return Err(Error::invalid(
                    key.as_str(),
                    format!("set either {key} or {key}_file, not both"),
                ));
            }
            receiver.url = url
                .map(|u| u.expose_secret().to_owned())
                .unwrap_or_default();
        }
        read_secret(
            &mut receiver.secret,
            receiver.secret_file.as_deref(),
            &format!("notify[{i}].secret"),
        )?;
    }
    Ok(())
}

fn read_secret(
    value: &mut Option<SecretString>,
    file: Option<&Path>,
    key: &str,
) -> Result<(), Error> {
    let Some(path) = file else { return Ok(()) };
    let file_key = format!("{key}_file");
    if value.is_some() {
        return Err(Error::invalid(
            key,
            format!("set either {key} or {file_key}, not both"),
        ));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::invalid(&file_key, cannot_read(path, &e)))?;
    let secret = text.trim_end_matches(['\r', '\n']);
    if secret.is_empty() {
        return Err(Error::invalid(
            file_key,
            format!("{} is empty", path.display()),
        ));
    }
    if !header_safe(secret) {
        return Err(Error::invalid(
            file_key,
            format!(
                "{} holds a line break or a control character (a comment line, more than one \
                 line?), which the HTTP header that carries it cannot; it must hold the secret \
                 alone (value not shown)",
                path.display()
            ),
        ));
    }
    *value = Some(SecretString::from(secret));
    Ok(())
}

/// Why the file a `*_file` key names could not be read. The path is shown only where there is
/// something at it (or the way to it is closed): a value that names nothing may be the secret
/// itself, set in place of its path, so it is never echoed.
pub fn cannot_read(path: &Path, error: &std::io::Error) -> String {
    let something_there = error.kind() == std::io::ErrorKind::PermissionDenied
        || std::fs::symlink_metadata(path).is_ok();
    if something_there {
        format!("cannot read {}: {error}", path.display())
    } else {
        "cannot read it: no file by that name (the value is not shown: a value that names no \
         file may be a secret set in place of its path)"
            .to_owned()
    }
}

/// A parser's message without the source lines it quotes (`3 | api_token = …` and the caret
/// line under it): the line may hold a secret pasted without its quotes. What is left (where
/// and why) is joined on one line.
fn without_quoted_source(message: &str) -> String {
    let quoted = |line: &str| {
        let rest = line
            .trim_start()
            .trim_start_matches(|c: char| c.is_ascii_digit());
        rest.trim_start().starts_with('|')
    };
    let kept: Vec<&str> = message
        .lines()
        .filter(|l| !l.trim().is_empty() && !quoted(l))
        .map(str::trim)
        .collect();
    match kept.split_first() {
        Some((first, [])) => (*first).to_owned(),
        Some((first, rest)) => format!("{first}: {}", rest.join("; ")),
        None => String::new(),
    }
}

/// Turns figment's error into one that starts with the dotted key (`okta.bogus: …`), since
/// figment's own text names only the parent table for unknown fields, and could quote a
/// secret's value in a type error.
fn keyed(error: figment::Error) -> Error {
    let Some(e) = error.into_iter().next() else {
        return Error::invalid("config", "could not be read");
    };
    let mut path = e.path.clone();
    let field = match &e.kind {
        Kind::UnknownField(field, _) => Some(field.as_str()),
        Kind::MissingField(field) => Some(field.as_ref()),
        Kind::DuplicateField(field) => Some(*field),
        _ => None,
    };
    // figment usually puts the field in the path already; add it where it does not.
    if let Some(field) = field.filter(|f| path.last().is_none_or(|last| last != f)) {
        path.push(field.to_owned());
    }
    let key = dotted(&path);
    let mut message = match &e.kind {
        Kind::UnknownField(_, expected) => {
            format!("unknown key; expected one of: {}", expected.join(", "))
        }
        Kind::UnknownVariant(found, expected) => {
            format!(
                "unknown value `{found}`; expected one of: {}",
                expected.join(", ")
            )
        }
        _ if SECRET_KEYS.contains(&key.as_str()) => "must be a string (value not shown)".into(),
        Kind::InvalidType(_, expected) | Kind::InvalidValue(_, expected)
            if may_hold_secret(&key) =>
        {
            format!("expected {expected} (value not shown)")
        }
        kind => without_quoted_source(&kind.to_string()),
    };
    let from_env = e
        .metadata
        .as_ref()
        .is_some_and(|md| md.name.contains("REVOKD_"));
    let scalar = |a: &Actual| {
        matches!(
            a,
            Actual::Bool(_) | Actual::Unsigned(_) | Actual::Signed(_) | Actual::Float(_)
        )
    };
    if from_env && matches!(&e.kind, Kind::InvalidType(found, _) if scalar(found)) {
        // figment reads `12345` or `true` in a variable as a number or a boolean; turning it
        // back into text could not restore a leading zero, so the way round is a file.
        message.push_str(
            "; a variable whose value reads as a number or true/false is taken as one: set \
             a text value in the file, or a secret through its *_file",
        );
    }
    if let Some(from) = e.metadata.as_ref().and_then(|md| source_of(md, &key)) {
        message.push_str(&from);
    }
    Error::invalid(key, message)
}

/// Whether an HTTP header can carry `secret` as it is: no line break, no control character
/// but a tab. Each secret read here is sent or compared as a header.
pub(super) fn header_safe(secret: &str) -> bool {
    !secret.chars().any(|c| c.is_control() && c != '\t')
}

/// Whether the value at `key` may be a secret, so that an error must not quote it: a `*_file`
/// key (a secret pasted in place of its path), a receiver's `url` (a Slack webhook URL is a
/// credential), or a top-level value or array item, which may be a table of secrets set whole
/// by one variable (`REVOKD_OKTA=…`, `REVOKD_NOTIFY=…`).
fn may_hold_secret(key: &str) -> bool {
    key.ends_with("_file")
        || (key.starts_with("notify[") && key.ends_with(".url"))
        || !key.contains('.')
}

/// Refuses a `REVOKD_…` variable with an empty segment (`REVOKD_MODE__`,
/// `REVOKD_OKTA____PAGE_SIZE`): figment would drop the segment and read it as another key,
/// or drop the variable, where a mistyped key must be an error.
fn check_env_names() -> Result<(), Error> {
    for (name, _) in std::env::vars_os() {
        let Some(name) = name.to_str() else { continue };
        // figment matches the prefix whatever its case.
        let Some(rest) = name
            .get(..7)
            .filter(|p| p.eq_ignore_ascii_case("REVOKD_"))
            .map(|_| &name[7..])
        else {
            continue;
        };
        if rest.split("__").any(str::is_empty) {
            return Err(Error::invalid(
                name,
                "names no key: `__` separates keys, with no empty key between two (e.g. \
                 REVOKD_OKTA__PAGE_SIZE)",
            ));
        }
    }
    Ok(())
}

/// ` (from …)`: the file, or the variable (`REVOKD_OKTA__ORG_URL` for `okta.org_url`), that
/// gave the value at the dotted `key`.
fn source_of(md: &figment::Metadata, key: &str) -> Option<String> {
    Some(match (md.source.as_ref(), &md.name) {
        (Some(source), name) => format!(" (from {name} {source})"),
        (None, name) if name.contains("REVOKD_") => {
            let path = key.replace('[', ".").replace(']', "");
            let var: Vec<String> = path.split('.').map(str::to_ascii_uppercase).collect();
            format!(" (from REVOKD_{})", var.join("__"))
        }
        (None, name) => format!(" (from {name})"),
    })
}

/// `["targets", "2", "user"]` → `targets[2].user`.
fn dotted(path: &[String]) -> String {
    let mut key = String::new();
    for part in path {
        if part.bytes().all(|b| b.is_ascii_digit()) && !key.is_empty() {
            key.push_str(&format!("[{part}]"));
        } else {
            if !key.is_empty() {
                key.push('.');
            }
            key.push_str(part);
        }
    }
    if key.is_empty() {
        "config".to_owned()
    } else {
        key
    }
}
