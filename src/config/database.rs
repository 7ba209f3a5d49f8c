//! Validation of `[database]`: a URL sqlx opens as a file revokd can write and lock, and the
//! limits around it. A mistake is refused naming its key, before anything opens the file.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::SqliteConnectOptions;

use super::{DatabaseConfig, Error};

/// Whether SQLite keeps the database `url` names in memory only. sqlx percent-decodes the URL
/// and opens it as a URI filename: empty or `:memory:` (also as `file:` URIs), `mode=memory`,
/// or the `memdb` VFS.
fn in_memory(url: &str) -> bool {
    let url = percent_encoding::percent_decode_str(url).decode_utf8_lossy();
    let rest = url.strip_prefix("sqlite:").unwrap_or(&url);
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let path = path.trim_start_matches("//");
    let path = path.strip_prefix("file:").unwrap_or(path);
    let memory = |kv: &str| kv == "mode=memory" || kv.starts_with("vfs=memdb");
    path.is_empty() || path == ":memory:" || query.split('&').any(memory)
}

/// The scheme of `scheme://…`, if `url` is one: a plain path may hold a colon
/// (`backup:2026.db`), and is no URL.
pub(super) fn scheme(url: &str) -> Option<&str> {
    url.split_once("://").map(|(s, _)| s).filter(|s| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
    })
}

/// Why revokd cannot keep its records in the file `url` names, if it cannot: a URL of another
/// scheme than `sqlite:` or SQLite's own `file:` (sqlx would take `postgres://host/db` for a
/// relative file name), one sqlx refuses (an unknown parameter or value), or one that opens the
/// file without the locks the enforcer lease and the single writer rely on. A read-only URL
/// (`mode=ro`, `immutable=1`) is taken: it serves reports from a copy, and a command that writes
/// through it fails saying so.
fn refusal(url: &str) -> Option<String> {
    if let Some(scheme) = scheme(url).filter(|s| !matches!(*s, "sqlite" | "file")) {
        return Some(format!(
            "`{scheme}:` is not a SQLite URL: revokd keeps its records in a SQLite file \
             (`sqlite://PATH`, or a plain path)"
        ));
    }
    if let Err(e) = SqliteConnectOptions::from_str(url) {
        return Some(format!("`{url}`: {e}"));
    }
    let query = url.split_once('?').map_or("", |(_, q)| q);
    for kv in query.split('&') {
        let kv = percent_encoding::percent_decode_str(kv).decode_utf8_lossy();
        if kv == "vfs=unix-none" {
            return Some(format!(
                "`{kv}` turns off SQLite's file locks, which keep one process at a time revoking"
            ));
        }
    }
    None
}

/// The smallest `database.max_size`: 16 pages of 4 KiB. Smaller limits cannot even hold the
/// schema, and a limit is meant to stop growth, not to prevent start-up.
const MIN_MAX_SIZE: u64 = 64 << 10;

/// Checks `[database]`, returning the first problem found.
pub(super) fn validate(db: &DatabaseConfig) -> Result<(), Error> {
    // An in-memory or unnamed database ends with the process, the audit trail with it.
    let url = db.url.as_str();
    if in_memory(url) {
        return Err(Error::invalid(
            "database.url",
            format!(
                "`{url}` names no file: an in-memory database keeps nothing (the audit trail \
                 with it) once the process ends; name a file (or --db FILE)"
            ),
        ));
    }
    if let Some(why) = refusal(url) {
        return Err(Error::invalid("database.url", why));
    }
    if db.busy_timeout > Duration::from_secs(3600) {
        return Err(Error::invalid(
            "database.busy_timeout",
            "must be at most 1h (a lock held longer than that is a stuck process)",
        ));
    }
    if db.max_size.is_some_and(|b| b < MIN_MAX_SIZE) {
        return Err(Error::invalid(
            "database.max_size",
            "must be at least 64KiB (unset it for no limit)",
        ));
    }
    Ok(())
}
