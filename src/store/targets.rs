//! The `targets` table: how listing each user/client pair last fared.

use chrono::{DateTime, Utc};
use sqlx::SqliteExecutor;

use super::{Error, Store, TargetSource, ts};

/// How listing a pair went (`targets.last_result`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(rename_all = "snake_case")]
pub enum TargetOutcome {
    Ok,
    Failed,
}

/// How listing a pair went, for its `targets` row.
#[derive(Debug, Clone)]
pub struct TargetResult {
    pub user_id: String,
    pub client_id: String,
    pub source: TargetSource,
    pub outcome: TargetOutcome,
    pub error: Option<String>,
    pub polled_at: DateTime<Utc>,
}

/// Upserts a `targets` row; see [`Store::record_target`].
pub(super) async fn write_target<'e>(
    e: impl SqliteExecutor<'e>,
    r: &TargetResult,
) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO targets (user_id, client_id, source, last_polled_at, last_result, last_error)
         VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (user_id, client_id) DO UPDATE SET last_polled_at = excluded.last_polled_at,
            last_result = excluded.last_result, last_error = excluded.last_error",
    )
    .bind(&r.user_id)
    .bind(&r.client_id)
    .bind(r.source)
    .bind(ts(r.polled_at))
    .bind(r.outcome)
    .bind(&r.error)
    .execute(e)
    .await?;
    Ok(())
}

impl Store {
    /// Records how listing a pair went (`targets` row, created on first sight).
    pub async fn record_target(&self, result: &TargetResult) -> Result<(), Error> {
        write_target(&self.pool, result).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[sqlx::test(migrations = "./migrations")]
    async fn targets_keep_their_source_and_last_outcome(pool: sqlx::SqlitePool) {
        let store = Store::from_pool(pool).await.unwrap();
        let now = Utc::now();
        let mut result = TargetResult {
            user_id: "00u1".into(),
            client_id: "0oa1".into(),
            source: TargetSource::Config,
            outcome: TargetOutcome::Failed,
            error: Some("503".into()),
            polled_at: now,
        };
        store.record_target(&result).await.unwrap();
        result.outcome = TargetOutcome::Ok;
        result.error = None;
        store.record_target(&result).await.unwrap();
        let (result, error): (String, Option<String>) =
            sqlx::query_as("SELECT last_result, last_error FROM targets")
                .fetch_one(store.pool())
                .await
                .unwrap();
        assert_eq!((result.as_str(), error), ("ok", None));
    }
}
