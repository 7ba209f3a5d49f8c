//! The SQLite store (sqlx): connection set-up (WAL, busy timeout, foreign keys), migrations,
//! and one method per query, grouped by table. SQL only: no HTTP, no policy. Times are written
//! as ISO-8601 UTC text with milliseconds so `sqlite3` users can read and compare them.

mod app_cursors;
mod audit;
mod audit_row;
mod audit_walk;
mod daemon;
mod data_version;
mod fault;
mod held_jobs;
mod history_bounds;
mod ingest;
mod intents;
mod lease;
mod observations;
mod offboarding;
mod open;
pub mod outbox;
mod pair_listings;
mod plan_stage;
mod records;
mod resend;
mod scopes;
mod snapshots;
mod sources;
mod standing;
mod status;
mod stored;
mod sweeps;
mod targets;
#[cfg(test)]
mod tests_folded_records;
#[cfg(test)]
mod tests_ingest;
#[cfg(test)]
mod tests_job_mode;
#[cfg(test)]
mod tests_job_skipped;
#[cfg(test)]
mod tests_known_values;
#[cfg(test)]
mod tests_migration;
#[cfg(test)]
mod tests_migration_lock;
#[cfg(test)]
mod tests_narrow_history;
#[cfg(test)]
mod tests_narrow_tokens;
#[cfg(test)]
mod tests_observation_order;
#[cfg(test)]
mod tests_outbox;
#[cfg(test)]
mod tests_outbox_receivers;
#[cfg(test)]
mod tests_pair_listings;
#[cfg(test)]
mod tests_plan_stage;
#[cfg(test)]
mod tests_scope_versions;
#[cfg(test)]
mod tests_system_log;
#[cfg(test)]
mod tests_tokens;
mod tokens;

use std::path::PathBuf;

use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::SqlitePool;

pub use app_cursors::{AppCursorWrite, AppListing};
pub use audit_row::{
    AuditRow, GENESIS, HASH_VERSION, NewRevocation, RevocationState, RevocationTrigger,
};
pub use audit_walk::{AuditBreak, ChainEnd, Verified};
pub use daemon::DbGauges;
pub use data_version::{DataVersion, Version};
pub use fault::Fault;
pub use history_bounds::HistoryBound;
pub use ingest::{Ingest, Pending};
pub use intents::OpenPairIntent;
pub use lease::{LeaseAttempt, LeaseHolder};
pub use offboarding::{JobRow, NewJob, SystemLogCursor, WaitingJobs, insert_held_event};
pub use open::{MIGRATOR, PAGE_SIZE, StoreOptions};
pub use outbox::{Claimed, DeliveryRow, NewEvent, OutboxRow};
pub use pair_listings::{KnownPair, ListingPrint, PrintWrite, UnchangedListing};
pub use plan_stage::{Closing, PlanStage, REVOKED_BY_REVOKD, StagedEntry, StagedKind};
pub use snapshots::Pruned;
pub use sources::{DeliveryState, JobSource, JobState, TargetSource};
pub use standing::StandingRecord;
pub use status::{StatusCounts, SweepBrief};
pub use sweeps::{SweepCounts, SweepRow, SweepStatus, Trigger};
pub use targets::{TargetOutcome, TargetResult};
pub use tokens::{ObservedRecord, TokenObservation, TokenRow};

/// A storage failure. Each message leads with what went wrong in plain words (see [`Fault`])
/// and ends with SQLite's own message.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}", fault::describe(.0))]
    Sqlx(sqlx::Error),
    #[error("database migration failed: {}", describe_migrate(.0))]
    Migrate(sqlx::migrate::MigrateError),
    /// The database would be created in a directory that does not exist.
    #[error(
        "the database directory {} does not exist (create it, or fix database.url)",
        .0.display()
    )]
    MissingDirectory(PathBuf),
    /// The database's path could not be looked at: a directory on the way that this user may
    /// not enter (a root-only `/var/lib/private`), or a file where a directory should be.
    #[error(
        "cannot look at the database path {}: {} (run revokd as a user that may reach it, such \
         as the service's own, or fix database.url or --db)",
        .0.display(),
        .1
    )]
    Unreachable(PathBuf, std::io::Error),
    /// The observation writer stopped before answering (it panicked or was shut down).
    #[error("the database writer stopped before the write was confirmed")]
    WriterStopped,
    /// One failed transaction of the observation writer, told to each job it held.
    #[error("{0}")]
    Shared(std::sync::Arc<Error>),
    /// Another live process holds the enforcer lease (see `gate::lease`); names it.
    #[error("{0}")]
    EnforcerBusy(String),
    /// This process does not hold the enforcer lease (never took it, or lost it): the
    /// revocation gate lets nothing through.
    #[error("this process does not hold the enforcer lease; no revocation was sent")]
    LeaseNotHeld,
    /// A command that only reads found no database file.
    #[error(
        "the database file {} does not exist (fix database.url or --db, or run a sweep or \
         `revokd db migrate` first)",
        .0.display()
    )]
    MissingFile(PathBuf),
    /// A command that only reads found a database of another schema than this binary's.
    #[error("{0}")]
    OtherSchema(String),
    /// A sweep's plan could not be written to its temporary file (see `PlanStage`).
    #[error(
        "staging the sweep's plan in a temporary file failed (SQLite writes it to the first \
         writable of $SQLITE_TMPDIR, $TMPDIR, /var/tmp, /usr/tmp and /tmp, and needs room there \
         for roughly 200 bytes per planned token): {0}"
    )]
    Staging(sqlx::Error),
    /// The audit trail's last record is not the one its head names (records at the end were
    /// deleted, or one was added without an append): nothing is chained onto it.
    #[error(
        "the audit trail is broken at its end ({0}); nothing was appended: run `revokd audit \
         verify`"
    )]
    AuditBroken(String),
}

// Written by hand rather than `#[from]`, which would also make the sqlx error the `source`
// and print its message twice in an error chain.
impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Error::Sqlx(e)
    }
}

impl From<sqlx::migrate::MigrateError> for Error {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        Error::Migrate(e)
    }
}

impl Error {
    /// The storage fault behind this error, if SQLite reported one.
    pub fn fault(&self) -> Option<Fault> {
        match self {
            Error::Sqlx(e) | Error::Migrate(sqlx::migrate::MigrateError::Execute(e)) => {
                Fault::of(e)
            }
            Error::MissingDirectory(_) | Error::MissingFile(_) | Error::Unreachable(..) => {
                Some(Fault::CannotOpen)
            }
            Error::Shared(e) => e.fault(),
            Error::Migrate(_)
            // The temporary file failed, not the database.
            | Error::Staging(_)
            | Error::WriterStopped
            | Error::EnforcerBusy(_)
            | Error::LeaseNotHeld
            | Error::OtherSchema(_)
            | Error::AuditBroken(_) => None,
        }
    }
}

fn describe_migrate(e: &sqlx::migrate::MigrateError) -> String {
    match e {
        sqlx::migrate::MigrateError::Execute(e) => fault::describe(e),
        other => other.to_string(),
    }
}

/// The database. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
}

/// Formats an instant the way every column stores it: `2026-11-29T22:00:00.000Z`.
pub fn ts(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}
