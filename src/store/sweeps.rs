//! The `sweeps` table: one row per pass, opened `running` and closed with its counts.

use chrono::{DateTime, Utc};

use super::outbox::{NewEvent, insert_event};
use super::{Error, Store, ts};
use crate::config::Mode;

/// What started a sweep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(rename_all = "snake_case")]
pub enum Trigger {
    Schedule,
    Cli,
    Demo,
    Offboard,
}

impl Trigger {
    /// The spelling stored in `sweeps.trigger`.
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Schedule => "schedule",
            Trigger::Cli => "cli",
            Trigger::Demo => "demo",
            Trigger::Offboard => "offboard",
        }
    }
}

/// How a sweep ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(rename_all = "snake_case")]
pub enum SweepStatus {
    Running,
    /// Every target listed, every revocation done.
    Ok,
    /// Finished, but some targets or revocations failed, or the safety guard tripped.
    Partial,
    /// Nothing could be done (every target failed, or a fatal error).
    Failed,
    /// Cut short by shutdown.
    Aborted,
}

impl SweepStatus {
    /// The spelling stored in `sweeps.status`.
    pub fn as_str(self) -> &'static str {
        match self {
            SweepStatus::Running => "running",
            SweepStatus::Ok => "ok",
            SweepStatus::Partial => "partial",
            SweepStatus::Failed => "failed",
            SweepStatus::Aborted => "aborted",
        }
    }
}

/// The counters a sweep row closes with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepCounts {
    pub targets_total: u64,
    pub targets_failed: u64,
    pub tokens_seen: u64,
    pub revocations_planned: u64,
    pub revocations_done: u64,
    pub revocations_failed: u64,
    pub http_requests: u64,
    pub http_429: u64,
    pub http_429_concurrency: u64,
    pub wait_ms: u64,
    /// Waits on the rate-limit budget, summed over requests.
    pub budget_wait_ms: u64,
    /// Wall time during which at least one request was held back by the budget.
    pub budget_wall_ms: u64,
    pub revocations_retried: u64,
    pub revocations_irrevocable: u64,
    pub tokens_reappeared: u64,
}

/// A `sweeps` row as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SweepRow {
    pub id: i64,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub trigger: String,
    pub mode: String,
    pub status: String,
    pub targets_total: i64,
    pub targets_failed: i64,
    pub tokens_seen: i64,
    pub revocations_planned: i64,
    pub revocations_done: i64,
    pub revocations_failed: i64,
    pub http_requests: i64,
    pub http_429: i64,
    pub http_429_concurrency: i64,
    pub wait_ms: i64,
    pub budget_wait_ms: i64,
    pub runner: Option<String>,
    pub revocations_retried: i64,
    pub revocations_irrevocable: i64,
    pub tokens_reappeared: i64,
    pub error: Option<String>,
    pub budget_wall_ms: i64,
}

fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl Store {
    /// Opens a sweep row in state `running`, run by `runner` (`host:pid:start`); returns its id.
    pub async fn begin_sweep(
        &self,
        trigger: Trigger,
        mode: Mode,
        started_at: DateTime<Utc>,
        runner: &str,
    ) -> Result<i64, Error> {
        let id = sqlx::query_scalar(
            "INSERT INTO sweeps (started_at, trigger, mode, status, runner) VALUES (?, ?, ?, ?, ?)
             RETURNING id",
        )
        .bind(ts(started_at))
        .bind(trigger)
        .bind(mode)
        .bind(SweepStatus::Running)
        .bind(runner)
        .fetch_one(&self.pool)
        .await?;
        Ok(id)
    }

    /// Marks sweep `id` as a pass over pairs named for it alone (`revokd sweep --target`).
    pub async fn mark_named_targets(&self, id: i64) -> Result<(), Error> {
        sqlx::query("UPDATE sweeps SET named_targets = 1 WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records that sweep `id` decides by `rules` (a JSON array, see
    /// [`crate::policy::PolicySet::recorded_rules`]): each distinct set is stored once in
    /// `policy_sets`, and `sweeps.policy_set_id` names it.
    pub async fn record_sweep_rules(
        &self,
        id: i64,
        rules: &str,
        at: DateTime<Utc>,
    ) -> Result<(), Error> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO policy_sets (rules, first_used_at) VALUES (?, ?)
             ON CONFLICT (rules) DO NOTHING",
        )
        .bind(rules)
        .bind(ts(at))
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE sweeps SET policy_set_id = (SELECT id FROM policy_sets WHERE rules = ?)
             WHERE id = ?",
        )
        .bind(rules)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Closes a sweep row with its status and counts; a `failed` sweep enqueues a
    /// `sweep_failed` notification in the same transaction.
    pub async fn finish_sweep(
        &self,
        id: i64,
        status: SweepStatus,
        counts: &SweepCounts,
        error: Option<&str>,
        finished_at: DateTime<Utc>,
    ) -> Result<(), Error> {
        self.finish_sweep_noting(id, status, counts, error, None, finished_at)
            .await
    }

    /// [`Store::finish_sweep`] for a sweep whose blast-radius guard may have tripped: `guard`
    /// (why it tripped) is stored in `error` when there is no other error, and enqueues a
    /// `guard_tripped` notification in the same transaction.
    pub async fn finish_sweep_noting(
        &self,
        id: i64,
        status: SweepStatus,
        counts: &SweepCounts,
        error: Option<&str>,
        guard: Option<&str>,
        finished_at: DateTime<Utc>,
    ) -> Result<(), Error> {
        let at = ts(finished_at);
        let mut tx = self.pool.begin().await?;
        let row: Option<(String, String)> = sqlx::query_as(
            "UPDATE sweeps SET finished_at = ?, status = ?, targets_total = ?, targets_failed = ?,
                tokens_seen = ?, revocations_planned = ?, revocations_done = ?, revocations_failed = ?,
                http_requests = ?, http_429 = ?, http_429_concurrency = ?, wait_ms = ?, budget_wait_ms = ?, revocations_retried = ?,
                revocations_irrevocable = ?, tokens_reappeared = ?, error = ?, budget_wall_ms = ?
             WHERE id = ? RETURNING trigger, mode",
        )
        .bind(&at)
        .bind(status)
        .bind(int(counts.targets_total))
        .bind(int(counts.targets_failed))
        .bind(int(counts.tokens_seen))
        .bind(int(counts.revocations_planned))
        .bind(int(counts.revocations_done))
        .bind(int(counts.revocations_failed))
        .bind(int(counts.http_requests))
        .bind(int(counts.http_429))
        .bind(int(counts.http_429_concurrency))
        .bind(int(counts.wait_ms))
        .bind(int(counts.budget_wait_ms))
        .bind(int(counts.revocations_retried))
        .bind(int(counts.revocations_irrevocable))
        .bind(int(counts.tokens_reappeared))
        .bind(error.or(guard))
        .bind(int(counts.budget_wall_ms))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some((trigger, mode)) = row {
            if status == SweepStatus::Failed {
                let event = NewEvent::sweep_failed(id, &trigger, &mode, error.or(guard), &at);
                insert_event(&mut tx, &event).await?;
            }
            if let Some(reason) = guard {
                let event = NewEvent::guard_tripped(id, &trigger, &mode, reason, &at);
                insert_event(&mut tx, &event).await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Enqueues the `guard_tripped` event of sweep `id` as the guard trips, before the sweep
    /// records what it held back, so a sweep cut before its end is still notified. Closing
    /// the sweep ([`Store::finish_sweep_noting`]) enqueues the same event again, a no-op.
    pub async fn note_guard_tripped(
        &self,
        id: i64,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<(), Error> {
        let mut tx = self.pool.begin().await?;
        let row: Option<(String, String)> =
            sqlx::query_as("SELECT trigger, mode FROM sweeps WHERE id = ?")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        if let Some((trigger, mode)) = row {
            let event = NewEvent::guard_tripped(id, &trigger, &mode, reason, &ts(at));
            insert_event(&mut tx, &event).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// How many rules the latest sweep that recorded its policy set decided by, if any did.
    pub async fn latest_rule_count(&self) -> Result<Option<i64>, Error> {
        Ok(sqlx::query_scalar(
            "SELECT json_array_length(p.rules) FROM sweeps s
             JOIN policy_sets p ON p.id = s.policy_set_id ORDER BY s.id DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Sweeps still marked `running`, with their runners.
    pub async fn running_sweeps(&self) -> Result<Vec<(i64, Option<String>)>, Error> {
        Ok(
            sqlx::query_as("SELECT id, runner FROM sweeps WHERE status = ? ORDER BY id")
                .bind(SweepStatus::Running)
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// Closes a sweep whose process is gone as `aborted`, keeping its counts.
    pub async fn abort_sweep(&self, id: i64, reason: &str, at: DateTime<Utc>) -> Result<(), Error> {
        sqlx::query(
            "UPDATE sweeps SET status = ?, finished_at = ?, error = ? WHERE id = ? AND status = ?",
        )
        .bind(SweepStatus::Aborted)
        .bind(ts(at))
        .bind(reason)
        .bind(id)
        .bind(SweepStatus::Running)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// One sweep row.
    pub async fn sweep(&self, id: i64) -> Result<Option<SweepRow>, Error> {
        Ok(
            sqlx::query_as::<_, SweepRow>("SELECT * FROM sweeps WHERE id = ?")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }
}

impl Store {
    /// Whether only `revokd demo` wrote this database: every sweep is the demo's, and it
    /// holds no offboarding job and no revocation of another sweep. A database of another
    /// shape (an older schema's tables missing) answers `false`.
    pub async fn holds_only_demo_work(&self) -> bool {
        let others: Result<i64, sqlx::Error> = sqlx::query_scalar(
            "SELECT (SELECT COUNT(*) FROM sweeps WHERE trigger <> ?1)
                  + (SELECT COUNT(*) FROM offboarding_jobs)
                  + (SELECT COUNT(*) FROM revocations WHERE sweep_id IS NULL
                       OR sweep_id NOT IN (SELECT id FROM sweeps WHERE trigger = ?1))",
        )
        .bind(Trigger::Demo)
        .fetch_one(&self.pool)
        .await;
        matches!(others, Ok(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[sqlx::test(migrations = "./migrations")]
    async fn a_sweep_row_opens_running_and_closes_with_its_counts(pool: sqlx::SqlitePool) {
        let store = Store::from_pool(pool).await.unwrap();
        let now = Utc::now();
        let id = store
            .begin_sweep(Trigger::Cli, Mode::Enforce, now, "host:1:1")
            .await
            .unwrap();
        assert_eq!(store.sweep(id).await.unwrap().unwrap().status, "running");
        assert_eq!(
            store.running_sweeps().await.unwrap(),
            vec![(id, Some("host:1:1".into()))]
        );
        let counts = SweepCounts {
            targets_total: 3,
            targets_failed: 1,
            http_429: 2,
            ..Default::default()
        };
        store
            .finish_sweep(id, SweepStatus::Partial, &counts, Some("why"), now)
            .await
            .unwrap();
        let row = store.sweep(id).await.unwrap().unwrap();
        assert_eq!(
            (
                row.status.as_str(),
                row.targets_total,
                row.targets_failed,
                row.http_429
            ),
            ("partial", 3, 1, 2)
        );
        assert_eq!(
            (
                row.mode.as_str(),
                row.trigger.as_str(),
                row.error.as_deref()
            ),
            ("enforce", "cli", Some("why"))
        );
        assert_eq!(row.finished_at, Some(ts(now)));
        assert!(store.running_sweeps().await.unwrap().is_empty());
    }

    #[sqlx::test(migrations = "./migrations")]
    async fn an_interrupted_sweep_is_closed_as_aborted(pool: sqlx::SqlitePool) {
        let store = Store::from_pool(pool).await.unwrap();
        let now = Utc::now();
        let id = store
            .begin_sweep(Trigger::Schedule, Mode::Enforce, now, "host:2:2")
            .await
            .unwrap();
        store.abort_sweep(id, "process gone", now).await.unwrap();
        let row = store.sweep(id).await.unwrap().unwrap();
        assert_eq!(
            (row.status.as_str(), row.error.as_deref()),
            ("aborted", Some("process gone"))
        );
    }
}
