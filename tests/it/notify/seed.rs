//! Seeding the daemon's database with one notification event of each kind, each through the
//! store call that causes it in revokd.

use std::path::Path;

use chrono::Utc;
use revokd::config::Mode;
use revokd::store::{
    NewJob, NewRevocation, RevocationState, Store, SweepCounts, SweepStatus, Trigger,
    insert_held_event, ts,
};

use crate::daemon::harness::db_path;

/// The daemon's database in `dir`.
pub async fn store(dir: &Path) -> Store {
    Store::connect(&format!("sqlite://{}", db_path(dir).display()))
        .await
        .expect("store")
}

/// One event of each kind, each through the store call that causes it in revokd; the audit
/// chain then edited behind the store's back (found by the daemon's check at start).
pub async fn seed_one_of_each_kind(dir: &Path) {
    let store = store(dir).await;
    let now = Utc::now();
    let counts = SweepCounts::default();
    let failed = store
        .begin_sweep(Trigger::Cli, Mode::Enforce, now, "test")
        .await
        .expect("seeded");
    store
        .finish_sweep(
            failed,
            SweepStatus::Failed,
            &counts,
            Some("every target failed"),
            now,
        )
        .await
        .expect("seeded");
    let tripped = store
        .begin_sweep(Trigger::Schedule, Mode::Enforce, now, "test")
        .await
        .expect("seeded");
    store
        .finish_sweep_noting(
            tripped,
            SweepStatus::Partial,
            &counts,
            None,
            Some("12 planned revocations exceed safety.max_revocations_per_sweep = 10"),
            now,
        )
        .await
        .expect("seeded");
    let row = |state| {
        NewRevocation::new(
            Some("oar<!channel>".into()),
            "00u1<@here>",
            "0oa1",
            revokd::store::RevocationTrigger::Policy,
            revokd::config::Mode::Enforce,
            state,
            ts(now),
        )
    };
    let intent = store
        .append_revocation(&row(RevocationState::Pending))
        .await
        .expect("seeded");
    let irrevocable = NewRevocation {
        intent_id: Some(intent),
        attempts: 6,
        error: Some("Okta answered 503 <https://evil.example|click>".into()),
        ..row(RevocationState::Irrevocable)
    };
    store.append_revocation(&irrevocable).await.expect("seeded");
    let job = |event: &str| NewJob {
        user_id: "00u2".into(),
        source: revokd::store::JobSource::EventHook,
        event_id: Some(event.into()),
        event_type: Some("user.lifecycle.deactivate".into()),
        reason: None,
    };
    let failing = store
        .start_job(&job("e1"), "test", now)
        .await
        .expect("seeded");
    store
        .finish_job(
            failing,
            revokd::store::JobState::Failed,
            Some("Okta unreachable"),
            now,
        )
        .await
        .expect("seeded");
    let held = store.enqueue_jobs(&[job("e2")], now).await.expect("seeded")[0];
    let mut conn = store.pool().acquire().await.expect("seeded");
    assert!(
        insert_held_event(&mut conn, held, "51 users offboarded in the last hour", now)
            .await
            .expect("seeded")
    );
    drop(conn);
    for sql in [
        "DROP TRIGGER revocations_are_append_only_update",
        "UPDATE revocations SET reason = 'edited' WHERE id = 1",
    ] {
        sqlx::query(sql)
            .execute(store.pool())
            .await
            .expect("seeded");
    }
    store.close().await;
}
