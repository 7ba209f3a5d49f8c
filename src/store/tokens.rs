//! The `tokens`, `token_snapshots` and `targets` tables: what is known of each token now,
//! every observation of it, and how each user/client pair last fared.

use chrono::{DateTime, Utc};
use sqlx::{QueryBuilder, Sqlite};

use super::{Error, Store, ts};

/// One token as observed in a listing, ready to store.
#[derive(Debug, Clone)]
pub struct TokenObservation<'a> {
    pub token_id: &'a str,
    pub user_id: &'a str,
    pub client_id: &'a str,
    pub issuer: Option<&'a str>,
    pub status: Option<&'a str>,
    /// JSON array of scope names.
    pub scopes_json: String,
    pub created_at: Option<String>,
    pub last_updated_at: Option<String>,
    pub expires_at: Option<String>,
    /// The token's JSON exactly as Okta sent it.
    pub raw_json: &'a str,
    /// JSON array of the policy rules it matched.
    pub policy_matches: String,
}

/// A `tokens` row.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TokenRow {
    pub token_id: String,
    pub user_id: String,
    pub client_id: String,
    pub issuer: Option<String>,
    pub status: Option<String>,
    pub scopes: String,
    pub created_at: Option<String>,
    pub last_updated_at: Option<String>,
    pub expires_at: Option<String>,
    pub first_seen_at: String,
    pub last_seen_at: String,
    pub gone_at: Option<String>,
    pub revoked_at: Option<String>,
    pub revoked_by: Option<String>,
    pub policy_matches: String,
    pub reappeared_at: Option<String>,
}

/// How listing a pair went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetOutcome {
    Ok,
    Failed,
}

/// Rows per multi-row INSERT: 11 binds each stays far below SQLite's variable limit.
const CHUNK: usize = 500;

impl Store {
    /// Records one page of a listing in a single transaction: upserts `tokens` (keeping
    /// `first_seen_at`, clearing `gone_at`) and appends one `token_snapshots` row per token.
    /// Returns the ids of tokens revokd had revoked that are listed as ACTIVE again (their
    /// `reappeared_at` is set).
    pub async fn record_page(
        &self,
        sweep_id: Option<i64>,
        tokens: &[TokenObservation<'_>],
        observed_at: DateTime<Utc>,
    ) -> Result<Vec<String>, Error> {
        if tokens.is_empty() {
            return Ok(Vec::new());
        }
        let seen = ts(observed_at);
        let mut reappeared = Vec::new();
        let mut tx = self.pool.begin().await?;
        for chunk in tokens.chunks(CHUNK) {
            let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
                "INSERT INTO tokens (token_id, user_id, client_id, issuer, status, scopes, created_at,
                    last_updated_at, expires_at, first_seen_at, last_seen_at, policy_matches) ",
            );
            q.push_values(chunk, |mut row, t| {
                row.push_bind(t.token_id)
                    .push_bind(t.user_id)
                    .push_bind(t.client_id)
                    .push_bind(t.issuer)
                    .push_bind(t.status)
                    .push_bind(&t.scopes_json)
                    .push_bind(&t.created_at)
                    .push_bind(&t.last_updated_at)
                    .push_bind(&t.expires_at)
                    .push_bind(&seen)
                    .push_bind(&seen)
                    .push_bind(&t.policy_matches);
            });
            q.push(
                " ON CONFLICT (token_id) DO UPDATE SET user_id = excluded.user_id,
                    client_id = excluded.client_id, issuer = excluded.issuer, status = excluded.status,
                    scopes = excluded.scopes, created_at = excluded.created_at,
                    last_updated_at = excluded.last_updated_at, expires_at = excluded.expires_at,
                    last_seen_at = excluded.last_seen_at, gone_at = NULL,
                    policy_matches = excluded.policy_matches,
                    reappeared_at = CASE WHEN tokens.revoked_at IS NOT NULL AND excluded.status = 'ACTIVE'
                        THEN excluded.last_seen_at ELSE tokens.reappeared_at END
                 RETURNING token_id, revoked_at IS NOT NULL AND status = 'ACTIVE' AS back",
            );
            // Not cached as prepared statements: a multi-row INSERT's text differs with every
            // page size, and caching each one costs memory that grows with the org.
            let rows: Vec<(String, bool)> = q
                .build_query_as()
                .persistent(false)
                .fetch_all(&mut *tx)
                .await?;
            reappeared.extend(rows.into_iter().filter(|(_, back)| *back).map(|(id, _)| id));

            let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
                "INSERT INTO token_snapshots (sweep_id, token_id, observed_at, status, scopes,
                    last_updated_at, expires_at, raw_json) ",
            );
            q.push_values(chunk, |mut row, t| {
                row.push_bind(sweep_id)
                    .push_bind(t.token_id)
                    .push_bind(&seen)
                    .push_bind(t.status)
                    .push_bind(&t.scopes_json)
                    .push_bind(&t.last_updated_at)
                    .push_bind(&t.expires_at)
                    .push_bind(t.raw_json);
            });
            q.build().persistent(false).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(reappeared)
    }

    /// After a complete listing of a pair that started at `listed_since`: marks `gone_at` on
    /// its tokens that the listing did not contain. Returns how many were marked.
    pub async fn mark_gone(
        &self,
        user_id: &str,
        client_id: &str,
        listed_since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<u64, Error> {
        let done = sqlx::query(
            "UPDATE tokens SET gone_at = ? WHERE user_id = ? AND client_id = ? AND gone_at IS NULL
               AND last_seen_at < ?",
        )
        .bind(ts(now))
        .bind(user_id)
        .bind(client_id)
        .bind(ts(listed_since))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// Records that revokd revoked a token.
    pub async fn mark_revoked(&self, token_id: &str, at: DateTime<Utc>) -> Result<(), Error> {
        sqlx::query(
            "UPDATE tokens SET revoked_at = ?, revoked_by = 'revokd', gone_at = COALESCE(gone_at, ?)
             WHERE token_id = ?",
        )
        .bind(ts(at))
        .bind(ts(at))
        .bind(token_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records that a token is gone from Okta (without revokd having revoked it).
    pub async fn mark_token_gone(&self, token_id: &str, at: DateTime<Utc>) -> Result<(), Error> {
        sqlx::query("UPDATE tokens SET gone_at = COALESCE(gone_at, ?) WHERE token_id = ?")
            .bind(ts(at))
            .bind(token_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records how listing a pair went (`targets` row, created on first sight).
    pub async fn record_target(
        &self,
        user_id: &str,
        client_id: &str,
        source: &str,
        outcome: TargetOutcome,
        error: Option<&str>,
        polled_at: DateTime<Utc>,
    ) -> Result<(), Error> {
        let result = match outcome {
            TargetOutcome::Ok => "ok",
            TargetOutcome::Failed => "failed",
        };
        sqlx::query(
            "INSERT INTO targets (user_id, client_id, source, last_polled_at, last_result, last_error)
             VALUES (?, ?, ?, ?, ?, ?)
             ON CONFLICT (user_id, client_id) DO UPDATE SET last_polled_at = excluded.last_polled_at,
                last_result = excluded.last_result, last_error = excluded.last_error",
        )
        .bind(user_id)
        .bind(client_id)
        .bind(source)
        .bind(ts(polled_at))
        .bind(result)
        .bind(error)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The known tokens of a pair, by token id.
    pub async fn tokens_of_pair(
        &self,
        user_id: &str,
        client_id: &str,
    ) -> Result<Vec<TokenRow>, Error> {
        Ok(sqlx::query_as::<_, TokenRow>(
            "SELECT * FROM tokens WHERE user_id = ? AND client_id = ? ORDER BY token_id",
        )
        .bind(user_id)
        .bind(client_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Every known token that is not gone, by token id.
    pub async fn present_tokens(&self) -> Result<Vec<TokenRow>, Error> {
        Ok(sqlx::query_as::<_, TokenRow>(
            "SELECT * FROM tokens WHERE gone_at IS NULL ORDER BY token_id",
        )
        .fetch_all(&self.pool)
        .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn obs<'a>(id: &'a str, raw: &'a str) -> TokenObservation<'a> {
        TokenObservation {
            token_id: id,
            user_id: "00u1",
            client_id: "0oa1",
            issuer: Some("https://o/oauth2/aus1"),
            status: Some("ACTIVE"),
            scopes_json: r#"["offline_access"]"#.into(),
            created_at: Some("2026-01-01T00:00:00.000Z".into()),
            last_updated_at: Some("2026-02-01T00:00:00.000Z".into()),
            expires_at: None,
            raw_json: raw,
            policy_matches: "[]".into(),
        }
    }

    #[sqlx::test(migrations = "./migrations")]
    async fn pages_upsert_tokens_append_snapshots_and_absent_tokens_become_gone(
        pool: sqlx::SqlitePool,
    ) {
        let store = Store::from_pool(pool).await.unwrap();
        let t0 = Utc::now();
        store
            .record_page(None, &[obs("oar1", "{}"), obs("oar2", "{}")], t0)
            .await
            .unwrap();
        let t1 = t0 + Duration::seconds(10);
        let mut changed = obs("oar1", r#"{"v":2}"#);
        changed.scopes_json = r#"["openid"]"#.into();
        store.record_page(None, &[changed], t1).await.unwrap();
        assert_eq!(store.mark_gone("00u1", "0oa1", t1, t1).await.unwrap(), 1);

        let rows = store.tokens_of_pair("00u1", "0oa1").await.unwrap();
        assert_eq!(rows[0].first_seen_at, ts(t0));
        assert_eq!(rows[0].last_seen_at, ts(t1));
        assert_eq!(rows[0].scopes, r#"["openid"]"#);
        assert_eq!(rows[0].gone_at, None);
        assert_eq!(rows[1].gone_at, Some(ts(t1)));
        let snapshots: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM token_snapshots WHERE token_id = 'oar1'")
                .fetch_one(store.pool())
                .await
                .unwrap();
        assert_eq!(snapshots, 2);
        // Seen again: no longer gone.
        store
            .record_page(None, &[obs("oar2", "{}")], t1 + Duration::seconds(1))
            .await
            .unwrap();
        assert_eq!(store.present_tokens().await.unwrap().len(), 2);
    }

    #[sqlx::test(migrations = "./migrations")]
    async fn revoked_and_gone_tokens_are_told_apart(pool: sqlx::SqlitePool) {
        let store = Store::from_pool(pool).await.unwrap();
        let t0 = Utc::now();
        store
            .record_page(None, &[obs("oar1", "{}"), obs("oar2", "{}")], t0)
            .await
            .unwrap();
        store.mark_revoked("oar1", t0).await.unwrap();
        store.mark_token_gone("oar2", t0).await.unwrap();
        let back = store
            .record_page(None, &[obs("oar1", "{}"), obs("oar2", "{}")], t0)
            .await
            .unwrap();
        assert_eq!(
            back,
            vec!["oar1".to_owned()],
            "only the revoked token is flagged as back"
        );
        store.mark_token_gone("oar1", t0).await.unwrap();
        store.mark_token_gone("oar2", t0).await.unwrap();
        let rows = store.tokens_of_pair("00u1", "0oa1").await.unwrap();
        assert_eq!(
            (
                rows[0].revoked_by.as_deref(),
                rows[0].revoked_at.clone(),
                rows[0].gone_at.clone()
            ),
            (Some("revokd"), Some(ts(t0)), Some(ts(t0)))
        );
        assert_eq!(
            (
                rows[1].revoked_by.as_deref(),
                rows[1].revoked_at.clone(),
                rows[1].gone_at.clone()
            ),
            (None, None, Some(ts(t0)))
        );
        assert!(store.present_tokens().await.unwrap().is_empty());
    }

    #[sqlx::test(migrations = "./migrations")]
    async fn a_page_larger_than_one_insert_chunk_is_stored_whole(pool: sqlx::SqlitePool) {
        let store = Store::from_pool(pool).await.unwrap();
        let ids: Vec<String> = (0..1_201).map(|i| format!("oar{i:05}")).collect();
        let page: Vec<_> = ids.iter().map(|id| obs(id, "{}")).collect();
        store.record_page(None, &page, Utc::now()).await.unwrap();
        assert_eq!(store.present_tokens().await.unwrap().len(), 1_201);
    }

    #[sqlx::test(migrations = "./migrations")]
    async fn targets_keep_their_source_and_last_outcome(pool: sqlx::SqlitePool) {
        let store = Store::from_pool(pool).await.unwrap();
        let now = Utc::now();
        store
            .record_target(
                "00u1",
                "0oa1",
                "config",
                TargetOutcome::Failed,
                Some("503"),
                now,
            )
            .await
            .unwrap();
        store
            .record_target("00u1", "0oa1", "config", TargetOutcome::Ok, None, now)
            .await
            .unwrap();
        let (result, error): (String, Option<String>) =
            sqlx::query_as("SELECT last_result, last_error FROM targets")
                .fetch_one(store.pool())
                .await
                .unwrap();
        assert_eq!((result.as_str(), error), ("ok", None));
    }
}
