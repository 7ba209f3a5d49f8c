//! The System Log cursor: saved with the jobs of its page, and left alone (nothing committed)
//! by a poll that found nothing new.

use chrono::Utc;
use sqlx::SqlitePool;

use super::offboarding::tests::hook_job;
use super::{DataVersion, JobSource, Store};

#[sqlx::test(migrations = "./migrations")]
async fn the_system_log_cursor_is_saved_with_the_jobs_of_its_page(pool: SqlitePool) {
    let store = Store::from_pool(pool).await.unwrap();
    assert_eq!(store.system_log_cursor().await.unwrap(), None);
    let mut job = hook_job("00u1", "e1");
    job.source = JobSource::SystemLog;
    store
        .save_system_log_page(&[job.clone()], "http://x/1", "q", None, Utc::now())
        .await
        .unwrap();
    let again = store
        .save_system_log_page(&[job], "http://x/2", "q", None, Utc::now())
        .await
        .unwrap();
    assert!(again.is_empty());
    assert_eq!(
        store
            .system_log_cursor()
            .await
            .unwrap()
            .map(|c| c.next_url)
            .as_deref(),
        Some("http://x/2")
    );
}

#[sqlx::test(migrations = "./migrations")]
async fn a_poll_that_found_nothing_new_commits_nothing(pool: SqlitePool) {
    let store = Store::from_pool(pool).await.unwrap();
    store
        .save_system_log_page(&[], "http://x/1", "q", None, Utc::now())
        .await
        .unwrap();
    let version = DataVersion::default();
    let before = version.current(&store).await.unwrap();
    store
        .save_system_log_page(&[], "http://x/1", "q", None, Utc::now())
        .await
        .unwrap();
    assert_eq!(version.current(&store).await.unwrap(), before);
    store
        .save_system_log_page(&[], "http://x/2", "q", None, Utc::now())
        .await
        .unwrap();
    assert_ne!(version.current(&store).await.unwrap(), before);
    assert_eq!(
        store
            .system_log_cursor()
            .await
            .unwrap()
            .map(|c| c.next_url)
            .as_deref(),
        Some("http://x/2")
    );
}
