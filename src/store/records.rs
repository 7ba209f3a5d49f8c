//! Storing what changed: each new or changed record in `token_history` (folded, as the
//! `token_snapshots` view unfolds it) and the pairs that number the records and the tokens
//! (`token_pairs`); their scope items go to `scope_catalog` (see [`super::scopes`]).
//!
//! A record is folded here, not by the view's trigger (which folds what is written through
//! `token_snapshots` and checks each fold): only plain ids are folded (ASCII letters, digits,
//! `-`, `_`, `.`), which `json_quote` writes as themselves in quotes, so what is left out is
//! exactly what the view puts back, and storing a record costs about half as much.

use std::collections::HashMap;

use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

use super::Error;
use super::observations::{Known, Observed, owned_runs, unless};
use crate::okta::record::TokenRecord;

/// The marker a record's `"clientId":…,"userId":…` run is stored as.
const MARKER: &str = r#""~":0"#;

/// The rows of a record insert, named for the statement's tail.
const INSERT_RECORDS: &str = "WITH v (sweep_id, token_id, observed_at, status, scopes,
    last_updated_at, expires_at, raw_json, folded_id, pair_id, given) AS (";

/// Each value is stored only where the record as stored does not give it back, read with the
/// expressions of `token_history_values` (an empty blob for a NULL the record does not give;
/// `scopes` defaults to `[]`). A `given` record gives back every value ([`Known::values`]) and
/// is not read.
const INSERT_RECORDS_TAIL: &str = ") INSERT INTO token_history (sweep_id, token_id,
    observed_at, raw_json, folded_id, pair_id, status, scopes, last_updated_at, expires_at)
    SELECT sweep_id, token_id, observed_at, raw_json, folded_id, pair_id,
        CASE WHEN given THEN NULL
             WHEN status IS (CASE WHEN json_valid(raw_json) THEN raw_json ->> '$.status' END)
             THEN NULL ELSE COALESCE(status, x'') END,
        CASE WHEN given THEN NULL WHEN COALESCE(scopes, '[]')
                  IS (CASE WHEN json_valid(raw_json) THEN raw_json -> '$.scopes' END)
             THEN NULL ELSE COALESCE(scopes, '[]') END,
        CASE WHEN given THEN NULL WHEN last_updated_at
                  IS (CASE WHEN json_valid(raw_json) THEN raw_json ->> '$.lastUpdated' END)
             THEN NULL ELSE COALESCE(last_updated_at, x'') END,
        CASE WHEN given THEN NULL WHEN expires_at
                  IS (CASE WHEN json_valid(raw_json) THEN raw_json ->> '$.expiresAt' END)
             THEN NULL ELSE COALESCE(expires_at, x'') END
    FROM v";

/// A pair's number by its user and client.
pub(super) type Pairs<'a> = HashMap<(&'a str, &'a str), i64>;

/// A record as stored: its text, and what was left out of it.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Folded {
    pub(super) json: String,
    /// The leading `"id":"<token id>",` is left out.
    pub(super) id: bool,
    /// The pair whose `"clientId":…,"userId":…` run is the record's marker.
    pub(super) pair: Option<i64>,
}

/// An id `json_quote` writes as itself in quotes, and a record holds the same way.
fn plain(id: &str) -> bool {
    !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// `json` folded for the token `token_id` of the pair `pair` (its number, user and client):
/// the leading id left out where it is the token's, the pair's run replaced by the marker
/// wherever it stands. The view's unfolding gives `json` back byte for byte: no id is folded
/// that is not plain, nothing is folded in a text that already holds the marker, and the
/// marker cannot be formed across a replaced run (no end of it is also its start), so the
/// view's markers are exactly the replaced runs. A text that is not JSON is not folded
/// either, as the view's trigger does not fold it (an `object`, split from one, is not parsed
/// again to tell).
pub(super) fn fold(
    mut json: String,
    token_id: &str,
    pair: Option<(i64, &str, &str)>,
    object: bool,
) -> Folded {
    let unchanged = |json| Folded {
        json,
        id: false,
        pair: None,
    };
    if json.contains(MARKER)
        || !object && serde_json::from_str::<serde::de::IgnoredAny>(&json).is_err()
    {
        return unchanged(json);
    }
    let lead = format!(r#"{{"id":"{token_id}","#);
    let id = plain(token_id) && json.starts_with(&lead);
    if id {
        json.replace_range(..lead.len(), "{");
    }
    let mut folded_pair = None;
    if let Some((number, user, client)) = pair.filter(|(_, u, c)| plain(u) && plain(c)) {
        // Each run in turn, in place: the marker holds no part of a run, so none is formed
        // across a replaced one.
        let run = format!(r#""clientId":"{client}","userId":"{user}""#);
        let mut from = 0;
        while let Some(at) = json[from..].find(&run) {
            json.replace_range(from + at..from + at + run.len(), MARKER);
            from += at + MARKER.len();
            folded_pair = Some(number);
        }
    }
    Folded {
        json,
        id,
        pair: folded_pair,
    }
}

/// Stores each changed record, folded, with the values it does not give back.
pub(super) async fn write_records(
    conn: &mut SqliteConnection,
    changed: Vec<(&Observed<'_>, TokenRecord, Known)>,
    pairs: &Pairs<'_>,
) -> Result<(), Error> {
    let folded: Vec<(&Observed<'_>, Folded, bool)> = changed
        .into_iter()
        .map(|(o, record, known)| {
            let t = o.token;
            let pair = pairs
                .get(&(t.user_id.as_str(), t.client_id.as_str()))
                .map(|&n| (n, t.user_id.as_str(), t.client_id.as_str()));
            let folded = fold(record.json, &t.token_id, pair, known.object);
            (o, folded, known.values)
        })
        .collect();
    for run in owned_runs(folded) {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(INSERT_RECORDS);
        q.push_values(run, |mut row, (o, f, given)| {
            let t = o.token;
            row.push_bind(o.sweep_id)
                .push_bind(&t.token_id)
                .push_bind(o.seen)
                .push_bind(unless(given, t.status.as_deref()))
                .push_bind(unless(given, Some(&t.scopes_json)))
                .push_bind(unless(given, t.last_updated_at.as_deref()))
                .push_bind(unless(given, t.expires_at.as_deref()))
                .push_bind(f.json)
                .push_bind(f.id.then_some(1_i64))
                .push_bind(f.pair)
                .push_bind(given);
        });
        q.push(INSERT_RECORDS_TAIL);
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Numbers the pairs of the `latest` rows that `token_pairs` does not know yet, and returns
/// the number of every pair of the `latest` rows, keyed by ids borrowed from `rows`.
pub(super) async fn write_pairs<'a>(
    conn: &mut SqliteConnection,
    rows: &[Observed<'a>],
    latest: &[(usize, i64, bool)],
) -> Result<Pairs<'a>, Error> {
    let mut pairs: Vec<(&str, &str)> = latest
        .iter()
        .map(|&(i, ..)| {
            (
                rows[i].token.user_id.as_str(),
                rows[i].token.client_id.as_str(),
            )
        })
        .collect();
    if pairs.is_empty() {
        return Ok(Pairs::new());
    }
    pairs.sort_unstable();
    pairs.dedup();
    let json = serde_json::to_string(&pairs).unwrap_or_else(|_| "[]".into());
    sqlx::query(
        "INSERT OR IGNORE INTO token_pairs (user_id, client_id)
         SELECT value ->> 0, value ->> 1 FROM json_each(?)",
    )
    .bind(&json)
    .execute(&mut *conn)
    .await?;
    // Each number with the pair's place in the array sent.
    let numbered: String = sqlx::query_scalar(
        "SELECT json_group_array(json_array(j.key, p.id))
         FROM json_each(?) AS j JOIN token_pairs AS p
           ON p.user_id = j.value ->> 0 AND p.client_id = j.value ->> 1",
    )
    .bind(json)
    .fetch_one(&mut *conn)
    .await?;
    let numbered: Vec<(usize, i64)> =
        serde_json::from_str(&numbered).map_err(|e| sqlx::Error::Decode(e.into()))?;
    Ok(numbered
        .into_iter()
        .filter_map(|(at, n)| Some((*pairs.get(at)?, n)))
        .collect())
}
