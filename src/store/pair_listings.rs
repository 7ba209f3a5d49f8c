//! The fingerprint of each pair's last listing read token by token (`pair_listings`): the
//! hash of every page as sent, what it was decided under and until when those decisions hold,
//! and what it counted. A later listing whose pages hash the same finds nothing new and moves
//! only the pair's `seen_at`. The triggers of the table's migration clear a fingerprint as soon
//! as anything else changes one of the pair's tokens; [`Store::known_listings`] trusts one
//! only when the sweep that wrote it finished without a halt or a tripped guard.

use chrono::{DateTime, Utc};
use sqlx::SqliteConnection;

use super::targets::write_target;
use super::{Error, Store, SweepStatus, TargetResult, ts};

/// What a listing read token by token leaves for the next one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingPrint {
    /// The hash of each page's body, in order.
    pub pages: Vec<u128>,
    /// [`crate::policy::PolicySet::fingerprint`] of the policy it was decided under.
    pub policy: u128,
    /// `dry-run` or `enforce`.
    pub mode: String,
    /// The instant its decisions were taken as of.
    pub decided_at: DateTime<Utc>,
    /// The first instant at which one of its decisions could change with time (`None`: never).
    pub stable_until: Option<DateTime<Utc>>,
    /// What the listing counted, as its sweep writes it (opaque here).
    pub tally: String,
}

/// The pages as stored: 16 bytes each, big-endian.
fn pages_blob(pages: &[u128]) -> Vec<u8> {
    pages.iter().flat_map(|h| h.to_be_bytes()).collect()
}

fn pages_of(blob: &[u8]) -> Option<Vec<u128>> {
    if !blob.len().is_multiple_of(16) {
        return None;
    }
    blob.chunks_exact(16)
        .map(|c| c.try_into().ok().map(u128::from_be_bytes))
        .collect()
}

fn time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

type PrintRow = (
    i64,
    Vec<u8>,
    Vec<u8>,
    String,
    String,
    Option<String>,
    String,
);

/// A complete listing that matched its pair's fingerprint, to record once the sweep's listings
/// end: its `targets` row, and the instant it saw the pair.
#[derive(Debug, Clone)]
pub struct UnchangedListing {
    pub result: TargetResult,
    /// Its pages' hashes (those of the fingerprint it matched).
    pub pages: Vec<u128>,
    pub at: DateTime<Utc>,
}

impl Store {
    /// The fingerprint of each pair's last listing read token by token, by position, where one
    /// stands: none was written, a change to one of its tokens cleared it, or the sweep that
    /// wrote it did not finish cleanly (halted, guard tripped, still running or aborted).
    pub async fn known_listings(
        &self,
        pairs: &[(&str, &str)],
    ) -> Result<Vec<Option<ListingPrint>>, Error> {
        let mut known = vec![None; pairs.len()];
        if pairs.is_empty() {
            return Ok(known);
        }
        let json = serde_json::to_string(pairs).map_err(|e| sqlx::Error::Encode(e.into()))?;
        let rows: Vec<PrintRow> = sqlx::query_as(
            "SELECT j.key, l.pages, l.policy, l.mode, l.decided_at, l.stable_until, l.tally
             FROM json_each(?1) AS j
             JOIN token_pairs p ON p.user_id = j.value ->> 0 AND p.client_id = j.value ->> 1
             JOIN pair_listings l ON l.pair_id = p.id
             JOIN sweeps s ON s.id = l.sweep_id
             WHERE l.pages IS NOT NULL AND s.finished_at IS NOT NULL AND s.error IS NULL
               AND s.status IN (?2, ?3)",
        )
        .bind(json)
        .bind(SweepStatus::Ok)
        .bind(SweepStatus::Partial)
        .fetch_all(&self.pool)
        .await?;
        for (at, pages, policy, mode, decided_at, until, tally) in rows {
            let print = (|| {
                Some(ListingPrint {
                    pages: pages_of(&pages)?,
                    policy: u128::from_be_bytes(policy.try_into().ok()?),
                    mode,
                    decided_at: time(&decided_at)?,
                    stable_until: match until {
                        Some(text) => Some(time(&text)?),
                        None => None,
                    },
                    tally,
                })
            })();
            if let Some(slot) = usize::try_from(at).ok().and_then(|at| known.get_mut(at)) {
                *slot = print;
            }
        }
        Ok(known)
    }

    /// Records unchanged listings in one transaction: each pair's `targets` row, and its
    /// `seen_at` if its fingerprint still holds the pages it matched. A pair whose fingerprint
    /// no longer does (something changed one of its tokens during the sweep) counts as listed
    /// before that change: its `seen_at` stays, and its next listing reads it whole.
    pub async fn record_unchanged(&self, listings: &[UnchangedListing]) -> Result<(), Error> {
        let mut tx = self.pool.begin().await?;
        for l in listings {
            let (user, client) = (&l.result.user_id, &l.result.client_id);
            write_target(&mut *tx, &l.result).await?;
            if !write_seen(&mut tx, user, client, &l.pages, l.at).await? {
                tracing::debug!(okta.user_id = %user, okta.client_id = %client,
                    "the pair changed during its listing; the next one reads it whole");
            }
        }
        tx.commit().await?;
        Ok(())
    }
}

/// Records `print` as the pair's fingerprint, written by sweep `sweep_id` after the
/// listing's pages and its gone marks (each of which clears the one before).
pub(super) async fn write_print(
    conn: &mut SqliteConnection,
    sweep_id: i64,
    user_id: &str,
    client_id: &str,
    print: &ListingPrint,
) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO token_pairs (user_id, client_id) SELECT ?1, ?2
         WHERE NOT EXISTS (SELECT 1 FROM token_pairs WHERE user_id = ?1 AND client_id = ?2)",
    )
    .bind(user_id)
    .bind(client_id)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO pair_listings (pair_id, sweep_id, pages, policy, mode, decided_at,
            stable_until, tally)
         SELECT id, ?3, ?4, ?5, ?6, ?7, ?8, ?9 FROM token_pairs
         WHERE user_id = ?1 AND client_id = ?2
         ON CONFLICT (pair_id) DO UPDATE SET sweep_id = excluded.sweep_id,
            pages = excluded.pages, policy = excluded.policy, mode = excluded.mode,
            decided_at = excluded.decided_at, stable_until = excluded.stable_until,
            tally = excluded.tally",
    )
    .bind(user_id)
    .bind(client_id)
    .bind(sweep_id)
    .bind(pages_blob(&print.pages))
    .bind(print.policy.to_be_bytes().to_vec())
    .bind(&print.mode)
    .bind(ts(print.decided_at))
    .bind(print.stable_until.map(ts))
    .bind(&print.tally)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Moves the pair's `seen_at` to `seen_at` after a listing whose pages hashed as `pages`, if
/// its fingerprint still holds those pages. Returns false when it no longer does: something
/// changed one of the pair's tokens since the listing began, and the listing counts as made
/// before that change (the next listing reads every token).
async fn write_seen(
    conn: &mut SqliteConnection,
    user_id: &str,
    client_id: &str,
    pages: &[u128],
    seen_at: DateTime<Utc>,
) -> Result<bool, Error> {
    let done = sqlx::query(
        "UPDATE pair_listings SET seen_at = max(COALESCE(seen_at, ''), ?4)
         WHERE pair_id = (SELECT id FROM token_pairs WHERE user_id = ?1 AND client_id = ?2)
           AND pages = ?3",
    )
    .bind(user_id)
    .bind(client_id)
    .bind(pages_blob(pages))
    .bind(ts(seen_at))
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_round_trip_as_sixteen_bytes_each() {
        let pages = vec![1u128, u128::MAX, 0x0102_0304];
        let blob = pages_blob(&pages);
        assert_eq!(blob.len(), 48);
        assert_eq!(pages_of(&blob), Some(pages));
        assert_eq!(pages_of(&blob[..47]), None);
        assert_eq!(pages_of(&[]), Some(Vec::new()));
    }
}
