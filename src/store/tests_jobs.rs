//! The offboarding job queue against a real database: one job per event, claims, finishing,
//! re-queueing, and the jobs of dead processes.

use super::*;
use sqlx::SqlitePool;

pub(in crate::store) fn hook_job(user: &str, uuid: &str) -> NewJob {
    NewJob {
        user_id: user.into(),
        source: JobSource::EventHook,
        event_id: Some(uuid.into()),
        event_type: Some("user.lifecycle.deactivate".into()),
        reason: Some("deactivated".into()),
    }
}

/// One event's job, enqueued and claimed by runner `r1` at `now`.
async fn queued_and_claimed(store: &Store, now: DateTime<Utc>) -> JobRow {
    let job = [hook_job("00u1", "e1")];
    store.enqueue_jobs(&job, now).await.unwrap();
    store.claim_job("r1", now).await.unwrap().unwrap()
}

#[sqlx::test(migrations = "./migrations")]
async fn a_second_delivery_of_an_event_makes_no_second_job(pool: SqlitePool) {
    let store = Store::from_pool(pool).await.unwrap();
    let first = store
        .enqueue_jobs(&[hook_job("00u1", "e1")], Utc::now())
        .await
        .unwrap();
    let both = [hook_job("00u1", "e1"), hook_job("00u2", "e2")];
    let again = store.enqueue_jobs(&both, Utc::now()).await.unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(again.len(), 1);
    let waiting = store.waiting_jobs().await.unwrap();
    assert_eq!(waiting.count, 2);
    let first_at = store.job(first[0]).await.unwrap().unwrap().created_at;
    assert_eq!(
        waiting.oldest.map(ts),
        Some(first_at),
        "the first delivery's"
    );
}

#[sqlx::test(migrations = "./migrations")]
async fn jobs_are_claimed_once_finished_and_requeued_with_a_due_time(pool: SqlitePool) {
    let store = Store::from_pool(pool).await.unwrap();
    let now = Utc::now();
    let job = queued_and_claimed(&store, now).await;
    assert_eq!((job.state.as_str(), job.attempts), ("running", 1));
    assert!(store.claim_job("r1", now).await.unwrap().is_none());
    let later = now + chrono::Duration::seconds(30);
    store.requeue_job(job.id, "boom", later).await.unwrap();
    assert!(store.claim_job("r1", now).await.unwrap().is_none());
    assert_eq!(store.next_job_due().await.unwrap(), Some(ts(later)));
    let again = store.claim_job("r1", later).await.unwrap().unwrap();
    assert_eq!(again.attempts, 2);
    store
        .finish_job(again.id, JobState::Done, None, later)
        .await
        .unwrap();
    let row = store.job(again.id).await.unwrap().unwrap();
    assert_eq!(row.state, JobState::Done);
    assert!(row.finished_at.is_some());
    assert_eq!(store.waiting_jobs().await.unwrap(), WaitingJobs::default());
}

#[sqlx::test(migrations = "./migrations")]
async fn a_running_job_of_a_dead_process_can_be_released(pool: SqlitePool) {
    let store = Store::from_pool(pool).await.unwrap();
    let id = store
        .start_job(&hook_job("00u1", "e1"), "h:1:1", Utc::now())
        .await
        .unwrap();
    let running = store.running_jobs().await.unwrap();
    let found: Vec<_> = (running.iter())
        .map(|j| (j.id, j.runner.as_deref(), j.source, j.started_at.is_some()))
        .collect();
    assert_eq!(found, vec![(id, Some("h:1:1"), JobSource::EventHook, true)]);
    // Only while it still runs under the runner read: another process may have taken it.
    assert!(!store.release_job(id, Some("h:9:9")).await.unwrap());
    assert!(store.release_job(id, Some("h:1:1")).await.unwrap());
    assert!(!store.release_job(id, Some("h:1:1")).await.unwrap());
    let job = store.claim_job("h:2:2", Utc::now()).await.unwrap().unwrap();
    assert_eq!((job.id, job.attempts), (id, 2));
}

#[sqlx::test(migrations = "./migrations")]
async fn a_dead_runners_job_is_failed_only_while_it_is_still_running_under_it(pool: SqlitePool) {
    let store = Store::from_pool(pool).await.unwrap();
    let id = store
        .start_job(&hook_job("00u1", "e1"), "h:1:1", Utc::now())
        .await
        .unwrap();
    // Another runner's job, or one already finished, is left as it is.
    assert!(
        !store
            .fail_dead_job(id, Some("h:9:9"), "gone", Utc::now())
            .await
            .unwrap()
    );
    assert!(
        store
            .fail_dead_job(id, Some("h:1:1"), "gone", Utc::now())
            .await
            .unwrap()
    );
    let failed: (String, Option<String>) =
        sqlx::query_as("SELECT state, error FROM offboarding_jobs WHERE id = ?")
            .bind(id)
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert_eq!(failed, ("failed".into(), Some("gone".into())));
    let done = store
        .start_job(&hook_job("00u2", "e2"), "h:1:1", Utc::now())
        .await
        .unwrap();
    store
        .finish_job(done, JobState::Done, None, Utc::now())
        .await
        .unwrap();
    assert!(
        !store
            .fail_dead_job(done, Some("h:1:1"), "gone", Utc::now())
            .await
            .unwrap()
    );
}

/// A job the breaker holds was claimed but never tried: once released, it has every attempt.
#[sqlx::test(migrations = "./migrations")]
async fn a_job_held_when_claimed_keeps_its_attempts(pool: SqlitePool) {
    let store = Store::from_pool(pool).await.unwrap();
    let now = Utc::now();
    let job = queued_and_claimed(&store, now).await;
    store.hold_job(job.id, "breaker").await.unwrap();
    assert_eq!(store.job(job.id).await.unwrap().unwrap().attempts, 0);
    store.release_held_jobs(&[job.id], now).await.unwrap();
    let again = store.claim_job("r1", now).await.unwrap().unwrap();
    assert_eq!((again.id, again.attempts), (job.id, 1));
}

/// `v_offboarding_problems` finds a failed job's later `done` jobs of the same user through an
/// index, not by scanning every `done` job for each failed one (seconds at 50,000 jobs).
#[sqlx::test(migrations = "./migrations")]
async fn offboarding_problems_look_up_a_users_later_jobs_by_index(pool: SqlitePool) {
    let store = Store::from_pool(pool).await.unwrap();
    let plan: Vec<(i64, i64, i64, String)> =
        sqlx::query_as("EXPLAIN QUERY PLAN SELECT COUNT(*) FROM v_offboarding_problems")
            .fetch_all(store.pool())
            .await
            .unwrap();
    let steps: Vec<&str> = plan.iter().map(|(_, _, _, s)| s.as_str()).collect();
    assert!(
        steps
            .iter()
            .any(|s| s.contains("SEARCH d USING") && s.contains("offboarding_jobs_by_user")),
        "{steps:#?}"
    );
}

#[sqlx::test(migrations = "./migrations")]
async fn a_job_released_from_the_breaker_waits_from_its_release(pool: SqlitePool) {
    let store = Store::from_pool(pool).await.unwrap();
    let enqueued = Utc::now() - chrono::Duration::hours(2);
    let job = queued_and_claimed(&store, enqueued).await;
    store.hold_job(job.id, "breaker").await.unwrap();
    assert_eq!(
        store.waiting_jobs().await.unwrap().count,
        0,
        "held: not waiting"
    );
    let released = enqueued + chrono::Duration::minutes(110);
    store.release_held_jobs(&[], released).await.unwrap();
    let waiting = store.waiting_jobs().await.unwrap();
    assert_eq!(waiting.count, 1);
    assert_eq!(
        waiting.oldest.map(ts),
        Some(ts(released)),
        "not its two hours held"
    );
}
