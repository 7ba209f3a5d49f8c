//! The audit check's rules, with an explicit clock: what was added is checked at once, a whole
//! walk runs in the background when due and its verdict is reported once it is done.

use std::time::Duration;

use tokio::time::Instant;

use super::{AuditCheck, MAX_WALK_AGE, RECHECK, State, Verdict};
use crate::store::{AuditBreak, DataVersion, NewRevocation, RevocationState, Store, Verified};
use crate::store::{RevocationTrigger, Version};

/// A planned revocation of `token` (user `00u1`, client `0oa1`).
pub(in crate::daemon) fn row(token: &str) -> NewRevocation {
    NewRevocation::new(
        Some(token.into()),
        "00u1",
        "0oa1",
        RevocationTrigger::Policy,
        crate::config::Mode::DryRun,
        RevocationState::Planned,
        "2026-11-30T00:00:00.000Z",
    )
}

async fn run(store: &Store, sql: &str) {
    sqlx::query(sql).execute(store.pool()).await.unwrap();
}

/// A check over a chain of `records` records, its first verdict given at `t0` and `v0`.
struct Checked {
    store: Store,
    version: DataVersion,
    check: AuditCheck,
    t0: Instant,
    v0: Version,
}

impl Checked {
    async fn new(pool: sqlx::SqlitePool, records: u64) -> Checked {
        let store = Store::from_pool(pool).await.unwrap();
        for i in 0..records {
            store
                .append_revocation(&row(&format!("oar{i}")))
                .await
                .unwrap();
        }
        let (version, check, t0) = (
            DataVersion::default(),
            AuditCheck::default(),
            Instant::now(),
        );
        let v0 = version.current(&store).await.unwrap();
        let checked = Checked {
            store,
            version,
            check,
            t0,
            v0,
        };
        assert_eq!(checked.verdict(v0, t0).await, Ok(records));
        checked
    }

    /// `Ok(records)`, or the id of the record where the chain breaks.
    async fn verdict(&self, version: Version, at: Instant) -> Result<u64, i64> {
        let found = self.check.verdict_at(&self.store, version, at).await;
        found.unwrap().map_err(|broken| broken.id)
    }

    async fn version(&self) -> Version {
        self.version.current(&self.store).await.unwrap()
    }

    /// Edits record 1 in place, behind the append-only triggers.
    async fn edit_the_first_record(&self) {
        run(
            &self.store,
            "DROP TRIGGER revocations_are_append_only_update",
        )
        .await;
        run(
            &self.store,
            "UPDATE revocations SET reason = 'x' WHERE id = 1",
        )
        .await;
    }
}

#[sqlx::test(migrations = "./migrations")]
async fn appends_are_checked_and_counted_at_once_and_a_forged_one_is_seen_at_once(
    pool: sqlx::SqlitePool,
) {
    let c = Checked::new(pool, 0).await;
    c.store.append_revocation(&row("oar1")).await.unwrap();
    c.store.append_revocation(&row("oar2")).await.unwrap();
    assert_eq!(c.verdict(c.version().await, c.t0).await, Ok(2));

    // Record 3 forged: a copy of record 2, the head moved to it.
    c.store.copy_audit_record(2, 3).await;
    run(&c.store, "UPDATE audit_head SET last_id = 3").await;
    assert_eq!(c.verdict(c.version().await, c.t0).await, Err(3));
}

#[sqlx::test(migrations = "./migrations")]
async fn an_edit_behind_the_head_is_found_by_a_background_walk_a_minute_after_the_last(
    pool: sqlx::SqlitePool,
) {
    let c = Checked::new(pool, 1).await;
    // Record 1 edited and record 2 appended: the append is checked at once, from record 1's
    // end as verified, so the edit is not seen yet.
    c.edit_the_first_record().await;
    c.store.append_revocation(&row("oar2")).await.unwrap();
    let v1 = c.version().await;
    let soon = c.t0 + RECHECK - Duration::from_secs(1);
    assert_eq!(c.verdict(v1, soon).await, Ok(2));
    c.check.wait_for_walk().await;
    assert_eq!(c.verdict(v1, soon).await, Ok(2));

    // A minute on, a whole walk starts; the scrape that starts it does not wait for it.
    let later = c.t0 + RECHECK;
    assert_eq!(c.verdict(v1, later).await, Ok(2));
    c.check.wait_for_walk().await;
    assert_eq!(c.verdict(v1, later).await, Err(1));
}

#[sqlx::test(migrations = "./migrations")]
async fn an_idle_chain_is_walked_hourly_and_a_mended_one_verifies_again(pool: sqlx::SqlitePool) {
    let c = Checked::new(pool, 1).await;
    let original: Option<String> =
        sqlx::query_scalar("SELECT reason FROM revocations WHERE id = 1")
            .fetch_one(c.store.pool())
            .await
            .unwrap();

    // An edit the version is told nothing of (the version passed stays v0): the verdict
    // stands until the last walk is an hour old.
    c.edit_the_first_record().await;
    let before = c.t0 + MAX_WALK_AGE - Duration::from_secs(1);
    assert_eq!(c.verdict(c.v0, before).await, Ok(1));
    c.check.wait_for_walk().await;
    let hour = c.t0 + MAX_WALK_AGE;
    assert_eq!(c.verdict(c.v0, hour).await, Ok(1));
    c.check.wait_for_walk().await;
    assert_eq!(c.verdict(c.v0, hour).await, Err(1));

    // Mended by a commit: seen by the walk a minute after the last one started.
    sqlx::query("UPDATE revocations SET reason = ? WHERE id = 1")
        .bind(&original)
        .execute(c.store.pool())
        .await
        .unwrap();
    let v1 = c.version().await;
    assert_ne!(v1, c.v0);
    let soon = hour + RECHECK - Duration::from_secs(1);
    assert_eq!(c.verdict(v1, soon).await, Err(1));
    c.check.wait_for_walk().await;
    assert_eq!(c.verdict(v1, soon).await, Err(1));
    let minute = hour + RECHECK;
    assert_eq!(c.verdict(v1, minute).await, Err(1));
    c.check.wait_for_walk().await;
    assert_eq!(c.verdict(v1, minute).await, Ok(1));
}

fn answer(state: &State) -> Option<Result<u64, i64>> {
    Some(state.verdict.as_ref()?.answer().map_err(|broken| broken.id))
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
    assert!(matches!(state.verdict, Some(Verdict::Broken(_))));
    // A walk that started after the break and found the chain whole: mended.
    state.merge_walk(whole(6), state.breaks);
    assert_eq!(answer(&state), Some(Ok(6)));
    // An append checked since the walk started verified a longer chain.
    state.merge_walk(whole(4), state.breaks);
    assert_eq!(answer(&state), Some(Ok(6)));
    state.merge_walk(broken(), state.breaks);
    assert_eq!(answer(&state), Some(Err(3)));
}

#[sqlx::test(migrations = "./migrations")]
async fn a_whole_walk_that_fails_leaves_no_verdict_standing(pool: sqlx::SqlitePool) {
    let c = Checked::new(pool, 1).await;
    // The walk due at an hour starts in the background; the database closes before it reads.
    let hour = c.t0 + MAX_WALK_AGE;
    assert_eq!(c.verdict(c.v0, hour).await, Ok(1));
    c.store.pool().close().await;
    c.check.wait_for_walk().await;
    assert!(c.check.state.lock().await.verdict.is_none());
    let scrape = c.check.verdict_at(&c.store, c.v0, hour).await;
    assert!(scrape.is_err(), "{scrape:?}");
}

#[sqlx::test(migrations = "./migrations")]
async fn no_whole_walk_starts_after_stop(pool: sqlx::SqlitePool) {
    let c = Checked::new(pool, 0).await;
    c.check.stop().await;
    assert_eq!(c.verdict(c.v0, c.t0 + MAX_WALK_AGE).await, Ok(0));
    assert!(c.check.state.lock().await.walking.is_none());
}
