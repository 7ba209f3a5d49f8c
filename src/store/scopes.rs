//! The scope catalog (`scope_catalog`): the `_embedded.scopes` items stored records refer to
//! by id, each version with the instant it came into force. A snapshot shows, for each of its
//! scope ids, the item in force when it was taken: the latest version first seen by then.
//!
//! An item is written only where it differs from the one in force at the instant it was seen,
//! so an unchanged item costs nothing, an item edited and reverted gets a row for each change,
//! and an item seen earlier than its version's row (a page written after a later one) a row
//! from that earlier instant.

use std::collections::{BTreeSet, HashMap};

use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

use super::Error;
use super::observations::{Known, Observed, runs};
use crate::okta::record::TokenRecord;

/// A scope: its issuer and id.
type Scope<'a> = (&'a str, &'a str);

/// One item of a scope, seen (or in force from) an instant: `(issuer, scope id, at, item)`.
type Sighting<'a> = (&'a str, &'a str, &'a str, &'a str);

/// Adds the versions the scope items of changed records bring to `scope_catalog`.
pub(super) async fn write_scopes(
    conn: &mut SqliteConnection,
    changed: &[(&Observed<'_>, TokenRecord, Known)],
) -> Result<(), Error> {
    let mut seen: Vec<Sighting<'_>> = Vec::new();
    for (o, record, _) in changed {
        let issuer = o.token.issuer.as_deref().unwrap_or("");
        for s in &record.scopes {
            seen.push((issuer, s.id.as_str(), o.seen, s.json.as_str()));
        }
    }
    if seen.is_empty() {
        return Ok(());
    }
    let scopes: BTreeSet<Scope<'_>> = seen.iter().map(|s| (s.0, s.1)).collect();
    let keys = serde_json::to_string(&scopes).unwrap_or_else(|_| "[]".into());
    // Each scope's versions, oldest first (ids break ties, as the snapshots' view does).
    let stored: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT c.issuer, c.scope_id, c.first_seen_at, c.raw_json
           FROM json_each(?) AS k JOIN scope_catalog AS c
             ON c.issuer = k.value ->> 0 AND c.scope_id = k.value ->> 1
          ORDER BY c.first_seen_at, c.id",
    )
    .bind(keys)
    .fetch_all(&mut *conn)
    .await?;
    let stored: Vec<Sighting<'_>> = stored
        .iter()
        .map(|(i, s, at, json)| (i.as_str(), s.as_str(), at.as_str(), json.as_str()))
        .collect();
    let new = new_versions(seen, &stored);
    for run in runs(&new) {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO scope_catalog (issuer, scope_id, first_seen_at, raw_json) ",
        );
        q.push_values(run, |mut row, (issuer, id, at, json)| {
            row.push_bind(*issuer)
                .push_bind(*id)
                .push_bind(*at)
                .push_bind(*json);
        });
        q.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// The versions to add for `seen` (in any order), given each scope's `stored` versions
/// (oldest first): each sighting whose item is not the one in force at its instant, counting
/// the versions added before it. A version added ranks after every stored one of its instant,
/// as its larger id does.
fn new_versions<'a>(mut seen: Vec<Sighting<'a>>, stored: &[Sighting<'a>]) -> Vec<Sighting<'a>> {
    seen.sort_unstable();
    let mut timeline: HashMap<Scope<'a>, Vec<(&'a str, &'a str)>> = HashMap::new();
    for &(issuer, id, at, json) in stored {
        timeline.entry((issuer, id)).or_default().push((at, json));
    }
    let mut new = Vec::new();
    for sighting @ (issuer, id, at, json) in seen {
        let versions = timeline.entry((issuer, id)).or_default();
        // The first version that came into force after `at`.
        let after = versions.partition_point(|&(from, _)| from <= at);
        let in_force = after.checked_sub(1).map(|i| versions[i].1);
        if in_force != Some(json) {
            versions.insert(after, (at, json));
            new.push(sighting);
        }
    }
    new
}

#[cfg(test)]
mod tests {
    use super::new_versions;

    #[test]
    fn an_item_counts_where_it_differs_from_the_one_in_force_at_its_instant() {
        let stored = [("i", "s", "t1", "A"), ("i", "s", "t5", "B")];
        let seen = vec![
            ("i", "s", "t7", "A"), // B in force: a revert
            ("i", "s", "t3", "A"), // A in force
            ("i", "s", "t0", "A"), // nothing in force yet: seen before its version's row
            ("i", "s", "t6", "B"), // B in force
            ("i", "s", "t8", "A"), // the revert above is in force
            ("i", "x", "t2", "C"), // another scope
        ];
        let new = new_versions(seen, &stored);
        assert_eq!(
            new,
            vec![
                ("i", "s", "t0", "A"),
                ("i", "s", "t7", "A"),
                ("i", "x", "t2", "C")
            ]
        );
    }
}
