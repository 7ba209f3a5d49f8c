//! Records stored folded: on a database written before folding, the upgrade folds what it can
//! and every snapshot reads as it did (every column of every row, and each record whole
//! through `v_token_records`); a record is folded only where it comes back byte for byte, and
//! records written afterwards, folded by the writer, read back exactly as written.

use chrono::{DateTime, Utc};
use sqlx::SqlitePool;

use super::tests_migration::migrate_through;
use super::tests_migration::write_as_before;
use super::tests_narrow_history::{listed, odd};
use super::{ObservedRecord, Store, TokenObservation};

/// The last migration before records were folded.
const BEFORE: i64 = 20261219000000;

type Snapshot = (i64, String, Option<String>, String, Option<String>, String);

const SNAPSHOTS: &str = "SELECT id, token_id, status, scopes, last_updated_at, raw_json
    FROM token_snapshots ORDER BY id";

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

/// `o` with `record` as its record, already split.
fn with_record(o: &TokenObservation, id: &str, record: &str) -> TokenObservation {
    TokenObservation {
        token_id: id.into(),
        record: ObservedRecord::split_json(record),
        ..o.clone()
    }
}

/// Records that must not be folded, or only in part: each comes back whole or not at all.
fn awkward() -> Vec<TokenObservation> {
    let base = listed("oarX", "ACTIVE", "2026-02-01T00:00:00.000Z");
    let pair = r#""clientId":"0oa1","userId":"00u1""#;
    vec![
        // Already holds the marker's text: stored as it is.
        with_record(&base, "oarM", &format!(r#"{{"id":"oarM","~":0,{pair}}}"#)),
        // The pair's members the other way round: only the id is folded.
        with_record(
            &base,
            "oarR",
            r#"{"id":"oarR","userId":"00u1","clientId":"0oa1","status":"ACTIVE"}"#,
        ),
        // An id that is not the row's, or written with an escape: only the pair is folded.
        with_record(&base, "oarI", &format!(r#"{{"id":"oarOther",{pair}}}"#)),
        with_record(&base, "oar/E", &format!(r#"{{"id":"oar\/E",{pair}}}"#)),
        // The pair's run twice (in a nested object too) and an id as the only member.
        with_record(
            &base,
            "oarT",
            &format!(r#"{{"id":"oarT",{pair},"x":{{{pair}}}}}"#),
        ),
        with_record(&base, "oarO", r#"{"id":"oarO"}"#),
        // Not JSON, though it starts like a record.
        with_record(&base, "oarN", &format!(r#"{{"id":"oarN",{pair},"#)),
        // A user id that is a number, so no pair is known by it.
        with_record(
            &base,
            "oarU",
            r#"{"id":"oarU","clientId":"0oa1","userId":7}"#,
        ),
    ]
}

async fn snapshots(pool: &SqlitePool) -> Vec<Snapshot> {
    sqlx::query_as(SNAPSHOTS).fetch_all(pool).await.unwrap()
}

async fn records(pool: &SqlitePool) -> Vec<(i64, String)> {
    // A text that is not JSON has no record to show (the view fails on it, before and after).
    sqlx::query_as(
        "SELECT id, okta_json FROM v_token_records WHERE token_id NOT IN ('oarN', 'oarOdd3')
         ORDER BY id",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

/// `(folded_id, pair_id IS NOT NULL)` of each of a token's stored records, oldest first.
async fn folded(pool: &SqlitePool, token: &str) -> Vec<(Option<i64>, bool)> {
    sqlx::query_as(
        "SELECT folded_id, pair_id IS NOT NULL FROM token_history WHERE token_id = ? ORDER BY id",
    )
    .bind(token)
    .fetch_all(pool)
    .await
    .unwrap()
}

#[sqlx::test(migrations = false)]
async fn records_fold_only_where_they_come_back_whole(pool: SqlitePool) {
    migrate_through(&pool, BEFORE).await;
    let day1 = at("2026-03-01T00:00:00Z");
    let mut first = vec![
        listed("oarA", "ACTIVE", "2026-02-01T00:00:00.000Z"),
        listed("oarB", "ACTIVE", "2026-02-02T00:00:00.000Z"),
    ];
    first.extend(odd());
    first.extend(awkward());
    write_as_before(&pool, &first, day1).await;
    let changed = [listed("oarA", "ACTIVE", "2026-03-01T12:00:00.000Z")];
    write_as_before(&pool, &changed, at("2026-03-02T00:00:00Z")).await;
    let before = snapshots(&pool).await;
    let records_before = records(&pool).await;
    assert_eq!(before.len(), 15);
    let stored: i64 = sqlx::query_scalar("SELECT sum(length(raw_json)) FROM token_history")
        .fetch_one(&pool)
        .await
        .unwrap();

    let store = Store::from_pool(pool).await.unwrap();
    let pool = store.pool();
    assert_eq!(snapshots(pool).await, before, "every column of every row");
    assert_eq!(records(pool).await, records_before);
    let folded_len: i64 = sqlx::query_scalar("SELECT sum(length(raw_json)) FROM token_history")
        .fetch_one(pool)
        .await
        .unwrap();
    assert!(folded_len < stored, "{folded_len} < {stored}");
    let both = (Some(1), true);
    assert_eq!(folded(pool, "oarA").await, [both, both]);
    assert_eq!(folded(pool, "oarB").await, [both]);
    assert_eq!(folded(pool, "oarM").await, [(None, false)]);
    assert_eq!(folded(pool, "oarR").await, [(Some(1), false)]);
    assert_eq!(folded(pool, "oarI").await, [(None, true)]);
    assert_eq!(folded(pool, "oar/E").await, [(None, true)]);
    assert_eq!(folded(pool, "oarT").await, [both]);
    assert_eq!(folded(pool, "oarO").await, [(None, false)]);
    assert_eq!(folded(pool, "oarN").await, [(None, false)]);
    assert_eq!(folded(pool, "oarU").await, [(Some(1), false)]);
    // The tokens' rows read their values from the folded records as before.
    let a = store.token("oarA").await.unwrap().unwrap();
    assert_eq!(a.issuer.as_deref(), Some("https://o/oauth2/aus1"));
    assert_eq!(a.created_at.as_deref(), Some("2026-01-01T00:00:00.000Z"));

    // Written afterwards: each record reads back exactly as written.
    let mut next = awkward();
    next.extend(odd());
    next.push(listed("oarB", "SUSPENDED", "2026-03-03T00:00:00.000Z"));
    for o in &mut next {
        if let ObservedRecord::Split(r) = &mut o.record {
            r.json = r.json.replace("oar", "oar2");
        }
        o.token_id = o.token_id.replace("oar", "oar2");
    }
    store
        .record_page(None, &next, at("2026-03-04T00:00:00Z"))
        .await
        .unwrap();
    let after = snapshots(pool).await;
    assert_eq!(after[..before.len()], before[..]);
    for o in &next {
        let ObservedRecord::Split(r) = &o.record else {
            unreachable!()
        };
        let written: Vec<&Snapshot> = after.iter().filter(|s| s.1 == o.token_id).collect();
        assert_eq!(written.len(), 1, "{}", o.token_id);
        let got = (&written[0].2, &written[0].3, &written[0].4, &written[0].5);
        let wanted = (&o.status, &o.scopes_json, &o.last_updated_at, &r.json);
        assert_eq!(got, wanted, "{}", o.token_id);
    }
    // The writer folds by the same rules as the view's trigger.
    assert_eq!(folded(pool, "oar2M").await, [(None, false)]);
    assert_eq!(folded(pool, "oar2R").await, [(Some(1), false)]);
    assert_eq!(folded(pool, "oar2I").await, [(None, true)]);
    assert_eq!(folded(pool, "oar2/E").await, [(None, true)]);
    assert_eq!(folded(pool, "oar2T").await, [both]);
    assert_eq!(folded(pool, "oar2O").await, [(None, false)]);
    assert_eq!(folded(pool, "oar2N").await, [(None, false)]);
    assert_eq!(folded(pool, "oar2U").await, [(Some(1), false)]);
    assert_eq!(folded(pool, "oar2B").await, [both]);
}

/// The writer's folding, stored as it is into `token_history`, comes back whole through
/// `token_snapshots` for awkward texts: the marker present, a run right after the marker,
/// overlapping runs, a key that ends in an escaped quote, ids that are not plain, a text that
/// is only the leading id, and text that is not JSON.
#[sqlx::test(migrations = "./migrations")]
async fn the_writer_s_folding_is_unfolded_byte_for_byte(pool: SqlitePool) {
    use super::records::fold;
    let pairs = [
        (1, "00u1", "0oa1"),
        (2, "00u\"2", "0oa/2"),
        (3, "00ué", "0oa3"),
    ];
    for (n, user, client) in pairs {
        sqlx::query("INSERT INTO token_pairs (id, user_id, client_id) VALUES (?, ?, ?)")
            .bind(n)
            .bind(user)
            .bind(client)
            .execute(&pool)
            .await
            .unwrap();
    }
    let run = r#""clientId":"0oa1","userId":"00u1""#;
    let texts = [
        format!(r#"{{"id":"T",{run},"x":1}}"#),
        format!(r#"{{"id":"T","~":0,{run}}}"#),
        format!(r#"{{"id":"T","a":"~",{run}}}"#),
        format!(r#"{{"id":"T",{run}{}}}"#, &run[1..]),
        r#"{"x\"clientId":"0oa1","userId":"00u1"}"#.to_owned(),
        format!(r#"{{"id":"T",{run},"n":{{{run}}}}}"#),
        r#"{"id":"T","#.to_owned(),
        format!(r#"{{"id":"T",{run},"#),
        r#"{"id":"T","clientId":"0oa/2","userId":"00u\"2"}"#.to_owned(),
        r#"{"id":"T","clientId":"0oa3","userId":"00ué"}"#.to_owned(),
    ];
    for token in ["T", "T\"", "T/", "Té"] {
        for (i, text) in texts.iter().enumerate() {
            let text = text.replace(r#""id":"T""#, &format!(r#""id":"{token}""#));
            for (n, user, client) in pairs {
                let f = fold(text.clone(), token, Some((n, user, client)), false);
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO token_history (token_id, observed_at, raw_json, folded_id,
                         pair_id) VALUES (?, 't', ?, ?, ?) RETURNING id",
                )
                .bind(token)
                .bind(&f.json)
                .bind(f.id.then_some(1_i64))
                .bind(f.pair)
                .fetch_one(&pool)
                .await
                .unwrap();
                let back: String =
                    sqlx::query_scalar("SELECT raw_json FROM token_snapshots WHERE id = ?")
                        .bind(id)
                        .fetch_one(&pool)
                        .await
                        .unwrap();
                assert_eq!(back, text, "text {i}, token {token}, pair {n}: {f:?}");
            }
        }
    }
    // Plain ids of the token's own pair fold; the others stay as they are.
    let plain = fold(texts[0].clone(), "T", Some(pairs[0]), false);
    assert_eq!((plain.id, plain.pair), (true, Some(1)));
    assert_eq!(plain.json, r#"{"~":0,"x":1}"#);
    let other = fold(texts[8].clone(), "T", Some(pairs[1]), false);
    assert_eq!((other.id, other.pair), (true, None));
}
