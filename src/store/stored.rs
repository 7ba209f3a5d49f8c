//! What the database holds of each token before a batch of observations is written (its last
//! record's fingerprint, its item hash, rules and presence), read in one statement, and which
//! observations are worth writing: one older than what is stored of its token (a page written
//! after a newer sighting, or after the listing that found the token gone) is set aside.

use std::collections::HashMap;

use sqlx::SqliteConnection;

use super::Error;
use super::observations::Observed;

/// What the database holds of a token's last record: its fingerprint, or (for a token stored
/// before fingerprints were kept) the text of its newest snapshot.
pub(super) enum Record {
    Hash(i64),
    Text(Option<String>),
}

/// What the database holds of a token before a batch.
pub(super) struct Stored {
    pub(super) record: Record,
    /// The 128-bit hash of the item as Okta last sent it, when known (a hash from before
    /// 128-bit hashes, an integer, reads as unknown).
    pub(super) item_hash: Option<[u8; 16]>,
    pub(super) policy_matches: String,
    /// Present (not gone), and never revoked or back since its revocation: an unchanged
    /// observation only moves `last_seen_at`.
    pub(super) settled: bool,
    /// The latest instant the database knows the token's presence as of: its last sighting,
    /// or the listing that found it gone, whichever is later.
    pub(super) as_of: String,
}

impl Stored {
    /// Whether an observation made at `seen` is older than what is stored: a page fetched
    /// before a newer sighting or a listing that found the token gone, written after it (its
    /// transaction waited behind theirs). Instants are compared as stored (`ts`, which sorts
    /// as it reads); only where that says older are both read as times, so an instant of
    /// another spelling errs towards writing the observation.
    fn is_newer_than(&self, seen: &str) -> bool {
        use chrono::DateTime;
        self.as_of.as_str() > seen
            && match (
                DateTime::parse_from_rfc3339(&self.as_of),
                DateTime::parse_from_rfc3339(seen),
            ) {
                (Ok(stored), Ok(seen)) => stored > seen,
                _ => true,
            }
    }
}

/// What the database holds of the token of each of `rows` (sorted by token), and the rows
/// worth writing: an observation older than what is stored of its token says nothing new of
/// the token and is set aside (no record, no sighting, no return from gone), but a sweep's
/// still carries the rules that sweep decided, which are stored. Returns the rows kept and,
/// by position, what is stored of each.
pub(super) async fn fresh<'a>(
    conn: &mut SqliteConnection,
    rows: &[Observed<'a>],
) -> Result<(Vec<Observed<'a>>, Vec<Option<Stored>>), Error> {
    let stored = stored_records(conn, rows).await?;
    let mut decided: Vec<(&str, &str)> = Vec::new();
    let (fresh, stored): (Vec<Observed<'a>>, Vec<Option<Stored>>) = rows
        .iter()
        .copied()
        .zip(stored)
        .filter(|(o, s)| {
            let Some(s) = s.as_ref().filter(|s| s.is_newer_than(o.seen)) else {
                return true;
            };
            if o.sweep_id.is_some() && s.policy_matches != o.token.policy_matches {
                decided.push((&o.token.token_id, &o.token.policy_matches));
            }
            false
        })
        .unzip();
    write_rules(conn, &decided).await?;
    Ok((fresh, stored))
}

/// The stored record of the token of each of `rows`, by position; `None` for a token the
/// database does not know. Rows are matched by their position in the id array, so no id is
/// read back or hashed.
async fn stored_records(
    conn: &mut SqliteConnection,
    rows: &[Observed<'_>],
) -> Result<Vec<Option<Stored>>, Error> {
    let ids: Vec<&str> = rows.iter().map(|o| o.token.token_id.as_str()).collect();
    let ids = serde_json::to_string(&ids).unwrap_or_else(|_| "[]".into());
    // `token_state` alone, not the `tokens` view: nothing here is read from a record, so an
    // unchanged token costs no read of its history. Read as one JSON array, not a row per
    // token: per row, sqlx's hand-off between threads costs more than SQLite's reading.
    let found: String = sqlx::query_scalar(
        "SELECT json_group_array(json_array(j.key, t.record_hash,
                CASE WHEN typeof(t.item_hash) = 'blob' THEN hex(t.item_hash) END,
                CASE WHEN t.record_hash IS NULL THEN (
                    SELECT s.raw_json FROM token_snapshots s WHERE s.token_id = t.token_id
                    ORDER BY s.id DESC LIMIT 1) END,
                t.policy_matches, t.gone_at IS NULL
                    AND COALESCE(t.revoked_at < t.reappeared_at, t.revoked_at IS NULL),
                max(t.last_seen_at, COALESCE(t.gone_at, ''))))
         FROM json_each(?) AS j JOIN token_state AS t ON t.token_id = j.value",
    )
    .bind(ids)
    .fetch_one(&mut *conn)
    .await?;
    type Found = (
        i64,
        Option<i64>,
        Option<String>,
        Option<String>,
        String,
        u8,
        String,
    );
    let found: Vec<Found> =
        serde_json::from_str(&found).map_err(|e| sqlx::Error::Decode(e.into()))?;
    let mut stored: Vec<Option<Stored>> = Vec::new();
    stored.resize_with(rows.len(), || None);
    for (at, hash, item_hash, text, policy_matches, settled, as_of) in found {
        if let Some(slot) = usize::try_from(at).ok().and_then(|at| stored.get_mut(at)) {
            *slot = Some(Stored {
                record: hash.map_or(Record::Text(text), Record::Hash),
                item_hash: item_hash.and_then(|h| hex::decode(h).ok()?.try_into().ok()),
                policy_matches,
                settled: settled == 1,
                as_of,
            });
        }
    }
    Ok(stored)
}

/// Stores the rules a sweep decided for tokens whose sighting was not written (`(id, rules)`;
/// the last of a token's wins).
async fn write_rules(conn: &mut SqliteConnection, decided: &[(&str, &str)]) -> Result<(), Error> {
    if decided.is_empty() {
        return Ok(());
    }
    // One row per token: of several that match, UPDATE … FROM would take any.
    let last: HashMap<&str, &str> = decided.iter().copied().collect();
    let decided = serde_json::to_string(&last).unwrap_or_else(|_| "{}".into());
    sqlx::query(
        "UPDATE token_state SET policy_matches = d.value
           FROM json_each(?) AS d WHERE token_state.token_id = d.key",
    )
    .bind(decided)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
