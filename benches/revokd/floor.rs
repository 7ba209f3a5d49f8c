//! The storage floor of a first sweep, for (e): the rows a first sweep stored (its history
//! records, token rows and audit records) written again into an empty database of the same
//! schema (same migrations, pragmas and triggers) by `INSERT … SELECT`, a table at a time,
//! each in one transaction, in the order the sweep wrote them. No HTTP, no parsing, no
//! deciding, no hashing, no statement per row: what SQLite itself takes to store those rows
//! on this machine, which no writer of this schema can beat.

use std::path::Path;
use std::time::Instant;

use revokd::store::Store;
use sqlx::Connection;

/// The tables a first sweep fills row by row, in the order its writes reach them.
const TABLES: [&str; 3] = ["token_history", "token_state", "revocations"];

/// Copies the first sweep's rows of `src` into a new database beside it; returns the wall
/// seconds of each of [`TABLES`] (commit and WAL checkpoint included), then the CPU seconds
/// of the three.
pub async fn floor(src: &Path, cpu_seconds: fn() -> f64) -> [f64; 4] {
    let dst = src.with_extension("floor.db");
    let store = Store::connect(&format!("sqlite://{}", dst.display()))
        .await
        .expect("floor store");
    let mut conn = store.pool().acquire().await.expect("connection");
    let attach = format!("ATTACH DATABASE '{}' AS src", src.display());
    sqlx::query(&attach)
        .execute(&mut *conn)
        .await
        .expect("attach");
    // What the rows refer to, not timed.
    for table in ["sweeps", "token_pairs", "scope_catalog"] {
        copy(&mut conn, table, "rowid").await;
    }
    let mut out = [0.0; 4];
    let mut cpu = 0.0;
    for (slot, table) in out.iter_mut().zip(TABLES) {
        if table == "revocations" {
            // As in the sweep, each pair's listing is recorded before its plan is appended
            // (the audit trail's trigger looks it up); not timed.
            copy(&mut conn, "pair_listings", "rowid").await;
        }
        let cpu_before = cpu_seconds();
        let started = Instant::now();
        let mut tx = conn.begin_with("BEGIN IMMEDIATE").await.expect("begin");
        copy(&mut tx, table, "rowid").await;
        tx.commit().await.expect("commit");
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&mut *conn)
            .await
            .expect("checkpoint");
        *slot = started.elapsed().as_secs_f64();
        cpu += cpu_seconds() - cpu_before;
    }
    out[3] = cpu;
    drop(conn);
    store.close().await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", dst.display()));
    }
    out
}

/// `INSERT INTO main.table SELECT * FROM src.table` in `order`: both databases were made by
/// the same migrations, so their columns stand in the same order.
async fn copy(conn: &mut sqlx::SqliteConnection, table: &str, order: &str) {
    let sql = format!("INSERT INTO main.{table} SELECT * FROM src.{table} ORDER BY {order}");
    sqlx::query(&sql)
        .execute(&mut *conn)
        .await
        .unwrap_or_else(|e| panic!("copying {table}: {e}"));
}
