//! Values the writer knows from the item as sent: a token written from Okta's item as sent is
//! stored exactly as the same record written already split (whose values SQLite reads from the
//! record), row for row and byte for byte, whether or not the item's values could be told
//! without SQLite: for a first record and a changed one, a record whose stored values are
//! compared again, an item told in one sweep and not the other, and a token listed twice.

use chrono::{DateTime, Utc};
use sqlx::SqlitePool;

use super::observations::Known;
use super::{ObservedRecord, Store, TokenObservation};
use crate::okta::record::{split, split_said};

const SCOPES: &str = r#"["openid","offline_access"]"#;

/// An item as Okta sends it, with `members` in place of the usual values.
fn item(id: &str, members: &str) -> String {
    format!(
        r#"{{"id":"{id}",{members},"clientId":"0oa1","userId":"00u1","_embedded":{{"scopes":[{{"id":"scp1","name":"openid"}}]}},"_links":{{"self":{{"href":"https://o/{id}"}}}}}}"#
    )
}

const USUAL: &str = r#""status":"ACTIVE","created":"2026-01-01T00:00:00.000Z","lastUpdated":"2026-02-01T00:00:00.000Z","expiresAt":"2027-01-01T00:00:00.000Z","issuer":"https://o/oauth2/aus1","scopes":["openid","offline_access"]"#;

/// An observation of `raw` as a sweep makes it: the usual values, then `edit`.
fn observed(id: &str, raw: String, edit: impl FnOnce(&mut TokenObservation)) -> TokenObservation {
    let mut o = TokenObservation {
        token_id: id.into(),
        user_id: "00u1".into(),
        client_id: "0oa1".into(),
        issuer: Some("https://o/oauth2/aus1".into()),
        status: Some("ACTIVE".into()),
        scopes_json: SCOPES.into(),
        created_at: Some("2026-01-01T00:00:00.000Z".into()),
        last_updated_at: Some("2026-02-01T00:00:00.000Z".into()),
        expires_at: Some("2027-01-01T00:00:00.000Z".into()),
        record: ObservedRecord::Sent(raw),
        policy_matches: "[]".into(),
    };
    edit(&mut o);
    o
}

/// An item whose record is the same in every sweep, its `_links` not.
fn steady(status: &str) -> String {
    let links = format!("https://o/oarSteady?{status}");
    item("oarSteady", USUAL).replace("https://o/oarSteady", &links)
}

/// Items and observations, each with whether the writer knows the values without SQLite.
fn cases(status: &str) -> Vec<(TokenObservation, bool)> {
    let usual = USUAL.replace("ACTIVE", status);
    let with = |id: &str, members: String, edit: fn(&mut TokenObservation), known| {
        let mut o = observed(id, item(id, &members), edit);
        o.status = o.status.map(|s| s.replace("ACTIVE", status));
        (o, known)
    };
    vec![
        with("oarUsual", usual.clone(), |_| {}, true),
        // No expiry: absent, or null.
        with(
            "oarNoExpiry",
            usual.replace(r#","expiresAt":"2027-01-01T00:00:00.000Z""#, ""),
            |o| o.expires_at = None,
            true,
        ),
        with(
            "oarNullExpiry",
            usual.replace(r#""2027-01-01T00:00:00.000Z""#, "null"),
            |o| o.expires_at = None,
            true,
        ),
        // An escaped string reads as its text, but only SQLite is asked.
        with(
            "oarEscaped",
            usual.replace(
                &format!(r#""status":"{}"#, &status[..1]),
                &format!(r#""status":"\u{:04x}"#, status.as_bytes()[0]),
            ),
            |_| {},
            false,
        ),
        // Scopes written with spaces, a time in another form, a number for the issuer.
        with(
            "oarSpaced",
            usual.replace(SCOPES, r#"[ "openid", "offline_access" ]"#),
            |_| {},
            false,
        ),
        with(
            "oarOtherTime",
            usual.replace("2026-02-01T00:00:00.000Z", "2026-02-01T00:00:00Z"),
            |_| {},
            false,
        ),
        with(
            "oarNumber",
            usual.replace(r#""https://o/oauth2/aus1""#, "5"),
            |o| o.issuer = None,
            false,
        ),
        // A member twice, a key with escapes, a value the observation holds and the item not.
        with(
            "oarTwice",
            format!(r#"{usual},"status":"SUSPENDED""#),
            |_| {},
            false,
        ),
        with(
            "oarEscapedKey",
            usual.replace(r#""issuer""#, r#""iss\u0075er""#),
            |_| {},
            false,
        ),
        with(
            "oarMissing",
            usual.replace(r#""created":"2026-01-01T00:00:00.000Z","#, ""),
            |_| {},
            false,
        ),
        // The observation's own values differ from the item's.
        with(
            "oarOwn",
            usual.clone(),
            |o| o.scopes_json = r#"["openid"]"#.into(),
            false,
        ),
        // A member twice, the first the one the observation does not hold.
        with(
            "oarFirstDiffers",
            format!(r#""status":"STALE",{usual}"#),
            |_| {},
            false,
        ),
        // Nested past SQLite's limit: it reads no member of the record.
        with(
            "oarDeep",
            format!(r#"{usual},"x":{}{}"#, "[".repeat(1_001), "]".repeat(1_001)),
            |_| {},
            false,
        ),
        // Not an object.
        (observed("oarArray", "[]".into(), |_| {}), false),
        // Told from the item in the second sweep, not in the first (the row stored values).
        if status == "ACTIVE" {
            let later = usual.replace("2026-02-01T00:00:00.000Z", "2026-02-01T00:00:00Z");
            with("oarLater", later, |_| {}, false)
        } else {
            with("oarLater", usual.clone(), |_| {}, true)
        },
        // The same record in both sweeps (the second item differs in its `_links` alone), first
        // observed with a value of its own, then with the item's (and other rules, so the row
        // is written): the record is unchanged, so its stored values are compared, not told.
        (
            observed("oarSteady", steady(status), |o| {
                if status == "ACTIVE" {
                    o.last_updated_at = Some("2026-02-01T00:00:00Z".into());
                } else {
                    o.policy_matches = r#"["idle"]"#.into();
                }
            }),
            status != "ACTIVE",
        ),
        // Listed twice in one page: told only from its latest observation.
        with("oarTwiceListed", usual.replace(".000Z", "Z"), |_| {}, false),
        with("oarTwiceListed", usual, |_| {}, true),
    ]
}

/// Every stored column of both tables but the item hash, and both views, as text.
async fn stored(pool: &SqlitePool) -> Vec<String> {
    let queries = [
        "SELECT json_array(token_id, pair_id, first_seen_at, last_seen_at, gone_at, revoked_at,
            revoked_by, policy_matches, reappeared_at, record_hash, quote(issuer), quote(status),
            quote(scopes), quote(created_at), quote(last_updated_at), quote(expires_at))
         FROM token_state ORDER BY token_id",
        "SELECT json_array(id, sweep_id, token_id, observed_at, raw_json, folded_id, pair_id,
            quote(status), quote(scopes), quote(last_updated_at), quote(expires_at))
         FROM token_history ORDER BY id",
        "SELECT json_array(token_id, user_id, client_id, issuer, status, scopes, created_at,
            last_updated_at, expires_at, first_seen_at, last_seen_at) FROM tokens
         ORDER BY token_id",
        "SELECT json_array(id, token_id, status, scopes, last_updated_at, expires_at, raw_json)
         FROM token_snapshots ORDER BY id",
    ];
    let mut out = Vec::new();
    for q in queries {
        let rows: Vec<String> = sqlx::query_scalar(q).fetch_all(pool).await.unwrap();
        out.extend(rows);
    }
    out
}

async fn store(dir: &tempfile::TempDir, name: &str) -> Store {
    let db = dir.path().join(name);
    Store::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap()
}

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

#[tokio::test]
async fn an_item_as_sent_is_stored_as_the_same_record_split_before() {
    let dir = tempfile::tempdir().unwrap();
    let (sent, split_before) = (store(&dir, "sent.db").await, store(&dir, "split.db").await);
    let sweeps = [
        ("ACTIVE", "2026-03-01T00:00:00Z"),
        ("SUSPENDED", "2026-03-02T00:00:00Z"),
    ];
    for (status, when) in sweeps {
        let cases = cases(status);
        let mut as_split = Vec::new();
        for (o, known) in &cases {
            let ObservedRecord::Sent(raw) = &o.record else {
                unreachable!()
            };
            let (record, said) = split_said(raw);
            assert_eq!(record, split(raw));
            assert_eq!(Known::of(said, o).values, *known, "{}", o.token_id);
            as_split.push(TokenObservation {
                record: ObservedRecord::Split(record),
                ..o.clone()
            });
        }
        let page: Vec<TokenObservation> = cases.into_iter().map(|(o, _)| o).collect();
        sent.record_page(None, &page, at(when)).await.unwrap();
        split_before
            .record_page(None, &as_split, at(when))
            .await
            .unwrap();
        let (found, expected) = (stored(&sent.pool).await, stored(&split_before.pool).await);
        assert_eq!(found.len(), expected.len());
        for (a, b) in found.iter().zip(&expected) {
            assert_eq!(a, b, "as sent, then as split before");
        }
    }
    // A record for every observation (one token listed twice) but, in the second sweep, the
    // two whose records did not change (oarArray, whose item is the same, and oarSteady, whose
    // item differs in its `_links` alone).
    let records: i64 = sqlx::query_scalar("SELECT count(*) FROM token_history")
        .fetch_one(&sent.pool)
        .await
        .unwrap();
    assert_eq!(
        records,
        18 + 16,
        "every observation but the unchanged ones of the second"
    );
}
