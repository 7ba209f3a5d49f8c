//! The upgrade that makes `tokens` a view over `token_state`, on a database written with the
//! schema before it: every column of every `tokens` row reads as it did, only what a token's
//! latest record does not say is stored beside it, absences still open and close, and rows
//! written afterwards, by revokd or through the view, read back as written.

use chrono::{DateTime, Utc};
use sqlx::SqlitePool;

use super::tests_migration::{migrate_through, write_as_before};
use super::tests_narrow_history::{listed, odd};
use super::{ObservedRecord, Store, TokenRow};

/// The last migration before `tokens` became a view.
const BEFORE: i64 = 20261218000000;

/// Every column of `tokens`, in its order, as text.
const ALL: &str = "SELECT token_id, user_id, client_id, issuer, status, scopes, created_at,
    last_updated_at, expires_at, first_seen_at, last_seen_at, gone_at, revoked_at, revoked_by,
    policy_matches, reappeared_at, record_hash, item_hash FROM tokens ORDER BY token_id";

type Row = (TokenRow, Option<i64>, Option<i64>);

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

async fn rows(pool: &SqlitePool) -> Vec<Row> {
    let tokens: Vec<TokenRow> = sqlx::query_as(ALL).fetch_all(pool).await.unwrap();
    let hashes: Vec<(Option<i64>, Option<i64>)> =
        sqlx::query_as("SELECT record_hash, item_hash FROM tokens ORDER BY token_id")
            .fetch_all(pool)
            .await
            .unwrap();
    tokens
        .into_iter()
        .zip(hashes)
        .map(|(t, (r, i))| (t, r, i))
        .collect()
}

/// How many of a token's six record values `token_state` stores beside its record.
async fn kept(pool: &SqlitePool, token: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT (issuer IS NOT NULL) + (status IS NOT NULL) + (scopes IS NOT NULL)
              + (created_at IS NOT NULL) + (last_updated_at IS NOT NULL)
              + (expires_at IS NOT NULL)
         FROM token_state WHERE token_id = ?",
    )
    .bind(token)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// A database at the schema before the view: two plain tokens (one changed, one gone), the
/// odd observations, a token revokd revoked, and a token with a row but no record.
async fn old_database(pool: &SqlitePool) {
    migrate_through(pool, BEFORE).await;
    let day1 = at("2026-03-01T00:00:00Z");
    let plain = [
        listed("oarA", "ACTIVE", "2026-02-01T00:00:00.000Z"),
        listed("oarB", "ACTIVE", "2026-02-02T00:00:00.000Z"),
    ];
    write_as_before(pool, &plain, day1).await;
    write_as_before(pool, &odd(), day1).await;
    let changed = [listed("oarA", "ACTIVE", "2026-03-01T12:00:00.000Z")];
    write_as_before(pool, &changed, at("2026-03-02T00:00:00Z")).await;
    for sql in [
        "UPDATE tokens SET gone_at = '2026-03-02T00:00:00.000Z' WHERE token_id = 'oarB'",
        "UPDATE tokens SET revoked_at = '2026-03-02T00:00:00.000Z', revoked_by = 'revokd',
             gone_at = '2026-03-02T00:00:00.000Z', record_hash = 7, item_hash = -9,
             issuer = NULL
         WHERE token_id = 'oarOdd4'",
        "INSERT INTO tokens (token_id, user_id, client_id, status, created_at, first_seen_at,
             last_seen_at) VALUES ('oarBare', '00u2', '0oa2', 'ACTIVE',
             '2026-01-01T00:00:00.000Z', '2026-03-01T00:00:00.000Z', '2026-03-01T00:00:00.000Z')",
    ] {
        sqlx::query(sql).execute(pool).await.unwrap();
    }
}

#[sqlx::test(migrations = false)]
async fn tokens_read_as_before_and_keep_only_what_records_do_not_say(pool: SqlitePool) {
    old_database(&pool).await;
    let before = rows(&pool).await;
    assert_eq!(before.len(), 7);

    let store = Store::from_pool(pool).await.unwrap();
    let pool = store.pool();
    assert_eq!(rows(pool).await, before, "every column of every row");
    assert_eq!(kept(pool, "oarA").await, 0, "the latest record says it all");
    assert_eq!(kept(pool, "oarB").await, 0);
    // The snapshot keeps what a record does not say of status, scopes and times.
    assert_eq!(kept(pool, "oarOdd1").await, 0);
    assert_eq!(kept(pool, "oarOdd2").await, 0);
    assert_eq!(
        kept(pool, "oarOdd3").await,
        2,
        "issuer, created_at: not JSON"
    );
    assert_eq!(
        kept(pool, "oarOdd4").await,
        1,
        "issuer NULL, the record has one"
    );
    assert_eq!(
        kept(pool, "oarBare").await,
        3,
        "no record: status, scopes, created_at"
    );
    let pairs: i64 = sqlx::query_scalar("SELECT count(*) FROM token_pairs")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(pairs, 2);

    // Absences open and close on the new table, through revokd's writers.
    store
        .mark_token_gone("oarA", at("2026-03-05T00:00:00Z"))
        .await
        .unwrap();
    // Okta lists it again (its record unchanged): the writer clears `gone_at`.
    let again = [listed("oarA", "ACTIVE", "2026-03-01T12:00:00.000Z")];
    store
        .record_page(None, &again, at("2026-03-06T00:00:00Z"))
        .await
        .unwrap();
    let absences: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT token_id, gone_at, back_at FROM token_absences ORDER BY token_id, gone_at",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let absence = |id: &str, gone: &str, back: Option<&str>| {
        (id.to_owned(), gone.to_owned(), back.map(str::to_owned))
    };
    assert_eq!(
        absences,
        [
            absence(
                "oarA",
                "2026-03-05T00:00:00.000Z",
                Some("2026-03-06T00:00:00.000Z")
            ),
            absence("oarB", "2026-03-02T00:00:00.000Z", None),
            absence("oarOdd4", "2026-03-02T00:00:00.000Z", None),
        ]
    );

    // Written afterwards by revokd: each value reads back as the observation gave it, the
    // odd ones' records changed, the bare token now with a record.
    let later = at("2026-03-07T00:00:00Z");
    let mut next = odd();
    next.push(listed("oarBare", "ACTIVE", "2026-03-06T00:00:00.000Z"));
    for o in &mut next {
        if let ObservedRecord::Split(r) = &mut o.record {
            r.json = r.json.replace("2026-02-01", "2026-02-09");
        }
    }
    store.record_page(None, &next, later).await.unwrap();
    for o in &next {
        let row = store.token(&o.token_id).await.unwrap().unwrap();
        let got = (
            row.issuer,
            row.status,
            row.scopes,
            row.created_at,
            row.last_updated_at,
            row.expires_at,
        );
        let wanted = (
            o.issuer.clone(),
            o.status.clone(),
            o.scopes_json.clone(),
            o.created_at.clone(),
            o.last_updated_at.clone(),
            o.expires_at.clone(),
        );
        assert_eq!(got, wanted, "{}", o.token_id);
        assert_eq!(row.last_seen_at, super::ts(later));
    }
    assert_eq!(kept(pool, "oarBare").await, 0, "its record now says it all");
    let bare = store.token("oarBare").await.unwrap().unwrap();
    assert_eq!(
        (bare.user_id.as_str(), bare.client_id.as_str()),
        ("00u1", "0oa1")
    );

    // Written through the view, as an operator would: stored where the record disagrees.
    sqlx::query(
        "UPDATE tokens SET status = 'SUSPENDED', policy_matches = '[\"x\"]'
         WHERE token_id = 'oarA'",
    )
    .execute(pool)
    .await
    .unwrap();
    let a = store.token("oarA").await.unwrap().unwrap();
    assert_eq!(a.status.as_deref(), Some("SUSPENDED"));
    assert_eq!(a.policy_matches, r#"["x"]"#);
    assert_eq!(
        a.last_updated_at.as_deref(),
        Some("2026-03-01T12:00:00.000Z")
    );
    assert_eq!(kept(pool, "oarA").await, 1);
}

/// A token read through the view, alone or by pair, or joined to its latest record as the
/// writer's upsert joins it, reads its own history rows, never the whole history: a view the
/// planner cannot flatten into a join would be built whole for each statement.
#[sqlx::test(migrations = "./migrations")]
async fn reading_a_token_reads_only_its_own_history(pool: SqlitePool) {
    let upsert = format!(
        "{}VALUES ({}){}",
        super::observations::UPSERT_TOKENS,
        vec!["?"; 14].join(", "),
        super::observations::UPSERT_TOKENS_TAIL
    );
    let plans = [
        "SELECT * FROM tokens WHERE token_id = ?",
        "SELECT * FROM tokens WHERE user_id = ? AND client_id = ?",
        "SELECT * FROM tokens WHERE client_id = ? AND gone_at IS NULL",
        "SELECT * FROM token_snapshots WHERE token_id = ?",
        upsert.as_str(),
    ];
    for sql in plans {
        let explain = format!("EXPLAIN QUERY PLAN {sql}");
        let mut q = sqlx::query_as(&explain);
        for _ in 0..sql.matches('?').count() {
            q = q.bind(None::<String>);
        }
        let steps: Vec<(i64, i64, i64, String)> = q.fetch_all(&pool).await.unwrap();
        // The only scans allowed are of the statement's own values.
        let scan = |step: &str| {
            step.starts_with("SCAN ")
                && step != "SCAN CONSTANT ROW"
                && step != "SCAN v"
                && !step.contains("VIRTUAL TABLE")
        };
        for (_, _, _, step) in &steps {
            assert!(
                !step.contains("MATERIALIZE") && !step.contains("AUTOMATIC") && !scan(step),
                "{sql}: {steps:?}"
            );
        }
        assert!(
            steps
                .iter()
                .any(|s| s.3.contains("INDEX token_history_by_token")),
            "{sql}: the history is read by its token index: {steps:?}"
        );
    }
}

/// Through the view, as an operator might: a token renamed keeps every value it read (its
/// records stay under the old id), a token deleted is gone, and pruning history (which keeps
/// each token's newest record) changes no token's row. A snapshot that cannot be stored is an
/// error, even with OR IGNORE, and rewrites no other snapshot.
#[sqlx::test(migrations = false)]
async fn the_view_is_written_as_the_table_was(pool: SqlitePool) {
    old_database(&pool).await;
    let store = Store::from_pool(pool).await.unwrap();
    let pool = store.pool();
    let later = at("2026-03-07T00:00:00Z");
    let again = [listed("oarB", "ACTIVE", "2026-03-06T00:00:00.000Z")];
    store.record_page(None, &again, later).await.unwrap();
    let before = rows(pool).await;
    store
        .prune_snapshots(at("2027-01-01T00:00:00Z"), false)
        .await
        .unwrap();
    assert_eq!(rows(pool).await, before, "pruning keeps what tokens read");

    // An outer OR REPLACE does not renumber the pair under the pair's other tokens.
    let snapshots = "SELECT id, raw_json FROM token_snapshots ORDER BY id";
    let records: Vec<(i64, String)> = sqlx::query_as(snapshots).fetch_all(pool).await.unwrap();
    sqlx::query("UPDATE OR REPLACE tokens SET policy_matches = '[]' WHERE token_id = 'oarA'")
        .execute(pool)
        .await
        .unwrap();
    assert_eq!(
        rows(pool).await,
        before,
        "every token of the pair still reads the same"
    );
    let after: Vec<(i64, String)> = sqlx::query_as(snapshots).fetch_all(pool).await.unwrap();
    assert_eq!(after, records);

    let (a, _, _) = before
        .iter()
        .find(|r| r.0.token_id == "oarA")
        .unwrap()
        .clone();
    sqlx::query("UPDATE tokens SET token_id = 'oarZ' WHERE token_id = 'oarA'")
        .execute(pool)
        .await
        .unwrap();
    let z = store.token("oarZ").await.unwrap().unwrap();
    assert_eq!(
        z,
        TokenRow {
            token_id: "oarZ".into(),
            ..a
        }
    );
    sqlx::query("DELETE FROM tokens WHERE token_id = 'oarZ'")
        .execute(pool)
        .await
        .unwrap();
    assert_eq!(store.token("oarZ").await.unwrap(), None);

    let newest: (i64, String) =
        sqlx::query_as("SELECT id, raw_json FROM token_snapshots ORDER BY id DESC LIMIT 1")
            .fetch_one(pool)
            .await
            .unwrap();
    sqlx::query("INSERT INTO scope_catalog (issuer, scope_id, raw_json, first_seen_at) VALUES ('i', 's', '{}', 't')")
        .execute(pool)
        .await
        .unwrap();
    let skipped = sqlx::query(
        "INSERT OR IGNORE INTO token_snapshots (id, token_id, observed_at, status, raw_json)
         VALUES (?, 'oarB', 'later', 'REVOKED', '{}')",
    )
    .bind(newest.0)
    .execute(pool)
    .await;
    assert!(skipped.is_err(), "{skipped:?}");
    let kept: (i64, String, Option<String>) =
        sqlx::query_as("SELECT id, raw_json, status FROM token_snapshots WHERE id = ?")
            .bind(newest.0)
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!((kept.0, kept.1), newest);
    assert_eq!(kept.2.as_deref(), Some("ACTIVE"));
}
