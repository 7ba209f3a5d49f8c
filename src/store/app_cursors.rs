//! Where each `app` target's listing stands (`app_listings`): begun, advanced page by page
//! with Okta's `next` link kept verbatim, and completed, when the app's tokens not seen since
//! the listing began are marked gone and every pair it reached gets its `targets` row
//! (source `discovered`). The page-by-page writes go through the sweep's observation
//! writer ([`super::Ingest`]) after the page they follow, so a kept `next` link never runs
//! ahead of the pages committed before it. A listing belongs to the sweep that began or
//! resumed it last (`last_sweep_id`): only that sweep's writes move its row.

use chrono::{DateTime, Utc};
use sqlx::SqliteTransaction;

use super::{Error, Store, TargetOutcome, TargetSource, TokenRow, ts};

/// An `app_listings` row.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AppListing {
    pub app_id: String,
    pub started_at: String,
    /// Okta's `next` link after the last committed page; `None` when no listing is under way.
    pub next_url: Option<String>,
    pub pages: i64,
    pub tokens: i64,
    pub sweeps: i64,
    pub last_sweep_id: Option<i64>,
    pub updated_at: String,
    pub completed_at: Option<String>,
    /// Why the latest attempt failed, until the listing completes.
    pub last_error: Option<String>,
}

impl AppListing {
    /// Whether a listing was left half-way (a `next` link is kept).
    pub fn under_way(&self) -> bool {
        self.next_url.is_some()
    }

    /// Where the listing stands: `complete`, `under_way` (a `next` link kept, or its first
    /// page not answered yet), or `failed` (before its first page, with `last_error`).
    pub fn state(&self) -> &'static str {
        match (&self.completed_at, &self.next_url, &self.last_error) {
            (Some(_), None, _) => "complete",
            (_, None, Some(_)) => "failed",
            _ => "under_way",
        }
    }
}

/// A write to `app_listings` that follows a page of the app's listing.
#[derive(Debug, Clone)]
pub enum AppCursorWrite {
    /// A page was listed: `next` is Okta's link to the following page (`None` after the last).
    Page {
        app_id: String,
        /// The sweep listing it: the row moves only while the listing is this sweep's.
        sweep_id: i64,
        next: Option<String>,
        tokens: u64,
        at: DateTime<Utc>,
    },
    /// The listing that began at `started` is complete: tokens of the app last seen before it
    /// are gone, and every pair it listed is a `discovered` target, polled `at`; the row is
    /// closed if the listing is `sweep_id`'s.
    Complete {
        app_id: String,
        sweep_id: i64,
        started: DateTime<Utc>,
        at: DateTime<Utc>,
    },
}

impl AppCursorWrite {
    /// Applies the write inside the observation writer's transaction.
    pub(super) async fn apply(&self, tx: &mut SqliteTransaction<'_>) -> Result<(), Error> {
        match self {
            AppCursorWrite::Page {
                app_id,
                sweep_id,
                next,
                tokens,
                at,
            } => {
                sqlx::query(
                    "UPDATE app_listings SET next_url = ?, pages = pages + 1,
                        tokens = tokens + ?, updated_at = ? WHERE app_id = ? AND last_sweep_id = ?",
                )
                .bind(next)
                .bind(i64::try_from(*tokens).unwrap_or(i64::MAX))
                .bind(ts(*at))
                .bind(app_id)
                .bind(sweep_id)
                .execute(&mut **tx)
                .await?;
            }
            AppCursorWrite::Complete {
                app_id,
                sweep_id,
                started,
                at,
            } => complete(tx, app_id, *sweep_id, *started, *at).await?,
        }
        Ok(())
    }
}

async fn complete(
    tx: &mut SqliteTransaction<'_>,
    app_id: &str,
    sweep_id: i64,
    started: DateTime<Utc>,
    at: DateTime<Utc>,
) -> Result<(), Error> {
    let (started, at) = (ts(started), ts(at));
    sqlx::query(
        "UPDATE token_state SET gone_at = ?
          WHERE pair_id IN (SELECT id FROM token_pairs WHERE client_id = ?)
            AND gone_at IS NULL AND last_seen_at < ?",
    )
    .bind(&at)
    .bind(app_id)
    .bind(&started)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "INSERT INTO targets (user_id, client_id, source, last_polled_at, last_result, last_error)
         SELECT DISTINCT p.user_id, p.client_id, ?, ?, ?, NULL
           FROM token_pairs p JOIN token_state s ON s.pair_id = p.id
          WHERE p.client_id = ? AND s.last_seen_at >= ?
         ON CONFLICT (user_id, client_id) DO UPDATE SET last_polled_at = excluded.last_polled_at,
            last_result = excluded.last_result, last_error = excluded.last_error",
    )
    .bind(TargetSource::Discovered)
    .bind(&at)
    .bind(TargetOutcome::Ok)
    .bind(app_id)
    .bind(&started)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "UPDATE app_listings SET next_url = NULL, completed_at = ?, updated_at = ?,
            last_error = NULL WHERE app_id = ? AND last_sweep_id = ?",
    )
    .bind(&at)
    .bind(&at)
    .bind(app_id)
    .bind(sweep_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Store {
    /// The listing state of one app, if it was ever listed.
    pub async fn app_listing(&self, app_id: &str) -> Result<Option<AppListing>, Error> {
        Ok(
            sqlx::query_as::<_, AppListing>("SELECT * FROM app_listings WHERE app_id = ?")
                .bind(app_id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Every app's listing state, by app id.
    pub async fn app_listings(&self) -> Result<Vec<AppListing>, Error> {
        Ok(
            sqlx::query_as::<_, AppListing>("SELECT * FROM app_listings ORDER BY app_id")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// The sweep other than `me` still `running` whose listing of `app_id` is not complete,
    /// with its runner (`host:pid:start`) and when the listing last moved (`updated_at`): a
    /// pass that took that listing over would move its row under the sweep still listing it.
    pub async fn app_listing_holder(
        &self,
        app_id: &str,
        me: i64,
    ) -> Result<Option<(i64, String, String)>, Error> {
        Ok(sqlx::query_as(
            "SELECT s.id, COALESCE(s.runner, ''), l.updated_at FROM app_listings l
               JOIN sweeps s ON s.id = l.last_sweep_id
              WHERE l.app_id = ? AND l.completed_at IS NULL AND s.status = ? AND s.id <> ?",
        )
        .bind(app_id)
        .bind(super::SweepStatus::Running)
        .bind(me)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Begins a new listing of `app_id` at `started`, forgetting any earlier one.
    pub async fn begin_app_listing(
        &self,
        app_id: &str,
        sweep_id: i64,
        started: DateTime<Utc>,
    ) -> Result<(), Error> {
        sqlx::query(
            "INSERT INTO app_listings (app_id, started_at, next_url, pages, tokens, sweeps,
                last_sweep_id, updated_at, completed_at)
             VALUES (?, ?, NULL, 0, 0, 1, ?, ?, NULL)
             ON CONFLICT (app_id) DO UPDATE SET started_at = excluded.started_at,
                next_url = NULL, pages = 0, tokens = 0, sweeps = 1,
                last_sweep_id = excluded.last_sweep_id, updated_at = excluded.updated_at,
                completed_at = NULL, last_error = NULL",
        )
        .bind(app_id)
        .bind(ts(started))
        .bind(sweep_id)
        .bind(ts(started))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records why `sweep_id`'s attempt at the listing of `app_id` failed (its row only).
    pub async fn record_app_listing_failure(
        &self,
        app_id: &str,
        sweep_id: i64,
        error: &str,
        at: DateTime<Utc>,
    ) -> Result<(), Error> {
        sqlx::query(
            "UPDATE app_listings SET last_error = ?, updated_at = ?
              WHERE app_id = ? AND last_sweep_id = ?",
        )
        .bind(error)
        .bind(ts(at))
        .bind(app_id)
        .bind(sweep_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Notes that `sweep_id` takes over a listing left under way.
    pub async fn resume_app_listing(&self, app_id: &str, sweep_id: i64) -> Result<(), Error> {
        sqlx::query(
            "UPDATE app_listings SET sweeps = sweeps + 1, last_sweep_id = ?, updated_at = ?
              WHERE app_id = ?",
        )
        .bind(sweep_id)
        .bind(ts(Utc::now()))
        .bind(app_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Tokens of `app_id` an earlier process listed in the listing that began at `started`
    /// and that this process has not listed again (last seen before `resumed`).
    pub async fn app_tokens_listed_between(
        &self,
        app_id: &str,
        started: DateTime<Utc>,
        resumed: DateTime<Utc>,
    ) -> Result<Vec<TokenRow>, Error> {
        Ok(sqlx::query_as::<_, TokenRow>(
            // The token's own sighting (`token_state`), not its pair's unchanged listing's: the
            // tokens this app's listing saw.
            "SELECT t.* FROM tokens t JOIN token_state s ON s.token_id = t.token_id
              WHERE t.client_id = ? AND s.last_seen_at >= ? AND s.last_seen_at < ?
              AND t.gone_at IS NULL ORDER BY t.token_id",
        )
        .bind(app_id)
        .bind(ts(started))
        .bind(ts(resumed))
        .fetch_all(&self.pool)
        .await?)
    }
}
