//! The `tokens`, `token_snapshots` and `targets` tables: what is known of each token now,
//! every observation of it, and how each user/client pair last fared.

use chrono::{DateTime, Utc};
use sqlx::SqliteExecutor;

use super::observations::{Observed, write_observed};
use super::{Error, Store, TargetSource, ts};
use crate::okta::record::ScopeRecord;

/// One token as observed in a listing, ready to store.
#[derive(Debug, Clone)]
pub struct TokenObservation {
    pub token_id: String,
    pub user_id: String,
    pub client_id: String,
    pub issuer: Option<String>,
    pub status: Option<String>,
    /// JSON array of scope names.
    pub scopes_json: String,
    pub created_at: Option<String>,
    pub last_updated_at: Option<String>,
    pub expires_at: Option<String>,
    /// Okta's record of the token without `_links`, `_embedded.scopes` as scope ids (see
    /// [`crate::okta::record`]).
    pub raw_json: String,
    /// The `_embedded.scopes` items the record refers to, for the scope catalog.
    pub scope_records: Vec<ScopeRecord>,
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

/// How listing a pair went (`targets.last_result`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(rename_all = "snake_case")]
pub enum TargetOutcome {
    Ok,
    Failed,
}

/// Marks `gone_at` on a pair's tokens last seen before `listed_since`; see
/// [`Store::mark_gone`].
pub(super) async fn write_gone<'e>(
    e: impl SqliteExecutor<'e>,
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
    .execute(e)
    .await?;
    Ok(done.rows_affected())
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
    /// Records one page of a listing in a single transaction: upserts `tokens` (keeping
    /// `first_seen_at`, clearing `gone_at`) and appends one `token_snapshots` row per token.
    /// Returns the ids of tokens revokd had revoked that the page lists as ACTIVE again (their
    /// `reappeared_at` is set). Sweeps write through [`Store::ingest`] instead, which groups
    /// pages into fewer transactions.
    pub async fn record_page(
        &self,
        sweep_id: Option<i64>,
        tokens: &[TokenObservation],
        observed_at: DateTime<Utc>,
    ) -> Result<Vec<String>, Error> {
        if tokens.is_empty() {
            return Ok(Vec::new());
        }
        let seen = ts(observed_at);
        let mut rows: Vec<_> = tokens
            .iter()
            .map(|token| Observed {
                sweep_id,
                seen: &seen,
                token,
            })
            .collect();
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let reappeared = write_observed(&mut tx, &mut rows).await?;
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
        write_gone(&self.pool, user_id, client_id, listed_since, now).await
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
    pub async fn record_target(&self, result: &TargetResult) -> Result<(), Error> {
        write_target(&self.pool, result).await
    }

    /// What is known of one token now.
    pub async fn token(&self, token_id: &str) -> Result<Option<TokenRow>, Error> {
        Ok(
            sqlx::query_as::<_, TokenRow>("SELECT * FROM tokens WHERE token_id = ?")
                .bind(token_id)
                .fetch_optional(&self.pool)
                .await?,
        )
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
/// An ACTIVE observation of token `id` of `user` (client `0oa1`) with `raw` as its JSON.
pub(super) fn observation(user: &str, id: &str, raw: &str) -> TokenObservation {
    TokenObservation {
        token_id: id.into(),
        user_id: user.into(),
        client_id: "0oa1".into(),
        issuer: None,
        status: Some("ACTIVE".into()),
        scopes_json: "[]".into(),
        created_at: None,
        last_updated_at: None,
        expires_at: None,
        raw_json: raw.into(),
        scope_records: Vec::new(),
        policy_matches: "[]".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn obs(id: &str, raw: &str) -> TokenObservation {
        TokenObservation {
            token_id: id.into(),
            user_id: "00u1".into(),
            client_id: "0oa1".into(),
            issuer: Some("https://o/oauth2/aus1".into()),
            status: Some("ACTIVE".into()),
            scopes_json: r#"["offline_access"]"#.into(),
            created_at: Some("2026-01-01T00:00:00.000Z".into()),
            last_updated_at: Some("2026-02-01T00:00:00.000Z".into()),
            expires_at: None,
            raw_json: raw.into(),
            scope_records: Vec::new(),
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
    async fn a_listing_older_than_the_revocation_neither_flags_nor_revives_the_token(
        pool: sqlx::SqlitePool,
    ) {
        let store = Store::from_pool(pool).await.unwrap();
        let t0 = Utc::now() - Duration::minutes(10);
        store
            .record_page(None, &[obs("oar1", "{}")], t0)
            .await
            .unwrap();
        let revoked = t0 + Duration::minutes(2);
        store.mark_revoked("oar1", revoked).await.unwrap();
        // Fetched before the revocation, written after it.
        let stale = t0 + Duration::minutes(1);
        let back = store
            .record_page(None, &[obs("oar1", "{}")], stale)
            .await
            .unwrap();
        assert!(back.is_empty());
        let row = &store.tokens_of_pair("00u1", "0oa1").await.unwrap()[0];
        assert_eq!(
            (row.gone_at.clone(), row.reappeared_at.clone()),
            (Some(ts(revoked)), None)
        );
        // Listed ACTIVE after the revocation: back, and present again.
        let later = t0 + Duration::minutes(3);
        let back = store
            .record_page(None, &[obs("oar1", "{}")], later)
            .await
            .unwrap();
        assert_eq!(back, ["oar1"]);
        let row = &store.tokens_of_pair("00u1", "0oa1").await.unwrap()[0];
        assert_eq!(
            (row.gone_at.clone(), row.reappeared_at.clone()),
            (None, Some(ts(later)))
        );
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
            .record_page(
                None,
                &[obs("oar1", "{}"), obs("oar2", "{}")],
                t0 + Duration::seconds(1),
            )
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
    async fn a_token_listed_twice_in_a_page_is_one_token_with_two_snapshots(
        pool: sqlx::SqlitePool,
    ) {
        let store = Store::from_pool(pool).await.unwrap();
        let mut again = obs("oar1", r#"{"v":2}"#);
        again.scopes_json = r#"["openid"]"#.into();
        let page = [obs("oar1", r#"{"v":1}"#), obs("oar2", "{}"), again];
        store.record_page(None, &page, Utc::now()).await.unwrap();
        let rows = store.tokens_of_pair("00u1", "0oa1").await.unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            rows[0].scopes, r#"["openid"]"#,
            "the later observation wins"
        );
        let raw: Vec<String> = sqlx::query_scalar(
            "SELECT raw_json FROM token_snapshots WHERE token_id = 'oar1' ORDER BY id",
        )
        .fetch_all(store.pool())
        .await
        .unwrap();
        assert_eq!(raw, [r#"{"v":1}"#, r#"{"v":2}"#]);
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
