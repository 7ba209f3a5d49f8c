//! The upgrade to the narrow stored form, on a database written with the schema before it:
//! `token_snapshots` reads exactly as it did (every column of every row), Okta's records are
//! still whole through `v_token_records`, the audit chain still verifies and goes on, and a
//! snapshot written afterwards stores no value its record already holds.

use chrono::{DateTime, Utc};
use sqlx::SqlitePool;

use super::tests_migration::migrate_through;
use super::tests_migration::write_as_before;
use super::{
    NewRevocation, ObservedRecord, RevocationState, RevocationTrigger, Store, TokenObservation,
};
use crate::config::Mode;
use crate::okta::record::split;

/// The last migration before the narrow stored form.
const BEFORE: i64 = 20261217000000;

/// A snapshot as `token_snapshots` shows it.
type SnapshotRow = (
    i64,
    Option<i64>,
    String,
    String,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
    String,
);

const SNAPSHOTS: &str = "SELECT id, sweep_id, token_id, observed_at, status, scopes,
    last_updated_at, expires_at, raw_json FROM token_snapshots ORDER BY id";

fn okta(id: &str, status: &str, updated: &str) -> String {
    format!(
        r#"{{"id":"{id}","status":"{status}","created":"2026-01-01T00:00:00.000Z","lastUpdated":"{updated}","expiresAt":"2027-01-01T00:00:00.000Z","issuer":"https://o/oauth2/aus1","clientId":"0oa1","userId":"00u1","scopes":["openid","offline_access"],"_embedded":{{"scopes":[{{"id":"scp1","name":"openid"}},{{"id":"scp2","name":"offline_access"}}]}},"_links":{{"self":{{"href":"https://o/{id}"}}}}}}"#
    )
}

/// An observation as a sweep makes it from Okta's record.
pub(super) fn listed(id: &str, status: &str, updated: &str) -> TokenObservation {
    let record = split(&okta(id, status, updated));
    TokenObservation {
        token_id: id.into(),
        user_id: "00u1".into(),
        client_id: "0oa1".into(),
        issuer: Some("https://o/oauth2/aus1".into()),
        status: Some(status.into()),
        scopes_json: r#"["openid","offline_access"]"#.into(),
        created_at: Some("2026-01-01T00:00:00.000Z".into()),
        last_updated_at: Some(updated.into()),
        expires_at: Some("2027-01-01T00:00:00.000Z".into()),
        record: ObservedRecord::Split(record),
        policy_matches: "[]".into(),
    }
}

/// Observations whose stored values are not all their record's members.
pub(super) fn odd() -> Vec<TokenObservation> {
    let base = listed("oarOdd1", "ACTIVE", "2026-02-01T00:00:00.000Z");
    vec![
        // No status derived although the record has one; other scopes than the record's.
        TokenObservation {
            status: None,
            scopes_json: r#"["openid"]"#.into(),
            expires_at: None,
            ..base.clone()
        },
        // A record without the members, and one that is not JSON at all.
        super::tokens::observation("00u1", "oarOdd2", r#"{"v":1}"#),
        // Values that look like numbers stay the text they are.
        TokenObservation {
            token_id: "oarOdd4".into(),
            status: Some("0012".into()),
            scopes_json: "1.0".into(),
            last_updated_at: Some(" 5 ".into()),
            expires_at: Some("1e3".into()),
            ..base.clone()
        },
        TokenObservation {
            token_id: "oarOdd3".into(),
            record: ObservedRecord::split_json("not json"),
            last_updated_at: Some(String::new()),
            ..base
        },
    ]
}

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

async fn snapshots(pool: &SqlitePool) -> Vec<SnapshotRow> {
    sqlx::query_as(SNAPSHOTS).fetch_all(pool).await.unwrap()
}

async fn okta_json(pool: &SqlitePool) -> Vec<(i64, String)> {
    // A text that is not JSON has no record to show (the view fails on it, before and after).
    sqlx::query_as(
        "SELECT id, okta_json FROM v_token_records WHERE token_id <> 'oarOdd3' ORDER BY id",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

fn planned(token: &str, at: &str) -> NewRevocation {
    NewRevocation {
        policy: Some("idle-30d".into()),
        reason: Some("idle-30d: idle_for 30d".into()),
        ..NewRevocation::new(
            Some(token.into()),
            "00u1",
            "0oa1",
            RevocationTrigger::Policy,
            Mode::DryRun,
            RevocationState::Planned,
            at,
        )
    }
}

/// A database at the schema before the narrow form, written as the code of that schema wrote
/// it.
async fn old_database(pool: &SqlitePool) -> Store {
    migrate_through(pool, BEFORE).await;
    let old_store = Store { pool: pool.clone() };
    let day1 = at("2026-03-01T00:00:00Z");
    let first = vec![
        listed("oarA", "ACTIVE", "2026-02-01T00:00:00.000Z"),
        listed("oarB", "ACTIVE", "2026-02-02T00:00:00.000Z"),
    ];
    write_as_before(pool, &first, day1).await;
    write_as_before(pool, &odd(), day1).await;
    let changed = [listed("oarA", "ACTIVE", "2026-03-01T12:00:00.000Z")];
    write_as_before(pool, &changed, at("2026-03-02T00:00:00Z")).await;
    old_store
        .append_revocations(&[
            planned("oarA", "2026-03-01T00:00:00.000Z"),
            planned("oarB", "2026-03-01T00:00:00.000Z"),
        ])
        .await
        .unwrap();
    old_store
}

#[sqlx::test(migrations = false)]
async fn snapshots_read_as_before_and_the_chain_verifies_and_goes_on(pool: SqlitePool) {
    let old = old_database(&pool).await;
    let before = snapshots(&pool).await;
    let records_before = okta_json(&pool).await;
    assert_eq!(before.len(), 7, "two tokens, four odd ones, one change");
    assert_eq!(old.verify_audit().await.unwrap(), Ok(2));

    let store = Store::from_pool(pool).await.unwrap();
    assert_eq!(
        snapshots(store.pool()).await,
        before,
        "every column of every row"
    );
    assert_eq!(okta_json(store.pool()).await, records_before);
    // Only the values the records do not give back are stored.
    let stored: Vec<(String, i64)> = sqlx::query_as(
        "SELECT token_id, (status IS NOT NULL) + (scopes IS NOT NULL)
             + (last_updated_at IS NOT NULL) + (expires_at IS NOT NULL)
         FROM token_history ORDER BY id",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    let kept = |id: &str| -> Vec<i64> {
        stored
            .iter()
            .filter(|(t, _)| t == id)
            .map(|(_, n)| *n)
            .collect()
    };
    assert_eq!(kept("oarA"), [0, 0]);
    assert_eq!(kept("oarB"), [0]);
    assert_eq!(kept("oarOdd1"), [3], "status, scopes, expires_at");
    assert_eq!(
        kept("oarOdd2"),
        [2],
        "status and scopes: a record without them"
    );
    assert_eq!(kept("oarOdd3"), [4], "not JSON");

    assert_eq!(store.verify_audit().await.unwrap(), Ok(2));
    store
        .append_revocation(&planned("oarB", "2026-03-03T00:00:00.000Z"))
        .await
        .unwrap();
    assert_eq!(store.verify_audit().await.unwrap(), Ok(3));
    let deleted = sqlx::query("DELETE FROM revocations WHERE id = 1")
        .execute(store.pool())
        .await;
    assert!(deleted.is_err(), "still append-only");

    // Written after the upgrade: read back as given, ids going on from the old ones.
    let later = at("2026-03-04T00:00:00Z");
    let mut next = odd();
    next.push(listed("oarB", "SUSPENDED", "2026-03-03T00:00:00.000Z"));
    for o in &mut next {
        if let ObservedRecord::Split(r) = &mut o.record {
            r.json = (r.json)
                .replace("2026-02-01", "2026-02-09")
                .replace(r#""v":1"#, r#""v":2"#)
                .replace("not json", "still not json");
        }
    }
    store.record_page(None, &next, later).await.unwrap();
    let after = snapshots(store.pool()).await;
    assert_eq!(after[..before.len()], before[..]);
    let mut written: Vec<SnapshotRow> = after[before.len()..].to_vec();
    written.sort_by(|a, b| a.2.cmp(&b.2));
    let mut expected: Vec<&TokenObservation> = next.iter().collect();
    expected.sort_by(|a, b| a.token_id.cmp(&b.token_id));
    assert_eq!(written.len(), expected.len());
    for (row, o) in written.iter().zip(expected) {
        assert!(row.0 > before.last().unwrap().0);
        let wanted = (
            None,
            o.token_id.clone(),
            super::ts(later),
            o.status.clone(),
            o.scopes_json.clone(),
            o.last_updated_at.clone(),
            o.expires_at.clone(),
            match &o.record {
                ObservedRecord::Split(r) => r.json.clone(),
                ObservedRecord::Sent(json) => json.clone(),
            },
        );
        let got = (
            row.1,
            row.2.clone(),
            row.3.clone(),
            row.4.clone(),
            row.5.clone(),
            row.6.clone(),
            row.7.clone(),
            row.8.clone(),
        );
        assert_eq!(got, wanted);
    }
}
