//! Appends against a trail whose end no longer matches its head: a deleted tail or a record
//! inserted past the head stays a break that `audit verify` reports, whatever is appended
//! after it (an append refuses to chain onto it; an empty append writes nothing).

use super::super::Store;
use super::super::audit_row::RevocationState;
use super::tests::{drop_guards, new, seeded};
use crate::store::Error;

/// Appends nothing, then one record; returns the second append's error.
async fn append_after(store: &Store) -> Error {
    store.append_revocations(&[]).await.unwrap();
    store
        .append_revocation(&new(RevocationState::Planned, "oar9"))
        .await
        .expect_err("refused")
}

#[sqlx::test(migrations = "./migrations")]
async fn an_append_after_a_deleted_tail_is_refused_and_the_break_stays(pool: sqlx::SqlitePool) {
    let store = seeded(pool).await;
    drop_guards(&store).await;
    sqlx::query("DELETE FROM revocations WHERE id >= 3")
        .execute(store.pool())
        .await
        .unwrap();
    let e = append_after(&store).await;
    assert!(matches!(e, Error::AuditBroken(_)), "{e:?}");
    assert!(e.to_string().contains("audit verify"), "{e}");
    let broken = store.verify_audit().await.unwrap().unwrap_err();
    assert!(broken.problem.contains("deleted"), "{}", broken.problem);
    assert_eq!(store.revocations().await.unwrap().len(), 2);
}

#[sqlx::test(migrations = "./migrations")]
async fn an_append_after_every_record_was_deleted_is_refused(pool: sqlx::SqlitePool) {
    let store = seeded(pool).await;
    drop_guards(&store).await;
    sqlx::query("DELETE FROM revocations")
        .execute(store.pool())
        .await
        .unwrap();
    let e = append_after(&store).await;
    assert!(matches!(e, Error::AuditBroken(_)), "{e:?}");
    assert!(store.verify_audit().await.unwrap().is_err());
    assert_eq!(store.audit_head().await.unwrap().map(|(id, _)| id), Some(4));
}

#[sqlx::test(migrations = "./migrations")]
async fn an_append_after_a_record_inserted_past_the_head_is_refused(pool: sqlx::SqlitePool) {
    let store = seeded(pool).await;
    // A plain INSERT (the triggers only guard updates and deletes) copying record 4's fields.
    sqlx::query(
        "INSERT INTO revocations (id, token_id, user_id, client_id, trigger, policy, reason,
             mode, state, requested_at, attempts, prev_hash, hash, hash_version)
         SELECT 5, token_id, user_id, client_id, trigger, policy, reason, mode, state,
             requested_at, attempts, hash, hash, hash_version
         FROM revocations WHERE id = 4",
    )
    .execute(store.pool())
    .await
    .unwrap();
    let e = append_after(&store).await;
    assert!(matches!(e, Error::AuditBroken(_)), "{e:?}");
    let broken = store.verify_audit().await.unwrap().unwrap_err();
    assert_eq!(broken.id, 5, "{}", broken.problem);
}

#[sqlx::test(migrations = "./migrations")]
async fn an_empty_append_to_an_intact_trail_writes_nothing(pool: sqlx::SqlitePool) {
    let store = seeded(pool).await;
    let head = store.audit_head().await.unwrap();
    assert_eq!(
        store.append_revocations(&[]).await.unwrap(),
        Vec::<i64>::new()
    );
    assert_eq!(store.audit_head().await.unwrap(), head);
    store
        .append_revocation(&new(RevocationState::Planned, "oar9"))
        .await
        .unwrap();
    assert_eq!(store.verify_audit().await.unwrap(), Ok(5));
}
