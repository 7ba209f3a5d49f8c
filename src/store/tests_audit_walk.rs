//! The walk of the chain in batches: a break is named the same wherever a batch ends; a record
//! the walk cannot read as written (a value of the wrong type, a BLOB, text that is not UTF-8, a
//! record slipped in before the first or past the head) is a break, not an error; a walk goes
//! on from an end it verified, and appends made while it runs are not breaks.

use crate::store::audit::tests::{drop_guards, new, seeded};
use crate::store::{AuditBreak, ChainEnd, Error, RevocationState, Store, Verified};

async fn run(store: &Store, sql: &str) {
    sqlx::query(sql).execute(store.pool()).await.unwrap();
}

/// Asserts that a walk (named by `walk` in a failure) found a break at record `id`, its
/// problem saying `says`.
fn assert_break(
    walk: &str,
    found: Result<Result<Verified, AuditBreak>, Error>,
    id: i64,
    says: &str,
) {
    let broken = found.unwrap().unwrap_err();
    assert_eq!(broken.id, id, "{walk}: {broken:?}");
    assert!(broken.problem.contains(says), "{walk}: {}", broken.problem);
}

#[sqlx::test(migrations = "./migrations")]
async fn every_batch_size_walks_the_same_chain(pool: sqlx::SqlitePool) {
    let store = seeded(pool).await;
    for batch in [1, 2, 3, 4, 5, 2_000] {
        let verified = store.verify_audit_by(None, batch).await.unwrap().unwrap();
        assert_eq!(verified.records, 4, "{batch}");
    }
    drop_guards(&store).await;
    run(&store, "UPDATE revocations SET reason = 'x' WHERE id = 3").await;
    for batch in [1, 2, 3, 4, 5, 2_000] {
        assert_break(
            &format!("batch {batch}"),
            store.verify_audit_by(None, batch).await,
            3,
            "edited",
        );
    }
}

#[sqlx::test(migrations = "./migrations")]
async fn a_record_deleted_at_a_batch_s_edge_is_named(pool: sqlx::SqlitePool) {
    let store = seeded(pool).await;
    drop_guards(&store).await;
    run(&store, "DELETE FROM revocations WHERE id = 3").await;
    for batch in [1, 2, 3, 2_000] {
        let found = store.verify_audit_by(None, batch).await;
        assert_break(&format!("batch {batch}"), found, 4, "expected record 3");
    }
}

#[sqlx::test(migrations = "./migrations")]
async fn a_value_of_the_wrong_type_is_a_break_not_an_error(pool: sqlx::SqlitePool) {
    let store = seeded(pool).await;
    drop_guards(&store).await;
    run(
        &store,
        "UPDATE revocations SET attempts = 'one' WHERE id = 2",
    )
    .await;
    assert_break(
        "whole",
        store.verify_audit_from(None).await,
        2,
        "wrong type",
    );
}

#[sqlx::test(migrations = "./migrations")]
async fn a_record_slipped_in_before_the_first_is_named(pool: sqlx::SqlitePool) {
    let store = seeded(pool).await;
    drop_guards(&store).await;
    store.copy_audit_record(4, 0).await;
    for batch in [1, 2_000] {
        let found = store.verify_audit_by(None, batch).await;
        assert_break(&format!("batch {batch}"), found, 0, "expected record 1");
    }
    run(
        &store,
        "UPDATE revocations SET id = -9223372036854775808 WHERE id = 0",
    )
    .await;
    assert_break(
        "whole",
        store.verify_audit_from(None).await,
        i64::MIN,
        "expected record 1",
    );
}

#[sqlx::test(migrations = "./migrations")]
async fn values_no_append_writes_are_breaks_not_errors(pool: sqlx::SqlitePool) {
    let store = seeded(pool).await;
    drop_guards(&store).await;
    // Latest record first: each walk stops at the earliest tampered record.
    for (id, sql) in [
        // Text as SQLite's JSONB: `json_array` would read it as the text "00u1".
        (
            4,
            "UPDATE revocations SET user_id = X'4730307531' WHERE id = 4",
        ),
        (3, "UPDATE revocations SET attempts = X'01' WHERE id = 3"),
        (
            2,
            "UPDATE revocations SET reason = CAST(X'FF' AS TEXT) WHERE id = 2",
        ),
        (1, "UPDATE revocations SET reason = X'FF' WHERE id = 1"),
    ] {
        run(&store, sql).await;
        let broken = store.verify_audit().await.unwrap().unwrap_err();
        assert_eq!(broken.id, id, "{sql}");
    }
}

#[sqlx::test(migrations = "./migrations")]
async fn a_walk_while_records_are_appended_finds_no_break(pool: sqlx::SqlitePool) {
    let store = seeded(pool).await;
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            for i in 0..300 {
                let row = new(RevocationState::Planned, &format!("oarAppended{i}"));
                store.append_revocation(&row).await.unwrap();
            }
        })
    };
    // The writer runs only while a walk waits (one thread): every walk interleaves with it.
    let mut walks = 0;
    while walks < 5 || !writer.is_finished() {
        let verdict = store.verify_audit_by(None, 1).await.unwrap();
        assert!(verdict.is_ok(), "walk {walks}: {verdict:?}");
        walks += 1;
    }
    writer.await.unwrap();
    assert_eq!(store.verify_audit().await.unwrap(), Ok(304));
}

#[sqlx::test(migrations = "./migrations")]
async fn a_walk_goes_on_from_an_end_without_reading_what_came_before(pool: sqlx::SqlitePool) {
    let store = seeded(pool).await;
    let first = store.verify_audit_from(None).await.unwrap().unwrap();
    let end: ChainEnd = first.end.clone().unwrap();
    assert_eq!((first.records, end.id), (4, 4));
    let again = store.verify_audit_from(Some(&end)).await.unwrap();
    assert_eq!(again, Ok(first));

    for token in ["oar5", "oar6"] {
        let row = new(RevocationState::Planned, token);
        store.append_revocation(&row).await.unwrap();
    }
    drop_guards(&store).await;
    run(&store, "UPDATE revocations SET reason = 'x' WHERE id = 1").await;
    let on = store.verify_audit_from(Some(&end)).await.unwrap().unwrap();
    assert_eq!(on.records, 6);
    let head = store.audit_head().await.unwrap().unwrap();
    assert_eq!(on.end.map(|e| (e.id, e.hash)), Some(head));
    // The whole walk reads record 1 again.
    assert_break("whole", store.verify_audit_from(None).await, 1, "edited");
}

#[sqlx::test(migrations = "./migrations")]
async fn a_record_added_past_the_head_without_an_append_is_a_break(pool: sqlx::SqlitePool) {
    let store = seeded(pool).await;
    let end = store.verify_audit_from(None).await.unwrap().unwrap().end;
    store.copy_audit_record(4, 5).await;
    for from in [None, end.as_ref()] {
        let found = store.verify_audit_from(from).await;
        assert_break(&format!("from {from:?}"), found, 5, "past the chain's head");
    }
}

#[sqlx::test(migrations = "./migrations")]
async fn a_forged_append_is_seen_by_a_walk_that_goes_on(pool: sqlx::SqlitePool) {
    let store = seeded(pool).await;
    let end = store.verify_audit_from(None).await.unwrap().unwrap().end;
    store.copy_audit_record(4, 5).await;
    run(&store, "UPDATE audit_head SET last_id = 5").await;
    assert_break(
        "on",
        store.verify_audit_from(end.as_ref()).await,
        5,
        "prev_hash",
    );
}
