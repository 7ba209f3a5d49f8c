//! The offboarding breaker's SQL: how many users automatic jobs (event hook, System Log)
//! started offboarding in a window, holding a job (`held`), and releasing held jobs (back to
//! `queued`, with `released_at` set so the breaker lets them through). Holding a job queues
//! its `offboarding_held` notification in the same transaction.

use chrono::{DateTime, Utc};

use super::{Error, JobRow, JobSource, JobState, Store, insert_held_event, ts};

impl Store {
    /// Distinct users whose automatic offboarding started at or after `since`, other than
    /// job `except`, held or skipped ones (neither offboarded anyone); and whether `user_id`
    /// is among them.
    pub async fn automatic_users_since(
        &self,
        since: DateTime<Utc>,
        except: i64,
        user_id: &str,
    ) -> Result<(u64, bool), Error> {
        let users: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT user_id FROM offboarding_jobs
             WHERE source IN (?, ?) AND started_at >= ? AND id != ? AND state NOT IN (?, ?)",
        )
        .bind(JobSource::EventHook)
        .bind(JobSource::SystemLog)
        .bind(ts(since))
        .bind(except)
        .bind(JobState::Held)
        .bind(JobState::Skipped)
        .fetch_all(&self.pool)
        .await?;
        let known = users.iter().any(|u| u == user_id);
        Ok((users.len() as u64, known))
    }

    /// Holds a claimed job: it waits for `revokd offboard release`. The `offboarding_held`
    /// notification is queued in the same transaction.
    pub async fn hold_job(&self, id: i64, why: &str) -> Result<(), Error> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        // Held as claimed, before any try: the claim's attempt is given back.
        sqlx::query(
            "UPDATE offboarding_jobs SET state = ?, runner = NULL, error = ?,
                attempts = MAX(attempts - 1, 0) WHERE id = ?",
        )
        .bind(JobState::Held)
        .bind(why)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        insert_held_event(&mut tx, id, why, Utc::now()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Lets held jobs run: the ones named, or every held job when `ids` is empty. Returns the
    /// jobs released.
    pub async fn release_held_jobs(
        &self,
        ids: &[i64],
        now: DateTime<Utc>,
    ) -> Result<Vec<JobRow>, Error> {
        // One statement: a job two releases race for is released (and reported) once.
        let named = serde_json::to_string(ids).unwrap_or_else(|_| "[]".to_owned());
        let mut released: Vec<JobRow> = sqlx::query_as(
            "UPDATE offboarding_jobs SET state = ?3, released_at = ?1, error = NULL,
                next_attempt_at = NULL
             WHERE state = ?4 AND (?2 = '[]' OR id IN (SELECT value FROM json_each(?2)))
             RETURNING id, user_id, source, event_id, event_type, reason, state, created_at,
                started_at, finished_at, next_attempt_at, attempts, runner, error",
        )
        .bind(ts(now))
        .bind(named)
        .bind(JobState::Queued)
        .bind(JobState::Held)
        .fetch_all(&self.pool)
        .await?;
        released.sort_by_key(|j| j.id);
        Ok(released)
    }

    /// Whether `revokd offboard release` let job `id` through the breaker.
    pub async fn job_released(&self, id: i64) -> Result<bool, Error> {
        let at: Option<Option<String>> =
            sqlx::query_scalar("SELECT released_at FROM offboarding_jobs WHERE id = ?")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(at.flatten().is_some())
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use crate::store::Store;

    #[sqlx::test(migrations = "./migrations")]
    async fn two_releases_at_once_release_each_held_job_once(pool: sqlx::SqlitePool) {
        let store = Store::from_pool(pool).await.unwrap();
        for n in 1..=100 {
            let user = format!("00u{n}");
            sqlx::query(
                "INSERT INTO offboarding_jobs (user_id, source, state, created_at)
                 VALUES (?, 'event_hook', 'held', ?)",
            )
            .bind(&user)
            .bind(crate::store::ts(Utc::now()))
            .execute(store.pool())
            .await
            .unwrap();
        }
        let every: Vec<i64> = (1..=100).collect();
        let (a, b) = tokio::join!(
            store.release_held_jobs(&[], Utc::now()),
            store.release_held_jobs(&every, Utc::now())
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a.len() + b.len(), 100, "{} + {}", a.len(), b.len());
        let named = store.release_held_jobs(&[2], Utc::now()).await.unwrap();
        assert!(named.is_empty(), "a job released already is not held");
    }
}
