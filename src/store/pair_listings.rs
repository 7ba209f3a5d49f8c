//! The fingerprint of each pair's last listing read token by token (`pair_listings`): the
//! hash of every page as sent, what it was decided under and until when those decisions hold,
//! and what it counted. A later listing whose pages hash the same finds nothing new and moves
//! only the pair's `seen_at`. The triggers of the table's migration clear a fingerprint as soon
//! as anything else changes one of the pair's tokens, and one is written only when the pair's
//! tokens not gone are the listing's count ([`write_print`]); [`Store::known_listings`] trusts
//! one only when the sweep that wrote it finished without a halt or a tripped guard.

use chrono::{DateTime, Utc};
use sqlx::SqliteConnection;

use super::{Error, Store, SweepStatus, TargetOutcome, TargetResult, ts};
use crate::config::Mode;

/// What a listing read token by token leaves for the next one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingPrint {
    /// The hash of each page's body, in order.
    pub pages: Vec<u128>,
    /// [`crate::policy::PolicySet::fingerprint`] of the policy it was decided under.
    pub policy: u128,
    /// The mode it was decided in.
    pub mode: Mode,
    /// The instant its decisions were taken as of.
    pub decided_at: DateTime<Utc>,
    /// The first instant at which one of its decisions changes with time (`None`: never).
    pub stable_until: Option<DateTime<Utc>>,
    /// What the listing counted, as its sweep writes it (opaque here).
    pub tally: String,
}

/// The pages as stored: 16 bytes each, big-endian.
pub(super) fn pages_blob(pages: &[u128]) -> Vec<u8> {
    pages.iter().flat_map(|h| h.to_be_bytes()).collect()
}

pub(super) fn pages_of(blob: &[u8]) -> Option<Vec<u128>> {
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
    i64,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    Option<Mode>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// What a target's closing job writes of its listing's fingerprint (`pair_listings`).
#[derive(Debug)]
pub enum PrintWrite {
    /// Nothing: the listing failed, or it is not a pair's.
    Nothing,
    /// A complete listing read token by token, by sweep `sweep_id`: its fingerprint, the
    /// pair's count of changes when the listing began ([`KnownPair::changes`]), and how many
    /// tokens its pages held.
    Print {
        sweep_id: i64,
        print: ListingPrint,
        changes: i64,
        tokens: u64,
    },
}

/// A pair as its listing begins: its fingerprint, if one stands, and how many times
/// something changed one of its tokens (`pair_changes.n`).
#[derive(Debug, Clone, Default)]
pub struct KnownPair {
    pub print: Option<ListingPrint>,
    pub changes: i64,
}

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
    /// Each pair's state as its listing begins, by position: the fingerprint of its last
    /// listing read token by token, where one stands (none was written, a change to one of
    /// its tokens cleared it, or the sweep that wrote it did not finish cleanly: halted, guard
    /// tripped, still running or aborted), and its count of changes (`pair_changes`).
    pub async fn known_listings(&self, pairs: &[(&str, &str)]) -> Result<Vec<KnownPair>, Error> {
        let mut known = vec![KnownPair::default(); pairs.len()];
        if pairs.is_empty() {
            return Ok(known);
        }
        let json = serde_json::to_string(pairs).map_err(|e| sqlx::Error::Encode(e.into()))?;
        let rows: Vec<PrintRow> = sqlx::query_as(
            "SELECT j.key, COALESCE(c.n, 0), l.pages, l.policy, l.mode, l.decided_at,
                    l.stable_until, l.tally
             FROM json_each(?1) AS j
             JOIN token_pairs p ON p.user_id = j.value ->> 0 AND p.client_id = j.value ->> 1
             LEFT JOIN pair_changes c ON c.pair_id = p.id
             LEFT JOIN pair_listings l ON l.pair_id = p.id AND l.pages IS NOT NULL
                AND EXISTS (SELECT 1 FROM sweeps s WHERE s.id = l.sweep_id
                            AND s.finished_at IS NOT NULL AND s.error IS NULL
                            AND s.status IN (?2, ?3))",
        )
        .bind(json)
        .bind(SweepStatus::Ok)
        .bind(SweepStatus::Partial)
        .fetch_all(&self.pool)
        .await?;
        for (at, changes, pages, policy, mode, decided_at, until, tally) in rows {
            let print = (|| {
                Some(ListingPrint {
                    pages: pages_of(&pages?)?,
                    policy: u128::from_be_bytes(policy?.try_into().ok()?),
                    mode: mode?,
                    decided_at: time(&decided_at?)?,
                    stable_until: match until {
                        Some(text) => Some(time(&text)?),
                        None => None,
                    },
                    tally: tally?,
                })
            })();
            if let Some(slot) = usize::try_from(at).ok().and_then(|at| known.get_mut(at)) {
                *slot = KnownPair { print, changes };
            }
        }
        Ok(known)
    }

    /// Records unchanged listings in one transaction of two statements: each pair's `targets`
    /// row, and its `seen_at` if its fingerprint still holds the pages it matched. A pair whose
    /// fingerprint no longer does (something changed one of its tokens during the sweep) counts
    /// as listed before that change: its `seen_at` stays, and its next listing reads it whole.
    pub async fn record_unchanged(&self, listings: &[UnchangedListing]) -> Result<(), Error> {
        if listings.is_empty() {
            return Ok(());
        }
        let rows: Vec<(&str, &str, &str, String, String)> = (listings.iter())
            .map(|l| {
                let r = &l.result;
                let pages = hex::encode_upper(pages_blob(&l.pages));
                (
                    r.user_id.as_str(),
                    r.client_id.as_str(),
                    r.source.as_str(),
                    ts(r.polled_at),
                    pages,
                )
            })
            .collect();
        let rows = serde_json::to_string(&rows).map_err(|e| sqlx::Error::Encode(e.into()))?;
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO targets (user_id, client_id, source, last_polled_at, last_result,
                last_error)
             SELECT j.value ->> 0, j.value ->> 1, j.value ->> 2, j.value ->> 3, ?2, NULL
             FROM json_each(?1) AS j WHERE true
             ON CONFLICT (user_id, client_id) DO UPDATE SET
                last_polled_at = excluded.last_polled_at, last_result = excluded.last_result,
                last_error = excluded.last_error",
        )
        .bind(&rows)
        .bind(TargetOutcome::Ok)
        .execute(&mut *tx)
        .await?;
        let seen = sqlx::query(
            "UPDATE pair_listings SET seen_at = max(COALESCE(pair_listings.seen_at, ''), v.at)
             FROM (SELECT p.id AS pair_id, j.value ->> 4 AS pages, j.value ->> 3 AS at
                   FROM json_each(?1) AS j
                   JOIN token_pairs p ON p.user_id = j.value ->> 0
                                     AND p.client_id = j.value ->> 1) AS v
             WHERE pair_listings.pair_id = v.pair_id AND hex(pair_listings.pages) = v.pages",
        )
        .bind(&rows)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        let changed = listings.len() as u64 - seen.rows_affected();
        if changed > 0 {
            tracing::debug!(
                pairs = changed,
                "pairs changed during their unchanged listing; their next listing reads them whole"
            );
        }
        Ok(())
    }
}

/// The writer's own count of the changes it makes to each pair's tokens, on its connection:
/// a temporary table and triggers that count as `pair_changes` does (the conditions of the
/// migration `fingerprint_pair_listings`; the two change together, and a test holds them to
/// it). The count covers the writer's life, one sweep, in which a pair is listed once and no
/// other listing writes its tokens (a pair of an app the sweep lists whole keeps no
/// fingerprint): its own count is its listing's.
pub(super) async fn count_own_changes(conn: &mut SqliteConnection) -> Result<(), Error> {
    let bump = |pair: &str| {
        format!(
            "INSERT INTO own_changes (pair_id, n) VALUES ({pair}, 1)
             ON CONFLICT (pair_id) DO UPDATE SET n = n + 1;"
        )
    };
    let changed = "OLD.token_id IS NOT NEW.token_id OR OLD.pair_id IS NOT NEW.pair_id
        OR OLD.first_seen_at IS NOT NEW.first_seen_at OR OLD.gone_at IS NOT NEW.gone_at
        OR OLD.revoked_at IS NOT NEW.revoked_at OR OLD.revoked_by IS NOT NEW.revoked_by
        OR OLD.policy_matches IS NOT NEW.policy_matches
        OR OLD.reappeared_at IS NOT NEW.reappeared_at
        OR OLD.record_hash IS NOT NEW.record_hash OR OLD.item_hash IS NOT NEW.item_hash
        OR OLD.issuer IS NOT NEW.issuer OR OLD.status IS NOT NEW.status
        OR OLD.scopes IS NOT NEW.scopes OR OLD.created_at IS NOT NEW.created_at
        OR OLD.last_updated_at IS NOT NEW.last_updated_at OR OLD.expires_at IS NOT NEW.expires_at";
    let old_pair = "INSERT INTO own_changes (pair_id, n) SELECT OLD.pair_id, 1
        WHERE OLD.pair_id IS NOT NEW.pair_id ON CONFLICT (pair_id) DO UPDATE SET n = n + 1;";
    for sql in [
        "CREATE TEMP TABLE own_changes (pair_id INTEGER PRIMARY KEY, n INTEGER NOT NULL)"
            .to_owned(),
        format!(
            "CREATE TEMP TRIGGER own_new AFTER INSERT ON main.token_state BEGIN {} END",
            bump("NEW.pair_id")
        ),
        format!(
            "CREATE TEMP TRIGGER own_changed AFTER UPDATE ON main.token_state WHEN {changed}
             BEGIN {} {old_pair} END",
            bump("NEW.pair_id")
        ),
        format!(
            "CREATE TEMP TRIGGER own_deleted AFTER DELETE ON main.token_state BEGIN {} END",
            bump("OLD.pair_id")
        ),
    ] {
        sqlx::query(&sql).execute(&mut *conn).await?;
    }
    Ok(())
}

/// Records `print` as the pair's fingerprint, written by sweep `sweep_id` after the
/// listing's pages and its gone marks (each of which clears the one before), on the writer's
/// connection ([`count_own_changes`]): only if every change to the pair's tokens since the
/// listing began, when the pair's count was `changes`, was the writer's own, and the pair
/// holds as many tokens not gone as the listing's pages held (`tokens`). Otherwise a change
/// the listing did not see was made while it ran, and the pair keeps no fingerprint. The count
/// catches what `pair_changes` does not: another writer's sighting of an unchanged token
/// (which moves only its `last_seen_at`) after the listing began keeps the token from being
/// marked gone by this listing, which did not list it; a fingerprint of pages without it
/// would then keep it present for as long as the pair's pages stay the same.
pub(super) async fn write_print(
    conn: &mut SqliteConnection,
    (user_id, client_id): (&str, &str),
    sweep_id: i64,
    print: &ListingPrint,
    changes: i64,
    tokens: u64,
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
         SELECT p.id, ?3, ?4, ?5, ?6, ?7, ?8, ?9 FROM token_pairs p
         WHERE p.user_id = ?1 AND p.client_id = ?2
           AND COALESCE((SELECT n FROM main.pair_changes c WHERE c.pair_id = p.id), 0)
             = ?10 + COALESCE((SELECT n FROM temp.own_changes o WHERE o.pair_id = p.id), 0)
           AND (SELECT count(*) FROM main.token_state s
                WHERE s.pair_id = p.id AND s.gone_at IS NULL) = ?11
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
    .bind(print.mode)
    .bind(ts(print.decided_at))
    .bind(print.stable_until.map(ts))
    .bind(&print.tally)
    .bind(changes)
    .bind(i64::try_from(tokens).unwrap_or(i64::MAX))
    .execute(&mut *conn)
    .await?;
    Ok(())
}
