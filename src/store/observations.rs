//! Writing observations: a history record (see [`super::records`]; read through `token_snapshots`,
//! its scope items in `scope_catalog`, see [`super::scopes`]) only for a token seen for the first
//! time or whose record changed, then the `token_state` upsert of every listed token (the `tokens`
//! view reads the rest from the latest record), or only its `last_seen_at` when nothing else
//! changed. An observation older than what is stored of its token writes nothing but its sweep's
//! rules (see [`super::stored`]). Unchanged is told
//! first by the hash of Okta's item as sent (`token_state.item_hash`), then, for an item that
//! differs, by the fingerprint of its split record (`token_state.record_hash`): an unchanged token
//! costs a hash of its bytes, no parse, and an item that differs only where the record does not
//! (its `_links`) writes no snapshot. Where a new or changed item says each value of the token as
//! observed ([`Known`]), its record and row are stored without SQLite reading the record.

use std::borrow::Cow;
use std::collections::HashMap;

use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

use super::Error;
use super::records::{write_pairs, write_records};
use super::scopes::write_scopes;
use super::stored::{Record, Stored, fresh};
use super::tokens::TokenObservation;
use crate::okta::record::TokenRecord;
use crate::okta::said::Said;

/// Rows per multi-row INSERT, largest first. Rows are written as runs of these few shapes,
/// so each statement is prepared once per connection and kept (a statement per page size
/// would be parsed anew every time, or cached without bound). Each statement is a hand-off
/// to the connection's thread and back, and on a busy machine each hand-off waits for a
/// core: runs of up to 256 rows (at most 24 values a row, 6,144 a statement) made a 100k
/// first sweep 14-25% faster than runs of up to 64, in three alternating runs of each.
const SHAPES: [usize; 5] = [256, 64, 16, 4, 1];

/// The rows of a token upsert, named for the statement's tail: each value as the token's
/// `tokens` row reads it (none for a `given` row), its pair by number.
pub(super) const UPSERT_TOKENS: &str = "WITH v (token_id, pair_id, issuer, status, scopes,
    created_at, last_updated_at, expires_at, first_seen_at, last_seen_at, policy_matches,
    record_hash, item_hash, given) AS (";

/// Writes `token_state` from the rows (each with its pair's number), each value its latest
/// record (written just before) gives back as NULL, as the `tokens_insert` trigger stores it.
/// A `given` row's record was written in this batch and gives back every value: its values
/// are sent as NULL, and its latest record is not read to store them (only, in the conflict
/// branch, to tell whether a revoked token came back ACTIVE).
pub(super) const UPSERT_TOKENS_TAIL: &str =
    ") INSERT INTO token_state (token_id, pair_id, first_seen_at,
    last_seen_at, policy_matches, record_hash, item_hash, issuer, status, scopes, created_at,
    last_updated_at, expires_at)
    SELECT v.token_id, v.pair_id, v.first_seen_at, v.last_seen_at, v.policy_matches, v.record_hash,
        v.item_hash,
        CASE WHEN v.given THEN NULL WHEN v.issuer IS r.issuer THEN NULL
             ELSE COALESCE(v.issuer, x'') END,
        CASE WHEN v.given THEN NULL WHEN v.status IS r.status THEN NULL
             ELSE COALESCE(v.status, x'') END,
        CASE WHEN v.given THEN NULL WHEN v.scopes IS r.scopes THEN NULL ELSE v.scopes END,
        CASE WHEN v.given THEN NULL WHEN v.created_at IS r.created_at THEN NULL
             ELSE COALESCE(v.created_at, x'') END,
        CASE WHEN v.given THEN NULL WHEN v.last_updated_at IS r.last_updated_at THEN NULL
             ELSE COALESCE(v.last_updated_at, x'') END,
        CASE WHEN v.given THEN NULL WHEN v.expires_at IS r.expires_at THEN NULL
             ELSE COALESCE(v.expires_at, x'') END
    FROM v LEFT JOIN token_history_values r ON r.id = CASE WHEN v.given THEN NULL
        ELSE (SELECT max(m.id) FROM token_history m WHERE m.token_id = v.token_id) END
    WHERE true
    ON CONFLICT (token_id) DO UPDATE SET pair_id = excluded.pair_id,
    issuer = excluded.issuer, status = excluded.status,
    scopes = excluded.scopes, created_at = excluded.created_at,
    last_updated_at = excluded.last_updated_at, expires_at = excluded.expires_at,
    last_seen_at = excluded.last_seen_at,
    policy_matches = excluded.policy_matches, record_hash = excluded.record_hash,
    item_hash = excluded.item_hash,
    gone_at = CASE WHEN token_state.revoked_at >= excluded.last_seen_at
        THEN token_state.gone_at END,
    reappeared_at = CASE WHEN token_state.revoked_at < excluded.last_seen_at
        AND (token_state.reappeared_at IS NULL
             OR token_state.reappeared_at < token_state.revoked_at)
        AND COALESCE(CASE WHEN excluded.status IS NOT NULL THEN nullif(excluded.status, x'')
            ELSE (SELECT r.status FROM token_history_values r WHERE r.id = (
                SELECT max(m.id) FROM token_history m WHERE m.token_id = excluded.token_id))
            END, 'ACTIVE') = 'ACTIVE'
        THEN excluded.last_seen_at ELSE token_state.reappeared_at END";

/// What the writer knows of a split record without asking SQLite's JSON functions.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Known {
    /// The record is known to be a JSON object: it was split from one, which said what it
    /// holds ([`Said`]), so folding need not parse it again.
    pub(super) object: bool,
    /// The record gives back each value its token's row and history record could keep beside
    /// it (issuer, status, scopes, created, last update, expiry) exactly as the observation
    /// holds it, so none is stored.
    pub(super) values: bool,
}

impl Known {
    /// What the writer knows of a record split from an item that `said` this, observed as `t`.
    pub(super) fn of(said: Option<Said<'_>>, t: &TokenObservation) -> Known {
        let Some(s) = said else {
            return Known::default();
        };
        // SQLite's `->` renders such an array of scopes as the text it was sent as.
        let scopes =
            s.scopes == Some(t.scopes_json.as_str()) && Said::plain_strings(&t.scopes_json);
        let reads = |raw, value: &Option<String>| Said::reads_as(raw, value.as_deref());
        Known {
            object: true,
            values: scopes
                && reads(s.issuer, &t.issuer)
                && reads(s.status, &t.status)
                && reads(s.created, &t.created_at)
                && reads(s.last_updated, &t.last_updated_at)
                && reads(s.expires_at, &t.expires_at),
        }
    }
}

/// One observation with the page it came from, ready to write.
#[derive(Debug, Clone, Copy)]
pub(super) struct Observed<'a> {
    pub(super) sweep_id: Option<i64>,
    /// `observed_at` as stored.
    pub(super) seen: &'a str,
    pub(super) token: &'a TokenObservation,
}

/// Writes observations on `conn`, inside the caller's transaction: appends a history record (a
/// `token_snapshots` row) for each observation whose record differs from the one stored before it,
/// then upserts `token_state` (keeping `first_seen_at`, clearing `gone_at`). Returns the ids of
/// tokens revokd had revoked that are listed as ACTIVE again for the first time since (their
/// `reappeared_at` is set then, once per revocation). An
/// observation made before the token's revocation (a page fetched, then the token revoked, then the
/// page written) neither flags it nor brings it back from gone. An observation older than the
/// token's last sighting or than the listing that found it gone (written after them: its
/// transaction waited behind theirs) is not written at all.
///
/// Rows are written in token-id order, whatever order they came in: ids are random, and inserting
/// them sorted walks the `token_state` key and the snapshots' token index from one end to the
/// other, touching each index page once, where arrival order would jump between them.
pub(super) async fn write_observed(
    conn: &mut SqliteConnection,
    rows: &mut [Observed<'_>],
) -> Result<Vec<String>, Error> {
    // Stable: of two observations of a token at the same instant, the later sent stays last.
    rows.sort_by(|a, b| {
        (a.token.token_id.as_str(), a.seen).cmp(&(b.token.token_id.as_str(), b.seen))
    });
    let (fresh, mut stored) = fresh(conn, rows).await?;
    let rows = fresh.as_slice();
    let items: Vec<Option<[u8; 16]>> = rows.iter().map(|o| o.token.record.item_hash()).collect();
    // Records are split only where the item as sent differs from the stored one.
    let mut records: Vec<Option<(Cow<'_, TokenRecord>, Known)>> = Vec::with_capacity(rows.len());
    // A token listed twice in one batch gets one write, from its latest observation, and a
    // snapshot for each observation that changed its record. A token whose item, rules and
    // presence are all as stored only has `last_seen_at` moved. A token's row whose latest
    // record is written here and gives back every value ([`Known::values`]) is `given`: its
    // row keeps none of them, and nothing of its history is read to tell.
    let mut latest: Vec<(usize, i64, bool)> = Vec::with_capacity(rows.len());
    let mut touched: Vec<&Observed<'_>> = Vec::with_capacity(rows.len());
    let mut changed: Vec<usize> = Vec::new();
    let mut group_changed = false;
    for (i, (o, &item)) in rows.iter().zip(&items).enumerate() {
        let id = o.token.token_id.as_str();
        let known = stored[i].as_ref();
        let same_item = known.and_then(|s| match s.record {
            Record::Hash(h) if item.is_some() && s.item_hash == item => Some(h),
            _ => None,
        });
        let (same, hash, given) = match same_item {
            Some(h) => {
                records.push(None);
                (true, h, false)
            }
            None => {
                let (record, hash, what) = o.token.split_record();
                let same = known.is_some_and(|s| match &s.record {
                    Record::Hash(h) => *h == hash,
                    Record::Text(text) => text.as_deref() == Some(record.json.as_str()),
                });
                records.push(Some((record, what)));
                (same, hash, !same && what.values)
            }
        };
        if !same {
            changed.push(i);
            group_changed = true;
        }
        if rows.get(i + 1).is_none_or(|next| next.token.token_id != id) {
            let settled = known.is_some_and(|s| {
                s.settled
                    && matches!(s.record, Record::Hash(_))
                    && (item.is_none() || s.item_hash == item)
                    && s.policy_matches == o.token.policy_matches
            });
            if settled && !group_changed {
                touched.push(o);
            } else {
                latest.push((i, hash, given));
            }
            group_changed = false;
        } else {
            // The next observation of the token compares with this one (a token new to the
            // database too, so one listed twice alike gets one snapshot).
            let next = stored[i + 1].get_or_insert_with(|| Stored {
                record: Record::Hash(hash),
                item_hash: item,
                policy_matches: String::new(),
                settled: false,
                as_of: String::new(),
            });
            next.record = Record::Hash(hash);
            next.item_hash = item;
        }
    }
    touch(conn, &touched).await?;
    // Every changed row was split above; its record moves into the snapshot.
    let changed: Vec<(&Observed<'_>, TokenRecord, Known)> = changed
        .into_iter()
        .filter_map(|i| {
            let (record, what) = records[i].take()?;
            Some((&rows[i], record.into_owned(), what))
        })
        .collect();
    write_scopes(conn, &changed).await?;
    // Before the records: a record is stored folded by its pair's number.
    let pairs = write_pairs(conn, rows, &latest).await?;
    write_records(conn, changed, &pairs).await?;
    // After the records: a token's row keeps only what its latest record does not say.
    for run in runs(&latest) {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(UPSERT_TOKENS);
        q.push_values(run, |mut row, &(i, hash, given)| {
            let (o, t) = (&rows[i], rows[i].token);
            // `pairs` numbers the pair of every row of `latest`; were one missing, the insert
            // would fail on `pair_id NOT NULL` rather than drop the row.
            row.push_bind(&t.token_id)
                .push_bind(pairs.get(&(t.user_id.as_str(), t.client_id.as_str())))
                .push_bind(unless(given, t.issuer.as_deref()))
                .push_bind(unless(given, t.status.as_deref()))
                .push_bind(unless(given, Some(&t.scopes_json)))
                .push_bind(unless(given, t.created_at.as_deref()))
                .push_bind(unless(given, t.last_updated_at.as_deref()))
                .push_bind(unless(given, t.expires_at.as_deref()))
                .push_bind(o.seen)
                .push_bind(o.seen)
                .push_bind(&t.policy_matches)
                .push_bind(hash)
                .push_bind(items[i].map(Vec::from))
                .push_bind(given);
        });
        q.push(UPSERT_TOKENS_TAIL);
        q.build().execute(&mut *conn).await?;
    }
    let latest: Vec<&Observed<'_>> = latest.into_iter().map(|(i, ..)| &rows[i]).collect();
    revoked_among(conn, &latest).await
}

/// Moves `last_seen_at` of unchanged tokens: one statement per observation instant, the ids
/// passed as one JSON array.
async fn touch(conn: &mut SqliteConnection, rows: &[&Observed<'_>]) -> Result<(), Error> {
    let mut by_seen: HashMap<&str, Vec<&str>> = HashMap::new();
    for o in rows {
        by_seen.entry(o.seen).or_default().push(&o.token.token_id);
    }
    for (seen, ids) in by_seen {
        let ids = serde_json::to_string(&ids).unwrap_or_else(|_| "[]".into());
        sqlx::query(
            "UPDATE token_state SET last_seen_at = ?1
             WHERE token_id IN (SELECT value FROM json_each(?2)) AND last_seen_at < ?1",
        )
        .bind(seen)
        .bind(ids)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// A value to send, none when the record `given` gives it back (the statement then reads no
/// value).
pub(super) fn unless(given: bool, value: Option<&str>) -> Option<&str> {
    value.filter(|_| !given)
}

/// `rows` cut into consecutive runs of the [`SHAPES`] sizes, largest first.
pub(super) fn runs<T>(mut rows: &[T]) -> impl Iterator<Item = &[T]> {
    std::iter::from_fn(move || {
        let size = SHAPES.into_iter().find(|&n| n <= rows.len())?;
        let (run, rest) = rows.split_at(size);
        rows = rest;
        Some(run)
    })
}

/// `rows` cut as [`runs`] cuts them, each run given up by value (so its values can move into
/// a statement rather than be copied).
pub(super) fn owned_runs<T>(rows: Vec<T>) -> impl Iterator<Item = Vec<T>> {
    let sizes: Vec<usize> = runs(&rows).map(<[T]>::len).collect();
    let mut rows = rows.into_iter();
    sizes
        .into_iter()
        .map(move |size| rows.by_ref().take(size).collect())
}

/// The ids among `latest` (one observation per token, in id order) that were just flagged as
/// reappeared: observed ACTIVE (or with no status) for the first time since revokd revoked
/// them. In id order.
async fn revoked_among(
    conn: &mut SqliteConnection,
    latest: &[&Observed<'_>],
) -> Result<Vec<String>, Error> {
    let active: Vec<&Observed<'_>> = latest
        .iter()
        .copied()
        .filter(|o| crate::okta::model::status_may_be_active(o.token.status.as_deref()))
        .collect();
    if active.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<(&str, &str)> = active
        .iter()
        .map(|o| (o.token.token_id.as_str(), o.seen))
        .collect();
    let ids = serde_json::to_string(&ids).unwrap_or_else(|_| "[]".into());
    Ok(sqlx::query_scalar(
        // The small partial index of revoked tokens, not the primary key: with the key, each id
        // would cost a read of its row to test `revoked_at`.
        "SELECT t.token_id FROM json_each(?) AS o
           JOIN token_state AS t INDEXED BY token_state_revoked
             ON t.token_id = o.value ->> 0 AND t.revoked_at IS NOT NULL
          WHERE t.revoked_at < o.value ->> 1 AND t.reappeared_at = o.value ->> 1
          ORDER BY t.token_id",
    )
    .bind(ids)
    .fetch_all(&mut *conn)
    .await?)
}
