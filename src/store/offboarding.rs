//! The `offboarding_jobs` queue and the `system_log_cursor`: enqueueing (de-duplicated by
//! Okta event uuid), claiming the next due job, finishing or re-queueing it, and handing the
//! jobs of dead processes back to the queue. A job's failure (or hold) enqueues its
//! notification in the same transaction.

use chrono::{DateTime, Utc};
use sqlx::SqliteConnection;

use super::outbox::{JobFacts, NewEvent, insert_event};
use super::{Error, JobSource, JobState, Store, ts};
use crate::config::Mode;

/// A job to enqueue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    pub user_id: String,
    pub source: JobSource,
    /// The Okta event uuid; `None` for `cli`.
    pub event_id: Option<String>,
    pub event_type: Option<String>,
    pub reason: Option<String>,
}

/// An `offboarding_jobs` row.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct JobRow {
    pub id: i64,
    pub user_id: String,
    pub source: JobSource,
    pub event_id: Option<String>,
    pub event_type: Option<String>,
    pub reason: Option<String>,
    pub state: JobState,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub next_attempt_at: Option<String>,
    pub attempts: i64,
    pub runner: Option<String>,
    pub error: Option<String>,
}

const COLUMNS: &str = "id, user_id, source, event_id, event_type, reason, state, created_at, \
    started_at, finished_at, next_attempt_at, attempts, runner, error";

/// Where the System Log poller stands: Okta's `next` link, the query that link answers (the
/// first URL of the poller's query with `since` at the Unix epoch; `None` when saved before
/// it was kept), the `published` instant of the latest event passed (`position`), and when
/// the link last moved.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SystemLogCursor {
    pub next_url: String,
    pub query: Option<String>,
    pub position: Option<String>,
    pub updated_at: String,
}

/// The offboarding jobs not finished (`queued` or `running`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WaitingJobs {
    pub count: i64,
    /// Since when the one waiting longest has waited: its `released_at` if it was held and
    /// released, else its `created_at`.
    pub oldest: Option<DateTime<Utc>>,
}

impl Store {
    /// Enqueues jobs in one transaction (committed when this returns). An event uuid already
    /// known makes no second job. Returns the ids of the jobs created.
    pub async fn enqueue_jobs(
        &self,
        jobs: &[NewJob],
        now: DateTime<Utc>,
    ) -> Result<Vec<i64>, Error> {
        let mut tx = self.pool.begin().await?;
        let created = insert_jobs(&mut tx, jobs, &ts(now)).await?;
        tx.commit().await?;
        Ok(created)
    }

    /// Creates a job already `running` in this process (the CLI runs its own job).
    pub async fn start_job(
        &self,
        job: &NewJob,
        runner: &str,
        now: DateTime<Utc>,
    ) -> Result<i64, Error> {
        let at = ts(now);
        let id = sqlx::query_scalar(
            "INSERT INTO offboarding_jobs (user_id, source, event_id, event_type, reason, state,
                created_at, started_at, attempts, runner)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?) RETURNING id",
        )
        .bind(&job.user_id)
        .bind(job.source)
        .bind(&job.event_id)
        .bind(&job.event_type)
        .bind(&job.reason)
        .bind(JobState::Running)
        .bind(&at)
        .bind(&at)
        .bind(runner)
        .fetch_one(&self.pool)
        .await?;
        Ok(id)
    }

    /// Claims the oldest due `queued` job for `runner`: it becomes `running`, attempts + 1.
    pub async fn claim_job(
        &self,
        runner: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<JobRow>, Error> {
        let at = ts(now);
        let row = sqlx::query_as::<_, JobRow>(&format!(
            "UPDATE offboarding_jobs SET state = ?3, attempts = attempts + 1,
                started_at = ?1, runner = ?2, next_attempt_at = NULL
             WHERE id = (SELECT id FROM offboarding_jobs WHERE state = ?4
                         AND (next_attempt_at IS NULL OR next_attempt_at <= ?1) ORDER BY id LIMIT 1)
             RETURNING {COLUMNS}"
        ))
        .bind(&at)
        .bind(runner)
        .bind(JobState::Running)
        .bind(JobState::Queued)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row)
    }

    /// Records the mode the job runs in now: a preview (`dry-run`) offboards no one, so it
    /// settles no failed job and puts no user among the offboarded (`v_offboarded_users`).
    pub async fn set_job_mode(&self, id: i64, mode: Mode) -> Result<(), Error> {
        sqlx::query("UPDATE offboarding_jobs SET mode = ? WHERE id = ?")
            .bind(mode)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Ends a job: `done`, `failed` or `skipped`, with its error. A `failed` job enqueues an
    /// `offboarding_failed` notification in the same transaction.
    pub async fn finish_job(
        &self,
        id: i64,
        state: JobState,
        error: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        self.close_job(id, state, error, now, None).await?;
        Ok(())
    }

    /// Fails a job left `running` by the dead process `runner`, unless it has moved on since
    /// (that process finished it, or another took it): returns whether it did.
    pub async fn fail_dead_job(
        &self,
        id: i64,
        runner: Option<&str>,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, Error> {
        self.close_job(id, JobState::Failed, Some(error), now, Some(runner))
            .await
    }

    /// [`Store::finish_job`], only while the job is `running` under `runner` when given.
    async fn close_job(
        &self,
        id: i64,
        state: JobState,
        error: Option<&str>,
        now: DateTime<Utc>,
        runner: Option<Option<&str>>,
    ) -> Result<bool, Error> {
        let at = ts(now);
        let mut tx = self.pool.begin().await?;
        let job: Option<JobFacts> = sqlx::query_as(
            "UPDATE offboarding_jobs SET state = ?, error = ?, finished_at = ? WHERE id = ?
               AND (?5 = 0 OR (state = ?6 AND runner IS ?7))
             RETURNING id, user_id, source, attempts",
        )
        .bind(state)
        .bind(error)
        .bind(&at)
        .bind(id)
        .bind(runner.is_some())
        .bind(JobState::Running)
        .bind(runner.flatten())
        .fetch_optional(&mut *tx)
        .await?;
        let closed = job.is_some();
        if let Some(job) = job.filter(|_| state == JobState::Failed) {
            insert_event(&mut tx, &NewEvent::offboarding_failed(&job, error, &at)).await?;
        }
        tx.commit().await?;
        Ok(closed)
    }

    /// Puts a failed attempt back in the queue, not to be picked up before `next_attempt_at`.
    pub async fn requeue_job(
        &self,
        id: i64,
        error: &str,
        next_attempt_at: DateTime<Utc>,
    ) -> Result<(), Error> {
        sqlx::query(
            "UPDATE offboarding_jobs SET state = ?, error = ?, next_attempt_at = ? WHERE id = ?",
        )
        .bind(JobState::Queued)
        .bind(error)
        .bind(ts(next_attempt_at))
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Puts a job that could not start (another process holds the enforcer lease) back in the
    /// queue, due at `due`, without counting the attempt.
    pub async fn defer_job(&self, id: i64, why: &str, due: DateTime<Utc>) -> Result<(), Error> {
        sqlx::query(
            "UPDATE offboarding_jobs SET state = ?, error = ?, next_attempt_at = ?,
                attempts = max(attempts - 1, 0) WHERE id = ? AND state = ?",
        )
        .bind(JobState::Queued)
        .bind(why)
        .bind(ts(due))
        .bind(id)
        .bind(JobState::Running)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Every `running` job, oldest first.
    pub async fn running_jobs(&self) -> Result<Vec<JobRow>, Error> {
        let rows = sqlx::query_as::<_, JobRow>(&format!(
            "SELECT {COLUMNS} FROM offboarding_jobs WHERE state = ? ORDER BY id"
        ))
        .bind(JobState::Running)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    /// Hands a `running` job back to the queue, due at once, while it is still running under
    /// `runner` (its process died, or its outcome could not be recorded): a job another process
    /// took meanwhile is left alone. Returns whether it was handed back.
    pub async fn release_job(&self, id: i64, runner: Option<&str>) -> Result<bool, Error> {
        let done = sqlx::query(
            "UPDATE offboarding_jobs SET state = ?, runner = NULL, next_attempt_at = NULL
             WHERE id = ? AND state = ? AND runner IS ?",
        )
        .bind(JobState::Queued)
        .bind(id)
        .bind(JobState::Running)
        .bind(runner)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// One job.
    pub async fn job(&self, id: i64) -> Result<Option<JobRow>, Error> {
        let row = sqlx::query_as::<_, JobRow>(&format!(
            "SELECT {COLUMNS} FROM offboarding_jobs WHERE id = ?"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row)
    }

    /// Jobs not finished (`queued` or `running`): how many, and since when the one waiting
    /// longest has waited (its enqueueing, or its release if it was held).
    pub async fn waiting_jobs(&self) -> Result<WaitingJobs, Error> {
        let (count, oldest): (i64, Option<String>) = sqlx::query_as(
            "SELECT COUNT(*), MIN(COALESCE(released_at, created_at)) FROM offboarding_jobs
             WHERE state IN (?, ?)",
        )
        .bind(JobState::Queued)
        .bind(JobState::Running)
        .fetch_one(&self.pool)
        .await?;
        let oldest = (oldest.map(|t| t.parse::<DateTime<Utc>>()).transpose())
            .map_err(|e| sqlx::Error::Decode(e.into()))?;
        Ok(WaitingJobs { count, oldest })
    }

    /// When the earliest queued job that is waiting out a backoff becomes due.
    pub async fn next_job_due(&self) -> Result<Option<String>, Error> {
        let at =
            sqlx::query_scalar("SELECT MIN(next_attempt_at) FROM offboarding_jobs WHERE state = ?")
                .bind(JobState::Queued)
                .fetch_one(&self.pool)
                .await?;
        Ok(at)
    }

    /// The persisted System Log cursor.
    pub async fn system_log_cursor(&self) -> Result<Option<SystemLogCursor>, Error> {
        Ok(sqlx::query_as(
            "SELECT next_url, query, position, updated_at FROM system_log_cursor WHERE id = 1",
        )
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Persists the System Log `next` link, and enqueues the jobs found on the page that gave
    /// it, in one transaction: a crash never skips events nor loses the cursor. A poll that
    /// found nothing new (no job, the same link) writes nothing, so an idle poller commits
    /// nothing (`updated_at` is when the link last changed).
    pub async fn save_system_log_page(
        &self,
        jobs: &[NewJob],
        next_url: &str,
        query: &str,
        position: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Vec<i64>, Error> {
        let mut tx = self.pool.begin().await?;
        let created = insert_jobs(&mut tx, jobs, &ts(now)).await?;
        sqlx::query(
            "INSERT INTO system_log_cursor (id, next_url, query, position, updated_at)
             VALUES (1, ?, ?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET next_url = excluded.next_url, query = excluded.query,
                 position = COALESCE(excluded.position, position), updated_at = excluded.updated_at
             WHERE next_url IS NOT excluded.next_url OR query IS NOT excluded.query",
        )
        .bind(next_url)
        .bind(query)
        .bind(position)
        .bind(ts(now))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(created)
    }
}

/// Enqueues the `offboarding_held` notification of job `id` on `conn`, inside the transaction
/// that holds the job (by `safety.max_offboarded_users_per_hour`), saying why. Returns whether
/// it is new (a job held twice is notified once).
pub async fn insert_held_event(
    conn: &mut SqliteConnection,
    id: i64,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<bool, Error> {
    let job: Option<JobFacts> =
        sqlx::query_as("SELECT id, user_id, source, attempts FROM offboarding_jobs WHERE id = ?")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    match job {
        Some(job) => insert_event(conn, &NewEvent::offboarding_held(&job, reason, &ts(now))).await,
        None => Ok(false),
    }
}

async fn insert_jobs(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    jobs: &[NewJob],
    at: &str,
) -> Result<Vec<i64>, Error> {
    let mut created = Vec::new();
    for job in jobs {
        let id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO offboarding_jobs (user_id, source, event_id, event_type, reason, state, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (event_id) DO NOTHING RETURNING id",
        )
        .bind(&job.user_id)
        .bind(job.source)
        .bind(&job.event_id)
        .bind(&job.event_type)
        .bind(&job.reason)
        .bind(JobState::Queued)
        .bind(at)
        .fetch_optional(&mut **tx)
        .await?;
        created.extend(id);
    }
    Ok(created)
}

#[cfg(test)]
#[path = "tests_jobs.rs"]
pub(super) mod tests;
