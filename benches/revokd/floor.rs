//! The storage floor of a first sweep, for (e): the rows a first sweep stored (its history
//! records, token rows and audit records) written again into an empty database made by the
//! same migrations (same schema, triggers and store pragmas) by `INSERT … SELECT`, a table at
//! a time, each in one transaction, in the order the sweep wrote them, each commit followed by
//! a truncating checkpoint. No HTTP, no parsing, no deciding, no hashing, no statement per row:
//! what SQLite itself takes to store those rows on the machine. Not a bound in every respect
//! (the sweep's writer checkpoints beside its work, on another connection, rather than after
//! each commit), but a measure of how much of a first sweep's time storing alone needs.

use std::path::Path;
use std::time::Instant;

use revokd::store::Store;
use sqlx::{Connection, SqliteConnection};

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
    sqlx::query("ATTACH DATABASE ? AS src")
        .bind(src.display().to_string())
        .execute(&mut *conn)
        .await
        .expect("attach");
    // What the rows refer to, not timed.
    for table in ["policy_sets", "sweeps", "token_pairs", "scope_catalog"] {
        copy(&mut conn, table).await;
    }
    let mut out = [0.0; 4];
    let mut cpu = 0.0;
    for (slot, table) in out.iter_mut().zip(TABLES) {
        if table == "revocations" {
            // As in the sweep, each pair's listing is recorded before its plan is appended
            // (the audit trail's trigger looks it up); not timed.
            copy(&mut conn, "pair_listings").await;
        }
        let cpu_before = cpu_seconds();
        let started = Instant::now();
        let mut tx = conn.begin_with("BEGIN IMMEDIATE").await.expect("begin");
        copy(&mut tx, table).await;
        tx.commit().await.expect("commit");
        // (busy, WAL frames, frames checkpointed): a checkpoint that could not finish would
        // leave part of the writing out of the time.
        let (busy, _, _): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
            .fetch_one(&mut *conn)
            .await
            .expect("checkpoint");
        assert_eq!(busy, 0, "the floor's checkpoint of {table} was blocked");
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

/// `INSERT INTO main.table SELECT * FROM src.table` in the order the rows were written: both
/// databases were made by the same migrations, so their columns stand in the same order.
async fn copy(conn: &mut SqliteConnection, table: &str) {
    let sql = format!("INSERT INTO main.{table} SELECT * FROM src.{table} ORDER BY rowid");
    sqlx::query(&sql)
        .execute(&mut *conn)
        .await
        .unwrap_or_else(|e| panic!("copying {table}: {e}"));
}
