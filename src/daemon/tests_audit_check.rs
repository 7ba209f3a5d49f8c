//! The audit check's rules, with an explicit clock: appends are checked at once, a whole walk
//! runs in the background when due and its verdict is reported once it is done.

use std::time::Duration;

use tokio::time::Instant;

use super::{AuditCheck, MAX_WALK_AGE, RECHECK, State, Verdict};
use crate::store::{AuditBreak, DataVersion, NewRevocation, RevocationState, Store, Verified};

fn row(token: &str) -> NewRevocation {
    NewRevocation::new(
        Some(token.into()),
        "00u1",
        "0oa1",
        crate::store::RevocationTrigger::Policy,
        crate::config::Mode::DryRun,
        RevocationState::Planned,
        "2026-11-30T00:00:00.000Z",
    )
}

async fn run(store: &Store, sql: &str) {
    sqlx::query(sql).execute(store.pool()).await.unwrap();
}

/// Edits record 1 in place, behind the append-only triggers.
async fn edit_the_first_record(store: &Store) {
    run(store, "DROP TRIGGER revocations_are_append_only_update").await;
    run(
        store,
        "UPDATE revocations SET reason = 'edited' WHERE id = 1",
    )
    .await;
}

#[sqlx::test(migrations = "./migrations")]
async fn appends_are_checked_and_counted_at_once_and_a_forged_one_is_seen_at_once(
    pool: sqlx::SqlitePool,
) {
    let store = Store::from_pool(pool).await.unwrap();
    let version = DataVersion::default();
    let check = AuditCheck::default();
    let t0 = Instant::now();
    let v = version.current(&store).await.unwrap();
    assert_eq!(check.verdict_at(&store, v, t0).await.unwrap(), Ok(0));
    store.append_revocation(&row("oar1")).await.unwrap();
    store.append_revocation(&row("oar2")).await.unwrap();
    let v = version.current(&store).await.unwrap();
    assert_eq!(check.verdict_at(&store, v, t0).await.unwrap(), Ok(2));

    // Record 3 forged: a copy of record 2, the head moved to it.
    run(
        &store,
        "INSERT INTO revocations SELECT 3, intent_id, token_id, user_id, client_id, trigger,
             policy, reason, mode, state, requested_at, completed_at, attempts, http_status,
             okta_request_id, error, sweep_id, job_id, prev_hash, hash, verified_at,
             next_attempt_at, okta_error_id, hash_version FROM revocations WHERE id = 2",
    )
    .await;
    run(&store, "UPDATE audit_head SET last_id = 3").await;
    let v = version.current(&store).await.unwrap();
    assert_eq!(check.verdict_at(&store, v, t0).await.unwrap(), Err(()));
}

#[sqlx::test(migrations = "./migrations")]
async fn an_edit_behind_the_head_is_found_by_a_background_walk_a_minute_after_the_last(
    pool: sqlx::SqlitePool,
) {
    let store = Store::from_pool(pool).await.unwrap();
    store.append_revocation(&row("oar1")).await.unwrap();
    let version = DataVersion::default();
    let check = AuditCheck::default();
    let t0 = Instant::now();
    let v0 = version.current(&store).await.unwrap();
    assert_eq!(check.verdict_at(&store, v0, t0).await.unwrap(), Ok(1));

    // Record 1 edited and record 2 appended: the append is checked at once, from record 1's
    // end as verified, so the edit is not seen yet.
    edit_the_first_record(&store).await;
    store.append_revocation(&row("oar2")).await.unwrap();
    let v1 = version.current(&store).await.unwrap();
    let soon = t0 + RECHECK - Duration::from_secs(1);
    assert_eq!(check.verdict_at(&store, v1, soon).await.unwrap(), Ok(2));
    check.wait_for_walk().await;
    assert_eq!(check.verdict_at(&store, v1, soon).await.unwrap(), Ok(2));

    // A minute on, a whole walk starts; the scrape that starts it does not wait for it.
    let later = t0 + RECHECK;
    assert_eq!(check.verdict_at(&store, v1, later).await.unwrap(), Ok(2));
    check.wait_for_walk().await;
    assert_eq!(check.verdict_at(&store, v1, later).await.unwrap(), Err(()));
}

#[sqlx::test(migrations = "./migrations")]
async fn an_idle_chain_is_walked_hourly_and_a_mended_one_verifies_again(pool: sqlx::SqlitePool) {
    let store = Store::from_pool(pool).await.unwrap();
    store.append_revocation(&row("oar1")).await.unwrap();
    let original: Option<String> =
        sqlx::query_scalar("SELECT reason FROM revocations WHERE id = 1")
            .fetch_one(store.pool())
            .await
            .unwrap();
    let version = DataVersion::default();
    let check = AuditCheck::default();
    let t0 = Instant::now();
    let v0 = version.current(&store).await.unwrap();
    assert_eq!(check.verdict_at(&store, v0, t0).await.unwrap(), Ok(1));

    // An edit the version is told nothing of (the version passed stays v0): the verdict
    // stands until the last walk is an hour old.
    edit_the_first_record(&store).await;
    let before = t0 + MAX_WALK_AGE - Duration::from_secs(1);
    assert_eq!(check.verdict_at(&store, v0, before).await.unwrap(), Ok(1));
    check.wait_for_walk().await;
    let hour = t0 + MAX_WALK_AGE;
    assert_eq!(check.verdict_at(&store, v0, hour).await.unwrap(), Ok(1));
    check.wait_for_walk().await;
    assert_eq!(check.verdict_at(&store, v0, hour).await.unwrap(), Err(()));

    // Mended by a commit: seen by the walk a minute after the last one started.
    sqlx::query("UPDATE revocations SET reason = ? WHERE id = 1")
        .bind(&original)
        .execute(store.pool())
        .await
        .unwrap();
    let v1 = version.current(&store).await.unwrap();
    assert_ne!(v1, v0);
    let soon = hour + RECHECK - Duration::from_secs(1);
    assert_eq!(check.verdict_at(&store, v1, soon).await.unwrap(), Err(()));
    check.wait_for_walk().await;
    assert_eq!(check.verdict_at(&store, v1, soon).await.unwrap(), Err(()));
    let minute = hour + RECHECK;
    assert_eq!(check.verdict_at(&store, v1, minute).await.unwrap(), Err(()));
    check.wait_for_walk().await;
    assert_eq!(check.verdict_at(&store, v1, minute).await.unwrap(), Ok(1));
}

#[test]
fn a_whole_walk_neither_clears_a_break_found_after_it_started_nor_shortens_the_count() {
    let whole = |records| Ok(Verified { records, end: None });
    let broken = || {
        Err(AuditBreak {
            id: 3,
            problem: "edited".into(),
        })
    };
    let mut state = State::default();
    state.set(whole(5));
    let started = state.breaks;
    state.set(broken());
    state.merge_walk(whole(4), started);
    assert!(matches!(state.verdict, Some(Verdict::Broken)));
    // A walk that started after the break and found the chain whole: mended.
    state.merge_walk(whole(6), state.breaks);
    assert_eq!(state.answer(), Ok(6));
    // An append checked since the walk started verified a longer chain.
    state.merge_walk(whole(4), state.breaks);
    assert_eq!(state.answer(), Ok(6));
    state.merge_walk(broken(), state.breaks);
    assert_eq!(state.answer(), Err(()));
}

#[sqlx::test(migrations = "./migrations")]
async fn a_whole_walk_that_fails_leaves_no_verdict_standing(pool: sqlx::SqlitePool) {
    let store = Store::from_pool(pool).await.unwrap();
    store.append_revocation(&row("oar1")).await.unwrap();
    let version = DataVersion::default();
    let check = AuditCheck::default();
    let t0 = Instant::now();
    let v0 = version.current(&store).await.unwrap();
    assert_eq!(check.verdict_at(&store, v0, t0).await.unwrap(), Ok(1));
    // The walk due at an hour starts in the background; the database closes before it reads.
    let hour = t0 + MAX_WALK_AGE;
    assert_eq!(check.verdict_at(&store, v0, hour).await.unwrap(), Ok(1));
    store.pool().close().await;
    check.wait_for_walk().await;
    assert!(check.state.lock().await.verdict.is_none());
    assert!(check.verdict_at(&store, v0, hour).await.is_err());
}

#[sqlx::test(migrations = "./migrations")]
async fn no_whole_walk_starts_after_stop(pool: sqlx::SqlitePool) {
    let store = Store::from_pool(pool).await.unwrap();
    let version = DataVersion::default();
    let check = AuditCheck::default();
    let t0 = Instant::now();
    let v0 = version.current(&store).await.unwrap();
    assert_eq!(check.verdict_at(&store, v0, t0).await.unwrap(), Ok(0));
    check.stop().await;
    let hour = t0 + MAX_WALK_AGE;
    assert_eq!(check.verdict_at(&store, v0, hour).await.unwrap(), Ok(0));
    assert!(check.state.lock().await.walking.is_none());
}
