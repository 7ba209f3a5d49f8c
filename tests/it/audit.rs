//! Tamper evidence through the real binary: editing, deleting (in the middle or at the end) or
//! reordering audit rows makes `revokd audit verify` fail naming the record; a chain rewritten
//! with recomputed hashes is caught by an anchor kept from an earlier run.

use std::path::{Path, PathBuf};

use revokd::config::Mode;
use revokd::store::Store;
use sqlx::SqlitePool;

use crate::helpers::{
    admin_policy, all_output, run_revokd, small_org, spawn_app_with, write_config,
};

/// A database with an audit trail, and a config file pointing at it.
async fn audited() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let app = spawn_app_with(small_org(), |c| c.policies = vec![admin_policy()]).await;
    app.sweep(Mode::Enforce).await;
    assert!(
        app.store.revocations().await.expect("rows").len() >= 6,
        "the sweep left an audit trail"
    );
    app.store.close().await;
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("copy.db");
    // VACUUM INTO: a consistent copy, independent of the app's WAL.
    let pool = SqlitePool::connect(&format!("sqlite://{}", app.db_path.display()))
        .await
        .expect("db");
    sqlx::query(&format!("VACUUM INTO '{}'", db.display()))
        .execute(&pool)
        .await
        .expect("copy");
    pool.close().await;
    let config = write_config(
        dir.path(),
        "https://example.okta.com",
        "api_token = \"t\"",
        &db,
        &[],
        "",
    );
    (dir, db, config)
}

async fn verify(config: &Path, extra: &[&str]) -> (Option<i32>, String) {
    let mut args = vec![
        "--config",
        config.to_str().expect("utf-8"),
        "audit",
        "verify",
    ];
    args.extend_from_slice(extra);
    let out = run_revokd(&args, &[]).await;
    (out.status.code(), all_output(&out))
}

async fn tamper(db: &Path, statements: &[String]) {
    // One connection, so the PRAGMA applies to the statements that follow.
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect(&format!("sqlite://{}", db.display()))
        .await
        .expect("db");
    for sql in [
        "PRAGMA foreign_keys = OFF",
        "DROP TRIGGER revocations_are_append_only_update",
        "DROP TRIGGER revocations_are_append_only_delete",
    ] {
        sqlx::query(sql).execute(&pool).await.expect(sql);
    }
    for sql in statements {
        sqlx::query(sql).execute(&pool).await.expect(sql);
    }
    pool.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_a_row_in_the_middle_or_at_the_end_is_named() {
    let (_dir, db, config) = audited().await;
    tamper(&db, &["DELETE FROM revocations WHERE id = 3".into()]).await;
    let (code, text) = verify(&config, &[]).await;
    assert_eq!(code, Some(3), "{text}");
    assert!(text.contains("record 4"), "{text}");

    let (_dir, db, config) = audited().await;
    let last: i64 = {
        let store = Store::connect_existing(&format!("sqlite://{}", db.display()))
            .await
            .expect("db");
        let id = store.audit_head().await.expect("head").expect("a head").0;
        store.close().await;
        id
    };
    tamper(&db, &[format!("DELETE FROM revocations WHERE id = {last}")]).await;
    let (code, text) = verify(&config, &[]).await;
    assert_eq!(code, Some(3), "{text}");
    assert!(
        text.contains(&format!("record {last}")) && text.contains("deleted"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn reordering_rows_is_named() {
    let (_dir, db, config) = audited().await;
    tamper(
        &db,
        &[
            "UPDATE revocations SET id = -1 WHERE id = 2".into(),
            "UPDATE revocations SET id = 2 WHERE id = 3".into(),
            "UPDATE revocations SET id = 3 WHERE id = -1".into(),
        ],
    )
    .await;
    let (code, text) = verify(&config, &[]).await;
    assert_eq!(code, Some(3), "{text}");
    assert!(text.contains("record 2"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rewritten_chain_passes_alone_but_fails_against_an_earlier_anchor() {
    let (_dir, db, config) = audited().await;
    let (code, text) = verify(&config, &[]).await;
    assert_eq!(code, Some(0), "{text}");
    let anchor = text
        .lines()
        .find_map(|l| l.strip_prefix("head: "))
        .expect("the head is printed")
        .to_owned();
    // The head copied in upper case is the same anchor, not a rewrite.
    let (code, text) = verify(&config, &["--anchor", &anchor.to_ascii_uppercase()]).await;
    assert_eq!(code, Some(0), "{text}");

    // An attacker edits a reason and recomputes every hash after it, and the head.
    let url = format!("sqlite://{}", db.display());
    let store = Store::connect_existing(&url).await.expect("db");
    let mut rows = store.revocations().await.expect("rows");
    store.close().await;
    let mut prev = revokd::store::GENESIS.to_owned();
    let mut statements = Vec::new();
    for (i, row) in rows.iter_mut().enumerate() {
        if i == 1 {
            row.reason = Some("rewritten".into());
        }
        row.prev_hash = prev.clone();
        row.hash = row.expected_hash();
        prev = row.hash.clone();
        statements.push(format!(
            "UPDATE revocations SET reason = {}, prev_hash = '{}', hash = '{}' WHERE id = {}",
            row.reason
                .as_deref()
                .map(|r| format!("'{}'", r.replace('\'', "''")))
                .unwrap_or_else(|| "NULL".into()),
            row.prev_hash,
            row.hash,
            row.id
        ));
    }
    statements.push(format!("UPDATE audit_head SET last_hash = '{prev}'"));
    tamper(&db, &statements).await;

    let (code, text) = verify(&config, &[]).await;
    assert_eq!(
        code,
        Some(0),
        "a consistent rewrite passes without an anchor: {text}"
    );
    let (code, text) = verify(&config, &["--anchor", &anchor]).await;
    assert_eq!(code, Some(3), "{text}");
    assert!(
        text.contains("REWRITTEN") && text.contains(&anchor),
        "{text}"
    );
    let (code, _) = verify(&config, &["--anchor", "not-an-anchor"]).await;
    assert_eq!(
        code,
        Some(64),
        "a malformed anchor is a command-line mistake (EX_USAGE)"
    );
}
