//! The walk of the chain in batches: a break is named the same wherever a batch ends, and a
//! record the walk cannot read as written (a value of the wrong type, a record slipped in
//! before the first) is a break, not an error.

use super::tests::{drop_guards, seeded};
use crate::store::Store;

async fn run(store: &Store, sql: &str) {
    sqlx::query(sql).execute(store.pool()).await.unwrap();
}

#[sqlx::test(migrations = "./migrations")]
async fn every_batch_size_walks_the_same_chain(pool: sqlx::SqlitePool) {
    let store = seeded(pool).await;
    for batch in [1, 2, 3, 4, 5, 2_000] {
        assert_eq!(
            store.verify_audit_by(batch).await.unwrap(),
            Ok(4),
            "{batch}"
        );
    }
    drop_guards(&store).await;
    run(
        &store,
        "UPDATE revocations SET reason = 'edited' WHERE id = 3",
    )
    .await;
    for batch in [1, 2, 3, 4, 5, 2_000] {
        let broken = store.verify_audit_by(batch).await.unwrap().unwrap_err();
        assert_eq!(broken.id, 3, "{batch}");
        assert!(broken.problem.contains("edited"), "{}", broken.problem);
    }
}

#[sqlx::test(migrations = "./migrations")]
async fn a_record_deleted_at_a_batch_s_edge_is_named(pool: sqlx::SqlitePool) {
    let store = seeded(pool).await;
    drop_guards(&store).await;
    run(&store, "DELETE FROM revocations WHERE id = 3").await;
    for batch in [1, 2, 3, 2_000] {
        let broken = store.verify_audit_by(batch).await.unwrap().unwrap_err();
        assert_eq!(broken.id, 4, "{batch}");
        assert!(
            broken.problem.contains("expected record 3"),
            "{}",
            broken.problem
        );
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
    let broken = store.verify_audit().await.unwrap().unwrap_err();
    assert_eq!(broken.id, 2);
    assert!(broken.problem.contains("wrong type"), "{}", broken.problem);
}

#[sqlx::test(migrations = "./migrations")]
async fn a_record_slipped_in_before_the_first_is_named(pool: sqlx::SqlitePool) {
    let store = seeded(pool).await;
    drop_guards(&store).await;
    run(
        &store,
        "INSERT INTO revocations SELECT 0, intent_id, token_id, user_id, client_id, trigger,
             policy, reason, mode, state, requested_at, completed_at, attempts, http_status,
             okta_request_id, error, sweep_id, job_id, prev_hash, hash, verified_at,
             next_attempt_at, okta_error_id, hash_version FROM revocations WHERE id = 4",
    )
    .await;
    for batch in [1, 2_000] {
        let broken = store.verify_audit_by(batch).await.unwrap().unwrap_err();
        assert_eq!(broken.id, 0, "{batch}");
        assert!(
            broken.problem.contains("expected record 1"),
            "{}",
            broken.problem
        );
    }
}
