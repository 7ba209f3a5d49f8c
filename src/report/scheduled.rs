//! Scheduled reports: the function the daemon's `[schedule] report` job calls. It writes one
//! CSV file per kind, named for the kind and the instant, into `reports.dir`, atomically.

use std::path::PathBuf;

use chrono::{DateTime, Utc};

use super::{Error, Format, Kind, Request, build, render, write_atomic};
use crate::config::Config;
use crate::store::Store;

/// The kinds a scheduled run writes when the caller has no narrower list: all of them.
pub const SCHEDULED_KINDS: &[Kind] = &[
    Kind::Inventory,
    Kind::Revocations,
    Kind::Policies,
    Kind::Sweeps,
    Kind::Exposure,
    Kind::Apps,
];

/// `inventory-20261129T220000Z.csv`.
pub fn scheduled_file_name(kind: Kind, now: DateTime<Utc>) -> String {
    format!("{}-{}.csv", kind.as_str(), now.format("%Y%m%dT%H%M%SZ"))
}

/// Writes each of `kinds` as of `now` (windowed kinds over the whole history) as CSV into
/// `config.reports.dir` (created if missing), each file atomically. Returns the paths written.
pub async fn write_scheduled(
    store: &Store,
    config: &Config,
    kinds: &[Kind],
    now: DateTime<Utc>,
) -> Result<Vec<PathBuf>, Error> {
    let dir = &config.reports.dir;
    std::fs::create_dir_all(dir).map_err(|source| Error::Io {
        path: dir.display().to_string(),
        source,
    })?;
    let mut written = Vec::with_capacity(kinds.len());
    for &kind in kinds {
        let table = build(store, config, &Request::all(kind), now).await?;
        let text = render(&table, Format::Csv, super::DEFAULT_SCOPE_DELIMITER);
        let path = dir.join(scheduled_file_name(kind, now));
        write_atomic(&path, text.as_bytes()).map_err(|source| Error::Io {
            path: path.display().to_string(),
            source,
        })?;
        written.push(path);
    }
    Ok(written)
}
