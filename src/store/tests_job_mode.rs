//! The upgrade that gives each offboarding job its mode, on a database written before it: a
//! job keeps the mode its newest audit row was written in, a job without rows stays unknown;
//! neither a preview nor an unknown job settles a failure that may have revoked, and a
//! preview's rows offboard no one (an unknown job counts its user, as a job not run yet
//! does). Then which later job settles a failed one: a real offboarding always, a preview
//! only a failed preview that never ran for real.

use chrono::{DateTime, Utc};
use sqlx::SqlitePool;

use super::tests_migration::migrate_through;
use super::{
    JobSource, JobState, NewJob, NewRevocation, RevocationState, RevocationTrigger, Store, ts,
};
use crate::config::Mode;

/// The last migration before jobs kept their mode.
const BEFORE: i64 = 20261226000100;

fn cli_job(user: &str) -> NewJob {
    NewJob {
        user_id: user.into(),
        source: JobSource::Cli,
        event_id: None,
        event_type: None,
        reason: Some("left".into()),
    }
}

/// A job of `user` that ends in `state`, with an audit row in each of `modes`, in order.
async fn job(old: &Store, user: &str, modes: &[Mode], state: JobState, now: DateTime<Utc>) {
    let id = old.start_job(&cli_job(user), "h:1:0", now).await.unwrap();
    for (n, mode) in modes.iter().enumerate() {
        let (trigger, planned) = (RevocationTrigger::Offboard, RevocationState::Planned);
        let token = Some(format!("oar{id}x{n}"));
        let row = NewRevocation::new(token, user, "0oa1", trigger, *mode, planned, ts(now));
        let row = NewRevocation {
            job_id: Some(id),
            ..row
        };
        old.append_revocations(&[row]).await.unwrap();
    }
    old.finish_job(id, state, None, now).await.unwrap();
}

async fn strings(pool: &SqlitePool, sql: &str) -> Vec<(String, Option<String>)> {
    sqlx::query_as(sql).fetch_all(pool).await.unwrap()
}

#[sqlx::test(migrations = false)]
async fn jobs_keep_the_mode_of_their_rows_and_a_preview_settles_no_unknown_job(pool: SqlitePool) {
    migrate_through(&pool, BEFORE).await;
    let old = Store { pool: pool.clone() };
    let now = Utc::now();
    // Each user: a failed job, then a `done` job with rows of the modes named (a job tried
    // as a preview, then run for real after a reload, has both).
    let (dry, real) = (Mode::DryRun, Mode::Enforce);
    for (user, modes) in [
        ("00uenforce", vec![real]),
        ("00upreview", vec![dry]),
        ("00unorows", vec![]),
        ("00uretried", vec![dry, real]),
        ("00uundone", vec![real, dry]),
    ] {
        job(&old, user, &[], JobState::Failed, now).await;
        job(&old, user, &modes, JobState::Done, now).await;
    }

    let store = Store::from_pool(pool).await.unwrap();
    let pool = store.pool();

    let modes = strings(
        pool,
        "SELECT user_id, mode FROM offboarding_jobs WHERE state = 'done' ORDER BY user_id",
    )
    .await;
    let expected = [
        ("00uenforce", Some("enforce")),
        ("00unorows", None),
        ("00upreview", Some("dry-run")),
        ("00uretried", Some("enforce")),
        ("00uundone", Some("dry-run")),
    ];
    let expected: Vec<_> = (expected.iter())
        .map(|(u, m)| ((*u).to_owned(), m.map(str::to_owned)))
        .collect();
    assert_eq!(modes, expected);
    let problems = strings(
        pool,
        "SELECT user_id, error FROM v_offboarding_problems ORDER BY user_id",
    )
    .await;
    let users: Vec<_> = problems.into_iter().map(|(u, _)| u).collect();
    assert_eq!(
        users,
        ["00unorows", "00upreview", "00uundone"],
        "only a real offboarding settles"
    );
    let offboarded = strings(
        pool,
        "SELECT user_id, source FROM v_offboarded_users ORDER BY user_id, source",
    )
    .await;
    let row = |u: &str, s: &str| (u.to_owned(), Some(s.to_owned()));
    let expected = vec![
        row("00uenforce", "job"),
        row("00uenforce", "revocation"),
        // Failed jobs of unknown mode count; the preview's rows do not.
        row("00unorows", "job"),
        row("00upreview", "job"),
        row("00uretried", "job"),
        row("00uretried", "revocation"),
        row("00uundone", "job"),
        row("00uundone", "revocation"),
    ];
    assert_eq!(offboarded, expected);
    // A job run from now on records its mode as it starts.
    let id = store
        .start_job(&cli_job("00unew"), "h:1:0", now)
        .await
        .unwrap();
    store.set_job_mode(id, Mode::DryRun).await.unwrap();
    let new = strings(
        pool,
        "SELECT user_id, source FROM v_offboarded_users WHERE user_id = '00unew'",
    )
    .await;
    assert_eq!(new, vec![]);
}

/// Ends a job of `user` that ran in each of `modes` in turn (an enforce run writing an audit
/// row), in `state`.
async fn ran(store: &Store, user: &str, modes: &[Mode], state: JobState) {
    let now = Utc::now();
    let id = store.start_job(&cli_job(user), "h:1:0", now).await.unwrap();
    for mode in modes {
        store.set_job_mode(id, *mode).await.unwrap();
        if *mode == Mode::Enforce {
            let token = Some(format!("oar{id}"));
            let (trigger, pending) = (RevocationTrigger::Offboard, RevocationState::Pending);
            let row = NewRevocation::new(token, user, "0oa1", trigger, *mode, pending, ts(now));
            let row = NewRevocation {
                job_id: Some(id),
                ..row
            };
            store.append_revocations(&[row]).await.unwrap();
        }
    }
    store
        .finish_job(id, state, Some("Okta 503"), now)
        .await
        .unwrap();
}

#[sqlx::test]
async fn a_failed_preview_is_settled_by_a_later_preview_a_failed_offboarding_is_not(
    pool: SqlitePool,
) {
    let store = Store::from_pool(pool).await.unwrap();
    let (dry, real) = (Mode::DryRun, Mode::Enforce);
    let (done, failed) = (JobState::Done, JobState::Failed);
    for (user, runs) in [
        ("00upreviewed", vec![(vec![dry], failed), (vec![dry], done)]),
        ("00uenforced", vec![(vec![dry], failed), (vec![real], done)]),
        ("00upreviewonly", vec![(vec![dry], failed)]),
        ("00uleaver", vec![(vec![real], failed), (vec![dry], done)]),
        ("00uleft", vec![(vec![real], failed), (vec![real], done)]),
        // Tried for real, then as a preview after a reload: it may have revoked.
        (
            "00ureloaded",
            vec![(vec![real, dry], failed), (vec![dry], done)],
        ),
    ] {
        for (modes, state) in runs {
            ran(&store, user, &modes, state).await;
        }
    }

    let problems = strings(
        store.pool(),
        "SELECT user_id, error FROM v_offboarding_problems ORDER BY user_id",
    )
    .await;

    let users: Vec<_> = problems.into_iter().map(|(u, _)| u).collect();
    assert_eq!(
        users,
        ["00uleaver", "00upreviewonly", "00ureloaded"],
        "a preview settles a failed preview; only a real offboarding settles a failed one"
    );
    // `/metrics` counts the same (`RevokdOffboardingFailed` fires while it is above 0).
    let gauges = store.gauges().await.unwrap();
    assert_eq!(gauges.offboarding_unsettled_failures, 3);
    ran(&store, "00uleaver", &[real], done).await;
    let gauges = store.gauges().await.unwrap();
    assert_eq!(gauges.offboarding_unsettled_failures, 2);
}
