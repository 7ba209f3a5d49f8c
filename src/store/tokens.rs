//! What is known of each token now: the `tokens` view, stored in `token_state` (its
//! observations are written by [`super::observations`]), and its absences and revocations as
//! revokd records them.

use std::borrow::Cow;
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::{SqliteConnection, SqliteExecutor};

use super::observations::{Known, Observed, write_observed};
use super::{Error, Store, ts};
use crate::okta::record::{self, TokenRecord, fingerprint};

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
    /// Okta's record of the token.
    pub record: ObservedRecord,
    /// JSON array of the policy rules it matched.
    pub policy_matches: String,
}

/// Okta's record of a listed token, as sent or already split for storage (see
/// [`crate::okta::record`]). A record as sent is split only when the writer finds it differs
/// from the stored one: an unchanged token costs a hash of its bytes, not a parse.
#[derive(Debug, Clone)]
pub enum ObservedRecord {
    /// The item's JSON exactly as Okta sent it.
    Sent(String),
    /// The record already split: the JSON without `_links`, `_embedded.scopes` as scope ids,
    /// and the scope items the ids refer to.
    Split(TokenRecord),
}

impl TokenObservation {
    /// The record split for storage, its fingerprint, and what the writer knows of it without
    /// SQLite (nothing, for a record already split).
    pub(super) fn split_record(&self) -> (Cow<'_, TokenRecord>, i64, Known) {
        let (record, known) = match &self.record {
            ObservedRecord::Sent(json) => {
                let (record, said) = record::split_said(json);
                (Cow::Owned(record), Known::of(said, self))
            }
            ObservedRecord::Split(r) => (Cow::Borrowed(r), Known::default()),
        };
        let hash = fingerprint(&record.json, &record.scopes);
        (record, hash, known)
    }
}

impl ObservedRecord {
    /// A record already split, with no scope items.
    pub fn split_json(json: impl Into<String>) -> Self {
        ObservedRecord::Split(TokenRecord {
            json: json.into(),
            scopes: Vec::new(),
        })
    }

    /// The hash of the item as sent ([`record::item_hash`]); `None` for a record already split.
    pub(super) fn item_hash(&self) -> Option<[u8; 16]> {
        match self {
            ObservedRecord::Sent(json) => Some(record::item_hash(json.as_bytes())),
            ObservedRecord::Split(_) => None,
        }
    }
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
        "UPDATE token_state SET gone_at = ?
          WHERE pair_id = (SELECT id FROM token_pairs WHERE user_id = ? AND client_id = ?)
            AND gone_at IS NULL AND last_seen_at < ?",
    )
    .bind(ts(now))
    .bind(user_id)
    .bind(client_id)
    .bind(ts(listed_since))
    .execute(e)
    .await?;
    Ok(done.rows_affected())
}

/// Writes one page observed at `observed_at`, inside the caller's transaction.
async fn write_page(
    conn: &mut SqliteConnection,
    sweep_id: Option<i64>,
    tokens: &[TokenObservation],
    observed_at: DateTime<Utc>,
) -> Result<Vec<String>, Error> {
    let seen = ts(observed_at);
    let mut rows: Vec<_> = tokens
        .iter()
        .map(|token| Observed {
            sweep_id,
            seen: &seen,
            token,
        })
        .collect();
    write_observed(conn, &mut rows).await
}

impl Store {
    /// Records one page of a listing in a single transaction: a `token_snapshots` row per token
    /// first seen or changed, then each token's `token_state` (keeping `first_seen_at`,
    /// clearing `gone_at`).
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
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let reappeared = write_page(&mut tx, sweep_id, tokens, observed_at).await?;
        tx.commit().await?;
        Ok(reappeared)
    }

    /// [`Store::record_page`] for a page listed outside a sweep (an offboarding's listing,
    /// reconciliation's check of one token), which decides no rules: each token keeps the
    /// rules its last sweep matched (`policy_matches`, which the compliance views read), and a
    /// token never seen before matches none until a sweep decides it. Whatever `tokens` carry
    /// there is replaced.
    pub async fn record_page_keeping_rules(
        &self,
        mut tokens: Vec<TokenObservation>,
        observed_at: DateTime<Utc>,
    ) -> Result<Vec<String>, Error> {
        if tokens.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let ids: Vec<&str> = tokens.iter().map(|t| t.token_id.as_str()).collect();
        let ids = serde_json::to_string(&ids).unwrap_or_else(|_| "[]".into());
        let kept: HashMap<String, String> = sqlx::query_as(
            "SELECT t.token_id, t.policy_matches
               FROM json_each(?) AS j JOIN token_state AS t ON t.token_id = j.value",
        )
        .bind(ids)
        .fetch_all(&mut *tx)
        .await?
        .into_iter()
        .collect();
        for t in &mut tokens {
            t.policy_matches = kept
                .get(&t.token_id)
                .cloned()
                .unwrap_or_else(|| "[]".into());
        }
        let reappeared = write_page(&mut tx, None, &tokens, observed_at).await?;
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
            "UPDATE token_state SET revoked_at = ?, revoked_by = 'revokd',
                 gone_at = COALESCE(gone_at, ?)
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
        sqlx::query("UPDATE token_state SET gone_at = COALESCE(gone_at, ?) WHERE token_id = ?")
            .bind(ts(at))
            .bind(token_id)
            .execute(&self.pool)
            .await?;
        Ok(())
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

    /// The clients `user_id` holds tokens of that are not gone, by client id. Okta names a
    /// user's clients only while the user has grants or tokens of them, so a client whose last
    /// token went out of band leaves that list: listing these as well finds such tokens gone.
    pub async fn clients_with_present_tokens(&self, user_id: &str) -> Result<Vec<String>, Error> {
        Ok(sqlx::query_scalar(
            "SELECT p.client_id FROM token_pairs p WHERE p.user_id = ? AND EXISTS (
                 SELECT 1 FROM token_state s WHERE s.pair_id = p.id AND s.gone_at IS NULL)
             ORDER BY p.client_id",
        )
        .bind(user_id)
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
        record: ObservedRecord::split_json(raw),
        policy_matches: "[]".into(),
    }
}
