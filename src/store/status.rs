//! What `revokd status` reads: the last sweeps, revocation intents and offboarding jobs by
//! state, and the database's size, in one read transaction so the numbers agree with each
//! other. Read-only.

use chrono::{DateTime, TimeDelta, Utc};

use super::{DeliveryState, Error, JobState, Store, Trigger, daemon, ts};

/// One recent sweep, as `revokd status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SweepBrief {
    pub id: i64,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub trigger: String,
    pub mode: String,
    pub status: String,
    /// Wall time from start to finish, in milliseconds (`None` while running).
    pub duration_ms: Option<i64>,
    pub targets_total: i64,
    pub targets_failed: i64,
    pub revocations_done: i64,
    pub revocations_failed: i64,
    pub error: Option<String>,
}

/// Counts of the database at one instant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusCounts {
    /// The newest sweeps first.
    pub recent_sweeps: Vec<SweepBrief>,
    /// The status of the sweep that finished last.
    pub last_finished_status: Option<String>,
    /// The trigger of the sweep that finished last.
    pub last_finished_trigger: Option<String>,
    /// The status of the scheduled sweep (`trigger = 'schedule'`) that finished last, and
    /// when it finished: an ad-hoc sweep that finished after it must not hide a failing
    /// schedule.
    pub last_scheduled_status: Option<String>,
    pub last_scheduled_finished_at: Option<String>,
    /// Revocation intents at their latest state (`v_revocation_state`), by state.
    pub revocations_by_state: Vec<(String, i64)>,
    /// `offboarding_jobs` by state.
    pub jobs_by_state: Vec<(String, i64)>,
    /// `notify_deliveries` by state (`failed`: given up).
    pub deliveries_by_state: Vec<(String, i64)>,
    /// Deliveries given up within the day before the reading (as `RevokdNotificationGivenUp`
    /// judges them).
    pub deliveries_given_up_last_day: i64,
    /// When the newest sweep of any trigger that ended `ok` finished, else when the first
    /// sweep started: the instant since which no sweep has succeeded. `None` until a daemon
    /// ran a scheduled sweep on the database (a demo's, or one only ever swept by hand, has
    /// no schedule to judge).
    pub no_sweep_ok_since: Option<String>,
    /// Failed offboarding jobs not settled since: no later job of the user `done` whose run was
    /// `enforce` (nor, for a failed preview that never ran for real, one `done` as a preview;
    /// `v_offboarding_problems`).
    pub failed_jobs_unresolved: i64,
    /// Pages in use times the page size, in bytes.
    pub database_bytes: i64,
}

impl Store {
    /// The `limit` newest sweeps and every count `revokd status` shows, from one read
    /// transaction, as of `now`.
    pub async fn status_counts(
        &self,
        limit: i64,
        now: DateTime<Utc>,
    ) -> Result<StatusCounts, Error> {
        let mut tx = self.pool.begin().await?;
        let recent_sweeps = sqlx::query_as(
            "SELECT id, started_at, finished_at, trigger, mode, status,
                    CAST(ROUND((julianday(finished_at) - julianday(started_at)) * 86400000)
                         AS INTEGER) AS duration_ms,
                    targets_total, targets_failed, revocations_done, revocations_failed, error
             FROM sweeps ORDER BY id DESC LIMIT ?",
        )
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        let (last_finished_status, last_finished_trigger) =
            daemon::last_finished(&mut tx).await?.unzip();
        let last_scheduled: Option<(String, String)> = sqlx::query_as(
            "SELECT status, finished_at FROM sweeps WHERE finished_at IS NOT NULL AND trigger = ?
             ORDER BY finished_at DESC, id DESC LIMIT 1",
        )
        .bind(Trigger::Schedule)
        .fetch_optional(&mut *tx)
        .await?;
        let (last_scheduled_status, last_scheduled_finished_at) = last_scheduled.unzip();
        let revocations_by_state = daemon::by_state(&mut tx, "v_revocation_state").await?;
        let jobs_by_state = daemon::by_state(&mut tx, "offboarding_jobs").await?;
        let deliveries_by_state = daemon::by_state(&mut tx, "notify_deliveries").await?;
        let deliveries_given_up_last_day = sqlx::query_scalar(
            "SELECT COUNT(*) FROM notify_deliveries WHERE state = ? AND next_attempt_at >= ?",
        )
        .bind(DeliveryState::Failed)
        .bind(ts(now - TimeDelta::days(1)))
        .fetch_one(&mut *tx)
        .await?;
        let scheduled: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM sweeps WHERE trigger = ?)")
                .bind(Trigger::Schedule)
                .fetch_one(&mut *tx)
                .await?;
        let no_sweep_ok_since = match scheduled {
            false => None,
            true => match daemon::last_ok_finished(&mut tx).await? {
                Some(at) => Some(at),
                None => {
                    sqlx::query_scalar("SELECT MIN(started_at) FROM sweeps")
                        .fetch_one(&mut *tx)
                        .await?
                }
            },
        };
        // The view holds the rule: failed, and not settled by a later job since.
        let failed_jobs_unresolved =
            sqlx::query_scalar("SELECT COUNT(*) FROM v_offboarding_problems WHERE state = ?")
                .bind(JobState::Failed)
                .fetch_one(&mut *tx)
                .await?;
        let database_bytes = sqlx::query_scalar(
            "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
        )
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(StatusCounts {
            recent_sweeps,
            last_finished_status,
            last_finished_trigger,
            last_scheduled_status,
            last_scheduled_finished_at,
            revocations_by_state,
            jobs_by_state,
            deliveries_by_state,
            deliveries_given_up_last_day,
            no_sweep_ok_since,
            failed_jobs_unresolved,
            database_bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Mode;
    use crate::store::{NewJob, SweepCounts, SweepStatus, Trigger};

    #[sqlx::test(migrations = "./migrations")]
    async fn status_counts_sweeps_newest_first_with_durations_and_jobs_by_state(
        pool: sqlx::SqlitePool,
    ) {
        let store = Store::from_pool(pool).await.unwrap();
        let t0 = Utc::now();
        let first = store
            .begin_sweep(Trigger::Cli, Mode::DryRun, t0, "test")
            .await
            .unwrap();
        let counts = SweepCounts::default();
        store
            .finish_sweep(
                first,
                SweepStatus::Failed,
                &counts,
                Some("boom"),
                t0 + TimeDelta::milliseconds(1500),
            )
            .await
            .unwrap();
        let second = store
            .begin_sweep(Trigger::Schedule, Mode::Enforce, t0, "test")
            .await
            .unwrap();
        for user in ["00u1", "00u2"] {
            let job = NewJob {
                user_id: user.into(),
                source: crate::store::JobSource::Cli,
                event_id: None,
                event_type: None,
                reason: None,
            };
            let id = store.start_job(&job, "test", t0).await.unwrap();
            store
                .finish_job(id, crate::store::JobState::Failed, Some("x"), t0)
                .await
                .unwrap();
        }

        let s = store.status_counts(5, Utc::now()).await.unwrap();

        let ids: Vec<i64> = s.recent_sweeps.iter().map(|b| b.id).collect();
        assert_eq!(ids, vec![second, first]);
        assert_eq!(s.recent_sweeps[1].duration_ms, Some(1500));
        assert_eq!(s.recent_sweeps[0].duration_ms, None);
        assert_eq!(s.last_finished_status.as_deref(), Some("failed"));
        assert_eq!(s.jobs_by_state, vec![("failed".to_owned(), 2)]);
        assert!(s.revocations_by_state.is_empty());
        assert!(s.database_bytes > 0);
    }
}
