//! The audit chain: appends, verification, and what each kind of tampering looks like.

use super::super::Store;
use super::super::audit_row::{GENESIS, NewRevocation, RevocationState, RevocationTrigger};
use crate::config::Mode;
use crate::store::AuditBreak;

pub(in crate::store) fn new(state: RevocationState, token: &str) -> NewRevocation {
    NewRevocation {
        policy: Some("idle-30d".into()),
        reason: Some("idle".into()),
        ..NewRevocation::new(
            Some(token.into()),
            "00u1",
            "0oa1",
            RevocationTrigger::Policy,
            Mode::Enforce,
            state,
            "2026-11-29T00:00:00.000Z",
        )
    }
}

pub(in crate::store) async fn seeded(pool: sqlx::SqlitePool) -> Store {
    let store = Store::from_pool(pool).await.unwrap();
    let intent = store
        .append_revocation(&new(RevocationState::Pending, "oar1"))
        .await
        .unwrap();
    let done = NewRevocation {
        intent_id: Some(intent),
        attempts: 1,
        http_status: Some(204),
        ..new(RevocationState::Done, "oar1")
    };
    store
        .append_revocations(&[
            done,
            new(RevocationState::Planned, "oar2"),
            new(RevocationState::Planned, "oar3"),
        ])
        .await
        .unwrap();
    store
}

#[sqlx::test(migrations = "./migrations")]
async fn an_untouched_chain_verifies(pool: sqlx::SqlitePool) {
    let store = seeded(pool).await;
    assert_eq!(store.verify_audit().await.unwrap(), Ok(4));
    let rows = store.revocations().await.unwrap();
    assert_eq!(rows[0].prev_hash, GENESIS);
    assert_eq!(rows[1].prev_hash, rows[0].hash);
    assert_eq!(rows[1].intent_id, Some(1));
}

#[sqlx::test(migrations = "./migrations")]
async fn the_table_refuses_updates_and_deletes(pool: sqlx::SqlitePool) {
    let store = seeded(pool).await;
    assert!(
        sqlx::query("UPDATE revocations SET state = 'done' WHERE id = 3")
            .execute(store.pool())
            .await
            .is_err()
    );
    assert!(
        sqlx::query("DELETE FROM revocations WHERE id = 3")
            .execute(store.pool())
            .await
            .is_err()
    );
}

pub(in crate::store) async fn drop_guards(store: &Store) {
    for t in [
        "revocations_are_append_only_update",
        "revocations_are_append_only_delete",
    ] {
        sqlx::query(&format!("DROP TRIGGER {t}"))
            .execute(store.pool())
            .await
            .unwrap();
    }
}

#[sqlx::test(migrations = "./migrations")]
async fn an_edited_row_is_named(pool: sqlx::SqlitePool) {
    let store = seeded(pool).await;
    drop_guards(&store).await;
    sqlx::query("UPDATE revocations SET reason = 'nothing to see' WHERE id = 3")
        .execute(store.pool())
        .await
        .unwrap();
    let broken = store.verify_audit().await.unwrap().unwrap_err();
    assert_eq!(broken.id, 3);
    assert!(broken.problem.contains("edited"));
}

#[sqlx::test(migrations = "./migrations")]
async fn a_deleted_row_is_named(pool: sqlx::SqlitePool) {
    let store = seeded(pool).await;
    drop_guards(&store).await;
    sqlx::query("DELETE FROM revocations WHERE id = 2")
        .execute(store.pool())
        .await
        .unwrap();
    assert_eq!(store.verify_audit().await.unwrap().unwrap_err().id, 3);
}

#[sqlx::test(migrations = "./migrations")]
async fn a_deleted_tail_is_caught_by_the_head(pool: sqlx::SqlitePool) {
    let store = seeded(pool).await;
    drop_guards(&store).await;
    sqlx::query("DELETE FROM revocations WHERE id = 4")
        .execute(store.pool())
        .await
        .unwrap();
    let broken = store.verify_audit().await.unwrap().unwrap_err();
    assert_eq!(broken.id, 4);
    assert!(broken.problem.contains("deleted"), "{}", broken.problem);
}

#[sqlx::test(migrations = "./migrations")]
async fn an_anchor_confirms_a_record(pool: sqlx::SqlitePool) {
    let store = seeded(pool).await;
    let (id, hash) = store.audit_head().await.unwrap().unwrap();
    assert_eq!(id, 4);
    assert!(store.audit_has(id, &hash).await.unwrap());
    assert!(!store.audit_has(id, "00").await.unwrap());
}

#[sqlx::test(migrations = "./migrations")]
async fn a_rehashed_forgery_still_breaks_the_next_link(pool: sqlx::SqlitePool) {
    let store = seeded(pool).await;
    drop_guards(&store).await;
    let mut row = store.revocations().await.unwrap()[1].clone();
    row.state = "failed".into();
    let forged = row.expected_hash();
    sqlx::query("UPDATE revocations SET state = 'failed', hash = ? WHERE id = 2")
        .bind(forged)
        .execute(store.pool())
        .await
        .unwrap();
    let broken = store.verify_audit().await.unwrap().unwrap_err();
    assert_eq!(broken.id, 3);
    assert!(broken.problem.contains("prev_hash"));
}

/// The columns of `revocations`, as SQLite has them.
async fn table_columns(store: &Store) -> Vec<String> {
    sqlx::query_scalar("SELECT name FROM pragma_table_info('revocations') ORDER BY cid")
        .fetch_all(store.pool())
        .await
        .unwrap()
}

#[sqlx::test(migrations = "./migrations")]
async fn every_column_but_the_hash_itself_is_hashed(pool: sqlx::SqlitePool) {
    let store = seeded(pool).await;
    let row = store.revocations().await.unwrap().remove(0);
    let hashed: Vec<&str> = row.hashed_columns().iter().map(|(name, _)| *name).collect();
    let mut columns = table_columns(&store).await;
    columns.retain(|c| c != "hash");
    assert_eq!(
        hashed, columns,
        "a column of `revocations` is missing from AuditRow::hashed_columns (or out of order)"
    );
}

async fn tamper(store: &Store, sql: &str) -> AuditBreak {
    drop_guards(store).await;
    sqlx::query(sql).execute(store.pool()).await.unwrap();
    store.verify_audit().await.unwrap().unwrap_err()
}

#[sqlx::test(migrations = "./migrations")]
async fn editing_the_proof_of_revocation_breaks_the_chain(pool: sqlx::SqlitePool) {
    let store = seeded(pool).await;
    let broken = tamper(
        &store,
        "UPDATE revocations SET verified_at = '2026-11-30T00:00:00.000Z' WHERE id = 2",
    )
    .await;
    assert_eq!(broken.id, 2);
}

#[sqlx::test(migrations = "./migrations")]
async fn editing_when_to_retry_breaks_the_chain(pool: sqlx::SqlitePool) {
    let store = seeded(pool).await;
    let broken = tamper(
        &store,
        "UPDATE revocations SET next_attempt_at = '2030-01-01T00:00:00.000Z' WHERE id = 3",
    )
    .await;
    assert_eq!(broken.id, 3);
}

#[sqlx::test(migrations = "./migrations")]
async fn editing_okta_s_error_id_breaks_the_chain(pool: sqlx::SqlitePool) {
    let store = seeded(pool).await;
    let broken = tamper(
        &store,
        "UPDATE revocations SET okta_error_id = 'oaeForged' WHERE id = 4",
    )
    .await;
    assert_eq!(broken.id, 4);
}

#[sqlx::test(migrations = "./migrations")]
async fn a_row_cannot_be_downgraded_to_the_older_hash(pool: sqlx::SqlitePool) {
    let store = seeded(pool).await;
    let mut row = store.revocations().await.unwrap()[2].clone();
    row.hash_version = 1;
    row.verified_at = Some("2026-11-30T00:00:00.000Z".into());
    let forged = row.expected_hash();
    drop_guards(&store).await;
    sqlx::query("UPDATE revocations SET hash_version = 1, verified_at = ?, hash = ? WHERE id = 3")
        .bind(&row.verified_at)
        .bind(forged)
        .execute(store.pool())
        .await
        .unwrap();
    let broken = store.verify_audit().await.unwrap().unwrap_err();
    assert_eq!(broken.id, 3);
    assert!(
        broken.problem.contains("hash version"),
        "{}",
        broken.problem
    );
}

/// The schema before the gate's rebuild of `revocations`.
async fn migrated_up_to_the_rebuild(conn: &mut sqlx::SqliteConnection) {
    let mut old = sqlx::migrate!("./migrations");
    old.migrations = old
        .migrations
        .iter()
        .filter(|m| m.version < 20_261_203_000_000)
        .cloned()
        .collect::<Vec<_>>()
        .into();
    old.run_direct(conn).await.unwrap();
}

#[sqlx::test(migrations = false)]
async fn a_chain_written_before_the_rebuild_still_verifies_after_it(pool: sqlx::SqlitePool) {
    // The old schema is written on a connection of its own, closed before the upgrade, so no
    // connection of the pool has the old schema cached when the store opens.
    let mut conn = pool.acquire().await.unwrap().detach();
    migrated_up_to_the_rebuild(&mut conn).await;
    let mut prev = GENESIS.to_owned();
    for (id, state, intent) in [
        (1, "pending", None),
        (2, "done", Some(1)),
        (3, "planned", None),
    ] {
        let mut row = NewRevocation::new(
            Some(format!("oar{id}")),
            "00u1",
            "0oa1",
            RevocationTrigger::Policy,
            Mode::Enforce,
            RevocationState::Planned,
            "2026-11-29T00:00:00.000Z",
        )
        .into_row(id, prev.clone());
        row.state = state.into();
        row.intent_id = intent;
        row.hash_version = 1;
        row.verified_at = (state == "done").then(|| "2026-11-29T00:00:01.000Z".to_owned());
        row.hash = row.expected_hash();
        sqlx::query(
            "INSERT INTO revocations (id, intent_id, token_id, user_id, client_id, trigger, mode, state,
                requested_at, attempts, prev_hash, hash, verified_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)",
        )
        .bind(row.id)
        .bind(row.intent_id)
        .bind(&row.token_id)
        .bind(&row.user_id)
        .bind(&row.client_id)
        .bind(&row.trigger)
        .bind(&row.mode)
        .bind(&row.state)
        .bind(&row.requested_at)
        .bind(&row.prev_hash)
        .bind(&row.hash)
        .bind(&row.verified_at)
        .execute(&mut conn)
        .await
        .unwrap();
        prev = row.hash;
    }
    sqlx::query("INSERT INTO audit_head (id, last_id, last_hash) VALUES (1, 3, ?)")
        .bind(&prev)
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::Connection::close(conn).await.unwrap();

    let store = Store::from_pool(pool).await.unwrap();
    assert_eq!(store.verify_audit().await.unwrap(), Ok(3));
    store
        .append_revocation(&new(RevocationState::Withdrawn, "oar3"))
        .await
        .unwrap();
    assert_eq!(store.verify_audit().await.unwrap(), Ok(4));
    let rows = store.revocations().await.unwrap();
    let versions: Vec<i64> = rows.iter().map(|r| r.hash_version).collect();
    assert_eq!(versions, [1, 1, 1, 2]);
    assert_eq!(rows[3].prev_hash, rows[2].hash);
    let open: Vec<_> = store.open_intents().await.unwrap();
    assert!(
        open.is_empty(),
        "the old `done` closes its intent: {open:?}"
    );
    // No version-1 record was written with Okta's error id (the column came with version 2,
    // NULL on every older record), so one holding it was edited, though its hash leaves it out.
    drop_guards(&store).await;
    sqlx::query("UPDATE revocations SET okta_error_id = 'oae-edited' WHERE id = 2")
        .execute(store.pool())
        .await
        .unwrap();
    let broken = store.verify_audit().await.unwrap().unwrap_err();
    assert_eq!(broken.id, 2, "{broken:?}");
}

#[test]
fn the_hash_encoding_is_the_json_text_of_the_hashed_columns() {
    let mut row = NewRevocation {
        intent_id: Some(7),
        reason: Some("quote \" backslash \\ newline \n tab \t nul \u{0} é ✓ 🙂".into()),
        http_status: Some(-1),
        error: None,
        sweep_id: Some(i64::MAX),
        ..new(RevocationState::Withdrawn, "oar\u{1f}x")
    }
    .into_row(3, GENESIS.to_owned());
    let value = |row: &super::super::AuditRow| {
        serde_json::Value::Array(
            row.hashed_columns()
                .into_iter()
                .map(|(name, value)| serde_json::json!([name, value]))
                .collect(),
        )
        .to_string()
    };
    assert_eq!(String::from_utf8(row.v2_encoding()).unwrap(), value(&row));
    row.policy = None;
    row.token_id = None;
    assert_eq!(String::from_utf8(row.v2_encoding()).unwrap(), value(&row));
}

impl Store {
    /// Inserts a copy of record `from` as record `to`, behind the appends' back (its hash then
    /// fits no place but `from`'s).
    pub(crate) async fn copy_audit_record(&self, from: i64, to: i64) {
        sqlx::query(
            "INSERT INTO revocations SELECT ?, intent_id, token_id, user_id, client_id, trigger,
                 policy, reason, mode, state, requested_at, completed_at, attempts, http_status,
                 okta_request_id, error, sweep_id, job_id, prev_hash, hash, verified_at,
                 next_attempt_at, okta_error_id, hash_version FROM revocations WHERE id = ?",
        )
        .bind(to)
        .bind(from)
        .execute(self.pool())
        .await
        .unwrap();
    }
}
