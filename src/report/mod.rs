//! Compliance reports (`revokd report …`), answered from the database alone: `inventory`,
//! `revocations`, `policies`, `sweeps` and `exposure`. Each report is built as a [`Table`] from
//! the report views of `migrations/20261129010000_create_report_views.sql` (so a `sqlite3`
//! query over a view and the report agree), then rendered as a terminal table, CSV or JSON.
//! Policy verdicts come from [`crate::policy::decide`] with the configured policies.
//!
//! Owns: report queries, rendering, time arguments, atomic output and scheduled report files.
//! Must not: talk to Okta or write anything to the database.

mod apps;
mod history;
mod inventory;
mod output;
pub mod overview;
mod query;
mod render;
mod scheduled;
mod table;
mod time;

use chrono::{DateTime, Utc};

use crate::config::{self, Config};
use crate::store::{HistoryBound, Store};

pub use apps::APP_COLUMNS;
pub use history::{POLICY_COLUMNS, REVOCATION_COLUMNS, SWEEP_COLUMNS};
pub use inventory::{AGE_BUCKETS, EXPOSURE_COLUMNS, INVENTORY_COLUMNS, age_bucket};
pub use output::write_atomic;
pub use render::{DEFAULT_SCOPE_DELIMITER, Format, neutralise, render};
pub use scheduled::{SCHEDULED_KINDS, scheduled_file_name, write_scheduled};
pub use table::{Cell, Table};
pub use time::TimeArg;

/// A report failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("{0}")]
    Store(#[from] crate::store::Error),
    #[error("{0}")]
    Chart(#[from] overview::ChartError),
    #[error("configuration error: {0}")]
    Config(#[from] config::Error),
    #[error("{0}")]
    Usage(String),
    #[error("cannot write {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// Which report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// Active tokens now, or `--at` a past instant, with the policies they violate.
    Inventory,
    /// Revocation intents requested in the window, each at its latest state.
    Revocations,
    /// Per policy: matched, planned, revoked, failed, exempted, over the window.
    Policies,
    /// Sweep history over the window.
    Sweeps,
    /// Tokens by scope × age, tokens of offboarded users, tokens older than policy allows.
    Exposure,
    /// Per app target: its listing, and its active tokens, users and tokens to revoke.
    Apps,
}

impl Kind {
    /// The name used on the command line and in scheduled file names.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Inventory => "inventory",
            Kind::Revocations => "revocations",
            Kind::Policies => "policies",
            Kind::Sweeps => "sweeps",
            Kind::Exposure => "exposure",
            Kind::Apps => "apps",
        }
    }

    /// Whether the report is of a window (`--since/--until`) rather than an instant (`--at`).
    pub fn is_windowed(self) -> bool {
        matches!(self, Kind::Revocations | Kind::Policies | Kind::Sweeps)
    }
}

/// What to report: the kind and its window (`since`/`until`) or instant (`at`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    pub kind: Kind,
    /// Inclusive lower bound of the window (windowed kinds only).
    pub since: Option<DateTime<Utc>>,
    /// Exclusive upper bound of the window (windowed kinds only).
    pub until: Option<DateTime<Utc>>,
    /// A past instant to answer for (`inventory`, `exposure`, `apps`); `None` is now.
    pub at: Option<DateTime<Utc>>,
}

impl Request {
    /// Refuses an instant for a window report, a window for an instant report, a window
    /// that ends before it starts, or an instant after `now` ([`Error::Usage`]).
    pub fn check(&self, now: DateTime<Utc>) -> Result<(), Error> {
        let kind = self.kind.as_str();
        if self.kind.is_windowed() && self.at.is_some() {
            return Err(Error::Usage(format!(
                "--at applies to inventory, exposure and apps, not {kind}; use --since/--until"
            )));
        }
        if !self.kind.is_windowed() && (self.since.is_some() || self.until.is_some()) {
            return Err(Error::Usage(format!(
                "--since/--until apply to revocations, policies and sweeps, not {kind}; use --at"
            )));
        }
        if let Some(at) = self.at
            && at > now
        {
            return Err(Error::Usage(format!(
                "--at ({}) is in the future: a report answers only for what has happened",
                crate::store::ts(at)
            )));
        }
        if let (Some(since), Some(until)) = (self.since, self.until)
            && since >= until
        {
            return Err(Error::Usage(format!(
                "--since ({}) must be before --until ({}): the window would be empty",
                crate::store::ts(since),
                crate::store::ts(until)
            )));
        }
        Ok(())
    }

    /// The whole history (windowed kinds) or now (instant kinds).
    pub fn all(kind: Kind) -> Request {
        Request {
            kind,
            since: None,
            until: None,
            at: None,
        }
    }
}

/// Builds the report `request` asks for, deciding policy verdicts as of `now` (or `--at`).
pub async fn build(
    store: &Store,
    config: &Config,
    request: &Request,
    now: DateTime<Utc>,
) -> Result<Table, Error> {
    request.check(now)?;
    if let Some(at) = request.at
        && let Some(bound) = store.history_bound(at).await?
    {
        let at = crate::store::ts(at);
        return Err(Error::Usage(match bound {
            HistoryBound::Begins(first) => format!(
                "--at ({at}) is before the end of revokd's first sweep of every target \
                 ({first}): its history cannot say what Okta held then"
            ),
            HistoryBound::NotYet => format!(
                "--at ({at}): no sweep has yet listed every target without a failure (see \
                 `revokd report sweeps`), so its history cannot say what Okta held at any instant"
            ),
            HistoryBound::Pruned(cutoff) => format!(
                "--at ({at}) is before {cutoff}, before which the prune job removes history \
                 (database.snapshot_retention): a report for it could not be exact"
            ),
        }));
    }
    let pool = store.pool();
    let (at, past) = match request.at {
        Some(at) => (at, true),
        None => (now, false),
    };
    let (since, until) = (request.since, request.until);
    match request.kind {
        Kind::Inventory => inventory::inventory(pool, config, at, past).await,
        Kind::Exposure => inventory::exposure(pool, config, at, past).await,
        Kind::Apps => apps::apps(store, config, at, past).await,
        Kind::Revocations => history::revocations(pool, since, until).await,
        Kind::Policies => history::policies(pool, since, until).await,
        Kind::Sweeps => history::sweeps(pool, since, until).await,
    }
}
