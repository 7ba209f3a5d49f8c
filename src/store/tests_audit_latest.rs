//! The conditional append a retry uses: written only after the latest record it names.

use super::super::Store;
use super::super::audit_row::{NewRevocation, RevocationState};
use super::tests::new;

#[sqlx::test(migrations = "./migrations")]
async fn a_conditional_append_writes_only_after_the_latest_record_it_names(pool: sqlx::SqlitePool) {
    let store = Store::from_pool(pool).await.unwrap();
    let intent = (store
        .append_revocation(&new(RevocationState::Pending, "oar1"))
        .await)
        .unwrap();
    let failed = NewRevocation {
        intent_id: Some(intent),
        ..new(RevocationState::Failed, "oar1")
    };
    let read = store.append_revocation(&failed).await.unwrap();
    // Another intent's rows in between do not matter; this intent's do.
    store
        .append_revocation(&new(RevocationState::Pending, "oar2"))
        .await
        .unwrap();
    let retry = NewRevocation {
        intent_id: Some(intent),
        ..new(RevocationState::Pending, "oar1")
    };
    assert_eq!(
        store
            .append_revocation_if_latest(&retry, intent)
            .await
            .unwrap(),
        None
    );
    let written = store
        .append_revocation_if_latest(&retry, read)
        .await
        .unwrap();
    assert!(written.is_some());
    assert_eq!(
        store
            .append_revocation_if_latest(&retry, read)
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.revocations().await.unwrap().len(), 4);
    assert_eq!(store.verify_audit().await.unwrap(), Ok(4));
}
