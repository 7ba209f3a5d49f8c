//! What the daemon reads for `/readyz` and `/metrics`, and how a sweep's row is closed when
//! the daemon cut it short or the sweep died on an error. Read-only apart from
//! [`Store::close_running_sweeps`] and [`Store::fail_sweep`]; never touches `revocations`
//! (append-only).

use chrono::{DateTime, Utc};
use sqlx::SqliteConnection;

use super::outbox::{NewEvent, insert_event};
use super::{DeliveryState, Error, JobState, Store, SweepStatus, Trigger, ts};

/// Counts the daemon exports as Prometheus gauges, read in one transaction so they agree
/// with each other and with the database at one instant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DbGauges {
    /// `SELECT status, COUNT(*) FROM sweeps GROUP BY status`.
    pub sweeps_by_status: Vec<(String, i64)>,
    /// `finished_at` of the newest sweep with status `ok`.
    pub last_ok_sweep_at: Option<String>,
    /// The status of the sweep that finished last.
    pub last_finished_status: Option<String>,
    /// Rows of `v_active_tokens`.
    pub active_tokens: i64,
    /// Revocation intents at their latest state (`v_revocation_state`), by state.
    pub revocations_by_state: Vec<(String, i64)>,
    /// Revocation intents by rule name and latest state (`v_revocation_policies`).
    pub revocations_by_policy: Vec<(String, String, i64)>,
    /// `SELECT state, COUNT(*) FROM offboarding_jobs GROUP BY state`.
    pub offboarding_by_state: Vec<(String, i64)>,
    /// Failed offboarding jobs no later job of their user settled (`v_offboarding_problems`).
    pub offboarding_unsettled_failures: i64,
    /// `SELECT state, COUNT(*) FROM notify_deliveries GROUP BY state`.
    pub deliveries_by_state: Vec<(String, i64)>,
    /// When the latest delivery still given up was given up (its `next_attempt_at`), if any.
    pub last_delivery_given_up_at: Option<String>,
}

impl Store {
    /// `SELECT 1`: whether the database answers.
    pub async fn ping(&self) -> Result<(), Error> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// The status of the sweep that finished last, if any has.
    pub async fn last_finished_sweep_status(&self) -> Result<Option<String>, Error> {
        let mut conn = self.pool.acquire().await?;
        Ok(last_finished(&mut conn).await?.map(|(status, _)| status))
    }

    /// Everything in [`DbGauges`], from one read transaction.
    pub async fn gauges(&self) -> Result<DbGauges, Error> {
        let mut tx = self.pool.begin().await?;
        let sweeps_by_status =
            sqlx::query_as("SELECT status, COUNT(*) FROM sweeps GROUP BY status ORDER BY status")
                .fetch_all(&mut *tx)
                .await?;
        let last_ok_sweep_at = last_ok_finished(&mut tx).await?;
        let last_finished_status = last_finished(&mut tx).await?.map(|(status, _)| status);
        let active_tokens = sqlx::query_scalar("SELECT COUNT(*) FROM v_active_tokens")
            .fetch_one(&mut *tx)
            .await?;
        let revocations_by_state = by_state(&mut tx, "v_revocation_state").await?;
        let revocations_by_policy = sqlx::query_as(
            "SELECT policy, state, COUNT(*) FROM v_revocation_policies
             GROUP BY policy, state ORDER BY policy, state",
        )
        .fetch_all(&mut *tx)
        .await?;
        let offboarding_by_state = by_state(&mut tx, "offboarding_jobs").await?;
        let offboarding_unsettled_failures =
            sqlx::query_scalar("SELECT COUNT(*) FROM v_offboarding_problems WHERE state = ?")
                .bind(JobState::Failed)
                .fetch_one(&mut *tx)
                .await?;
        let deliveries_by_state = by_state(&mut tx, "notify_deliveries").await?;
        let last_delivery_given_up_at = sqlx::query_scalar(
            "SELECT max(next_attempt_at) FROM notify_deliveries WHERE state = ?",
        )
        .bind(DeliveryState::Failed)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(DbGauges {
            sweeps_by_status,
            last_ok_sweep_at,
            last_finished_status,
            active_tokens,
            revocations_by_state,
            revocations_by_policy,
            offboarding_by_state,
            offboarding_unsettled_failures,
            deliveries_by_state,
            last_delivery_given_up_at,
        })
    }

    /// Closes every sweep row of `trigger` still `running` that started at or after
    /// `started_since`, with `status` (`aborted` when shutdown cut the sweep, `failed` when it
    /// died on an error) and `error`. Counts stay as recorded. A `failed` row enqueues a
    /// `sweep_failed` notification in the same transaction. Returns how many rows it closed.
    pub async fn close_running_sweeps(
        &self,
        trigger: Trigger,
        started_since: DateTime<Utc>,
        status: SweepStatus,
        error: &str,
        finished_at: DateTime<Utc>,
    ) -> Result<u64, Error> {
        let at = ts(finished_at);
        let mut tx = self.pool.begin().await?;
        let closed: Vec<(i64, String, String)> = sqlx::query_as(
            "UPDATE sweeps SET status = ?, finished_at = ?, error = ?
             WHERE status = ? AND trigger = ? AND started_at >= ? RETURNING id, mode, trigger",
        )
        .bind(status)
        .bind(&at)
        .bind(error)
        .bind(SweepStatus::Running)
        .bind(trigger)
        .bind(ts(started_since))
        .fetch_all(&mut *tx)
        .await?;
        notify_failed(&mut tx, status, &closed, error, &at).await?;
        tx.commit().await?;
        Ok(closed.len() as u64)
    }

    /// Closes sweep `id` as `failed` with `error` if it is still `running` (the pass died on
    /// an error), with its `sweep_failed` notification in the same transaction, whichever
    /// process ran it. Returns whether it closed the row.
    pub async fn fail_sweep(
        &self,
        id: i64,
        error: &str,
        finished_at: DateTime<Utc>,
    ) -> Result<bool, Error> {
        let at = ts(finished_at);
        let mut tx = self.pool.begin().await?;
        let closed: Vec<(i64, String, String)> = sqlx::query_as(
            "UPDATE sweeps SET status = ?, finished_at = ?, error = ?
             WHERE id = ? AND status = ? RETURNING id, mode, trigger",
        )
        .bind(SweepStatus::Failed)
        .bind(&at)
        .bind(error)
        .bind(id)
        .bind(SweepStatus::Running)
        .fetch_all(&mut *tx)
        .await?;
        notify_failed(&mut tx, SweepStatus::Failed, &closed, error, &at).await?;
        tx.commit().await?;
        Ok(!closed.is_empty())
    }
}

/// The `sweep_failed` notifications of sweep rows just closed `failed` (`(id, mode, trigger)`).
async fn notify_failed(
    tx: &mut SqliteConnection,
    status: SweepStatus,
    closed: &[(i64, String, String)],
    error: &str,
    at: &str,
) -> Result<(), Error> {
    if status == SweepStatus::Failed {
        for (id, mode, trigger) in closed {
            let event = NewEvent::sweep_failed(*id, trigger, mode, Some(error), at);
            insert_event(tx, &event).await?;
        }
    }
    Ok(())
}

/// The status and trigger of the sweep that finished last, if any has (for `/metrics` and
/// `status`).
pub(super) async fn last_finished(
    conn: &mut SqliteConnection,
) -> Result<Option<(String, String)>, Error> {
    Ok(sqlx::query_as(
        "SELECT status, trigger FROM sweeps WHERE finished_at IS NOT NULL
         ORDER BY finished_at DESC, id DESC LIMIT 1",
    )
    .fetch_optional(conn)
    .await?)
}

/// When the newest sweep that ended `ok` finished, if any did (for `/metrics` and `status`).
pub(super) async fn last_ok_finished(conn: &mut SqliteConnection) -> Result<Option<String>, Error> {
    Ok(
        sqlx::query_scalar("SELECT MAX(finished_at) FROM sweeps WHERE status = ?")
            .bind(SweepStatus::Ok)
            .fetch_one(conn)
            .await?,
    )
}

/// Rows of `table` by `state`, in state order: revocation intents at their latest state
/// (`v_revocation_state`), `offboarding_jobs`, `notify_deliveries`.
pub(super) async fn by_state(
    conn: &mut SqliteConnection,
    table: &'static str,
) -> Result<Vec<(String, i64)>, Error> {
    let sql = format!("SELECT state, COUNT(*) FROM {table} GROUP BY state ORDER BY state");
    Ok(sqlx::query_as(&sql).fetch_all(conn).await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Mode;
    use crate::store::SweepCounts;
    use chrono::Duration;

    #[sqlx::test(migrations = "./migrations")]
    async fn an_empty_database_answers_with_zero_gauges_and_no_last_sweep(pool: sqlx::SqlitePool) {
        let store = Store::from_pool(pool).await.unwrap();
        store.ping().await.unwrap();
        assert_eq!(store.last_finished_sweep_status().await.unwrap(), None);
        assert_eq!(store.gauges().await.unwrap(), DbGauges::default());
    }

    #[sqlx::test(migrations = "./migrations")]
    async fn gauges_count_sweeps_by_status_and_name_the_last_finished_one(pool: sqlx::SqlitePool) {
        let store = Store::from_pool(pool).await.unwrap();
        let t0 = Utc::now();
        let counts = SweepCounts::default();
        let ok = store
            .begin_sweep(Trigger::Schedule, Mode::DryRun, t0, "test")
            .await
            .unwrap();
        store
            .finish_sweep(
                ok,
                SweepStatus::Ok,
                &counts,
                None,
                t0 + Duration::seconds(1),
            )
            .await
            .unwrap();
        let failed = store
            .begin_sweep(
                Trigger::Cli,
                Mode::DryRun,
                t0 + Duration::seconds(2),
                "test",
            )
            .await
            .unwrap();
        store
            .finish_sweep(
                failed,
                SweepStatus::Failed,
                &counts,
                Some("boom"),
                t0 + Duration::seconds(3),
            )
            .await
            .unwrap();
        store
            .begin_sweep(
                Trigger::Schedule,
                Mode::DryRun,
                t0 + Duration::seconds(4),
                "test",
            )
            .await
            .unwrap();

        let g = store.gauges().await.unwrap();
        let by = |s: &str| (s.to_owned(), 1);
        assert_eq!(
            g.sweeps_by_status,
            vec![by("failed"), by("ok"), by("running")]
        );
        assert_eq!(g.last_ok_sweep_at, Some(ts(t0 + Duration::seconds(1))));
        assert_eq!(g.last_finished_status.as_deref(), Some("failed"));
        assert_eq!(
            store.last_finished_sweep_status().await.unwrap().as_deref(),
            Some("failed")
        );
    }

    #[sqlx::test(migrations = "./migrations")]
    async fn closing_running_sweeps_touches_only_the_trigger_and_window_given(
        pool: sqlx::SqlitePool,
    ) {
        let store = Store::from_pool(pool).await.unwrap();
        let t0 = Utc::now();
        let old = store
            .begin_sweep(
                Trigger::Schedule,
                Mode::DryRun,
                t0 - Duration::hours(1),
                "test",
            )
            .await
            .unwrap();
        let cli = store
            .begin_sweep(Trigger::Cli, Mode::DryRun, t0, "test")
            .await
            .unwrap();
        let cut = store
            .begin_sweep(Trigger::Schedule, Mode::DryRun, t0, "test")
            .await
            .unwrap();

        let closed = store
            .close_running_sweeps(Trigger::Schedule, t0, SweepStatus::Aborted, "shutdown", t0)
            .await
            .unwrap();

        assert_eq!(closed, 1);
        let row = store.sweep(cut).await.unwrap().unwrap();
        assert_eq!(
            (row.status.as_str(), row.finished_at, row.error.as_deref()),
            ("aborted", Some(ts(t0)), Some("shutdown"))
        );
        for id in [old, cli] {
            assert_eq!(store.sweep(id).await.unwrap().unwrap().status, "running");
        }
    }
}
