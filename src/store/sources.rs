//! The vocabularies of the `source` and queue `state` columns: where a listed pair came from
//! (`targets.source`), who asked for an offboarding (`offboarding_jobs.source`), where its
//! job stands (`offboarding_jobs.state`) and where a notification's delivery to one receiver
//! stands (`notify_deliveries.state`). Each variant is stored as the TEXT its table's
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
    /// Not carried out: its event no longer stands (Okta shows the user back), so nothing
    /// was revoked.
    Skipped,
}

impl JobState {
    /// Every state, in the order a job can pass through them.
    pub const ALL: [JobState; 6] = [
        JobState::Queued,
        JobState::Running,
        JobState::Held,
        JobState::Done,
        JobState::Failed,
        JobState::Skipped,
    ];

    /// The spelling stored in `offboarding_jobs.state` and used as a metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Held => "held",
            JobState::Done => "done",
            JobState::Failed => "failed",
            JobState::Skipped => "skipped",
        }
    }
}

/// Where one notification's delivery to one receiver stands (`notify_deliveries.state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, sqlx::Type)]
#[sqlx(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Due (again) at its `next_attempt_at`.
    Pending,
    /// The receiver answered 2xx.
    Delivered,
    /// Given up.
    Failed,
}

impl DeliveryState {
    /// Every state.
    pub const ALL: [DeliveryState; 3] = [
        DeliveryState::Pending,
        DeliveryState::Delivered,
        DeliveryState::Failed,
    ];

    /// The spelling stored in `notify_deliveries.state`.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
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

display_as_str!(TargetSource, JobSource, JobState, DeliveryState);

#[cfg(test)]
mod tests {
    use std::fmt::Debug;

    use sqlx::{Sqlite, SqlitePool};

    use super::*;
    use crate::config::{EventKind, Mode};
    use crate::store::{RevocationState, RevocationTrigger, SweepStatus, TargetOutcome, Trigger};

    /// Each value binds as its `as_str` spelling and reads back as itself.
    async fn round_trip<T>(pool: &SqlitePool, values: &[T], spell: fn(T) -> &'static str)
    where
        T: for<'q> sqlx::Encode<'q, Sqlite>
            + for<'r> sqlx::Decode<'r, Sqlite>
            + sqlx::Type<Sqlite>
            + Copy
            + PartialEq
            + Debug
            + Send
            + Unpin
            + 'static,
    {
        for &v in values {
            let (text, back): (String, T) = sqlx::query_as("SELECT ?1, ?1")
                .bind(v)
                .fetch_one(pool)
                .await
                .unwrap();
            assert_eq!((text.as_str(), back), (spell(v), v));
        }
    }

    #[sqlx::test(migrations = "./migrations")]
    async fn each_enum_binds_and_reads_as_its_stored_spelling(pool: SqlitePool) {
        let sources = [
            TargetSource::Config,
            TargetSource::Discovered,
            TargetSource::Offboard,
        ];
        round_trip(&pool, &sources, TargetSource::as_str).await;
        let jobs = [JobSource::Cli, JobSource::EventHook, JobSource::SystemLog];
        round_trip(&pool, &jobs, JobSource::as_str).await;
        round_trip(&pool, &JobState::ALL, JobState::as_str).await;
        let deliveries = [
            DeliveryState::Pending,
            DeliveryState::Delivered,
            DeliveryState::Failed,
        ];
        round_trip(&pool, &deliveries, DeliveryState::as_str).await;
        round_trip(&pool, &RevocationState::ALL, RevocationState::as_str).await;
        round_trip(&pool, &RevocationTrigger::ALL, RevocationTrigger::as_str).await;
        let triggers = [
            Trigger::Schedule,
            Trigger::Cli,
            Trigger::Demo,
            Trigger::Offboard,
        ];
        round_trip(&pool, &triggers, Trigger::as_str).await;
        let statuses = [
            SweepStatus::Running,
            SweepStatus::Ok,
            SweepStatus::Partial,
            SweepStatus::Failed,
            SweepStatus::Aborted,
        ];
        round_trip(&pool, &statuses, SweepStatus::as_str).await;
        round_trip(&pool, &[Mode::DryRun, Mode::Enforce], Mode::as_str).await;
        round_trip(&pool, &EventKind::ALL, EventKind::as_str).await;
        let outcomes = [TargetOutcome::Ok, TargetOutcome::Failed];
        let spell = |o| match o {
            TargetOutcome::Ok => "ok",
            TargetOutcome::Failed => "failed",
        };
        round_trip(&pool, &outcomes, spell).await;
    }
}
