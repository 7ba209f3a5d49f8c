//! The vocabularies of the `source` and job `state` columns: where a listed pair came from
//! (`targets.source`), who asked for an offboarding (`offboarding_jobs.source`) and where its
//! job stands (`offboarding_jobs.state`). Each variant is stored as the TEXT its table's
//! `CHECK` constraint allows, read and bound through sqlx; no other file spells them.

use std::fmt;

/// Where a listed pair came from (`targets.source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, sqlx::Type)]
#[sqlx(rename_all = "snake_case")]
pub enum TargetSource {
    /// Named by `[[targets]]`.
    Config,
    /// Found by listing a whole user's clients or a whole app's tokens.
    Discovered,
    /// Named by an offboarding (`revokd offboard --client`).
    Offboard,
}

impl TargetSource {
    /// The spelling stored in `targets.source`.
    pub fn as_str(self) -> &'static str {
        match self {
            TargetSource::Config => "config",
            TargetSource::Discovered => "discovered",
            TargetSource::Offboard => "offboard",
        }
    }
}

/// Who asked for an offboarding (`offboarding_jobs.source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, sqlx::Type)]
#[sqlx(rename_all = "snake_case")]
pub enum JobSource {
    /// `revokd offboard`.
    Cli,
    /// An Okta event hook delivery.
    EventHook,
    /// The System Log poller.
    SystemLog,
}

impl JobSource {
    /// The spelling stored in `offboarding_jobs.source` and used as a metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            JobSource::Cli => "cli",
            JobSource::EventHook => "event_hook",
            JobSource::SystemLog => "system_log",
        }
    }
}

/// Where an offboarding job stands (`offboarding_jobs.state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, sqlx::Type)]
#[sqlx(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for its turn (or its next attempt).
    Queued,
    /// Claimed by a process (`runner`).
    Running,
    /// Stopped by the hourly breaker until released.
    Held,
    /// Every client revoked and verified.
    Done,
    /// Failed for good.
    Failed,
}

impl JobState {
    /// Every state, in the order a job can pass through them.
    pub const ALL: [JobState; 5] = [
        JobState::Queued,
        JobState::Running,
        JobState::Held,
        JobState::Done,
        JobState::Failed,
    ];

    /// The spelling stored in `offboarding_jobs.state` and used as a metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Held => "held",
            JobState::Done => "done",
            JobState::Failed => "failed",
        }
    }
}

macro_rules! display_as_str {
    ($($t:ty),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    )*};
}

display_as_str!(TargetSource, JobSource, JobState);

#[cfg(test)]
mod tests {
    use super::*;

    #[sqlx::test(migrations = "./migrations")]
    async fn each_spelling_is_what_sqlx_binds_and_reads(pool: sqlx::SqlitePool) {
        for s in [
            TargetSource::Config,
            TargetSource::Discovered,
            TargetSource::Offboard,
        ] {
            let (text, back): (String, TargetSource) = sqlx::query_as("SELECT ?1, ?1")
                .bind(s)
                .fetch_one(&pool)
                .await
                .unwrap();
            assert_eq!((text.as_str(), back), (s.as_str(), s));
        }
        for s in [JobSource::Cli, JobSource::EventHook, JobSource::SystemLog] {
            let (text, back): (String, JobSource) = sqlx::query_as("SELECT ?1, ?1")
                .bind(s)
                .fetch_one(&pool)
                .await
                .unwrap();
            assert_eq!((text.as_str(), back), (s.as_str(), s));
        }
        for s in JobState::ALL {
            let (text, back): (String, JobState) = sqlx::query_as("SELECT ?1, ?1")
                .bind(s)
                .fetch_one(&pool)
                .await
                .unwrap();
            assert_eq!((text.as_str(), back), (s.as_str(), s));
        }
    }
}
