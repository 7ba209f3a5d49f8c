//! The upgrade that lets an offboarding job end `skipped` (its event no longer stood), on a
//! database written before it: every job row is kept as it was, ids go on from where the
//! sequence stood (even past a deleted newest row), both indexes are back, and a skipped job
//! puts no user among the offboarded nor in the breaker's hourly count.

use chrono::Utc;
use sqlx::SqlitePool;

use super::tests_migration::migrate_through;
use super::{JobSource, JobState, NewJob, Store};

/// The last migration before `skipped`.
const BEFORE: i64 = 20270102000000;

/// Every column of every job, as text, in id order.
async fn rows(pool: &SqlitePool) -> Vec<Vec<Option<String>>> {
    let sql = "SELECT id, user_id, source, event_id, event_type, reason, state, created_at,
                      started_at, finished_at, next_attempt_at, attempts, runner, error,
                      released_at, mode FROM offboarding_jobs ORDER BY id";
    let rows: Vec<sqlx::sqlite::SqliteRow> = sqlx::query(sql).fetch_all(pool).await.unwrap();
    rows.iter()
        .map(|r| {
            (0..16)
                .map(|i| {
                    use sqlx::Row;
                    let text: Option<String> = r.try_get(i).ok().flatten();
                    let number: Option<i64> = r.try_get(i).ok().flatten();
                    text.or_else(|| number.map(|n| n.to_string()))
                })
                .collect()
        })
        .collect()
}

fn hook_job(user: &str, event: &str) -> NewJob {
    NewJob {
        user_id: user.into(),
        source: JobSource::EventHook,
        event_id: Some(event.into()),
        event_type: Some("user.lifecycle.deactivate".into()),
        reason: Some(format!("Okta event user.lifecycle.deactivate ({event})")),
    }
}

#[sqlx::test(migrations = false)]
async fn jobs_are_kept_verbatim_and_a_skipped_job_offboards_no_one(pool: SqlitePool) {
    migrate_through(&pool, BEFORE).await;
    let insert = "INSERT INTO offboarding_jobs (user_id, source, event_id, event_type, reason,
                      state, created_at, started_at, finished_at, next_attempt_at, attempts,
                      runner, error, released_at, mode)
                  VALUES (?, 'event_hook', ?, 'user.lifecycle.deactivate', 'left', ?,
                      '2026-12-01T00:00:00.000Z', '2026-12-01T00:00:01.000Z', ?, NULL, ?, 'h:1:0',
                      ?, ?, ?)";
    let jobs = [
        (
            "00udone",
            "e1",
            "done",
            Some("2026-12-01T00:00:02.000Z"),
            1,
            None,
            None,
            Some("enforce"),
        ),
        (
            "00uheld",
            "e2",
            "held",
            None,
            1,
            Some("breaker"),
            None,
            None,
        ),
        (
            "00ufailed",
            "e3",
            "failed",
            Some("2026-12-01T00:09:00.000Z"),
            5,
            Some("5xx"),
            Some("2026-12-01T00:05:00.000Z"),
            Some("dry-run"),
        ),
    ];
    for (user, event, state, finished, attempts, error, released, mode) in jobs {
        sqlx::query(insert)
            .bind(user)
            .bind(event)
            .bind(state)
            .bind(finished)
            .bind(attempts)
            .bind(error)
            .bind(released)
            .bind(mode)
            .execute(&pool)
            .await
            .unwrap();
    }
    // The newest job deleted (by hand: revokd deletes none): its id is never given again.
    sqlx::query("DELETE FROM offboarding_jobs WHERE id = 3")
        .execute(&pool)
        .await
        .unwrap();
    let refused = sqlx::query("UPDATE offboarding_jobs SET state = 'skipped' WHERE id = 1")
        .execute(&pool)
        .await;
    assert!(refused.is_err(), "the old table refuses the new state");
    let before = rows(&pool).await;

    let store = Store::from_pool(pool).await.unwrap();
    let pool = store.pool();
    assert_eq!(rows(pool).await, before);
    let indexes: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'offboarding_jobs'
         AND name NOT LIKE 'sqlite_autoindex%' ORDER BY name",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(
        indexes,
        ["offboarding_jobs_by_state", "offboarding_jobs_by_user"]
    );

    let now = Utc::now();
    let id = store
        .start_job(&hook_job("00uback", "e4"), "h:1:0", now)
        .await
        .unwrap();
    assert_eq!(
        id, 4,
        "ids go on from the sequence, not from the highest id left"
    );
    store
        .finish_job(
            id,
            JobState::Skipped,
            Some("Okta shows the user ACTIVE now"),
            now,
        )
        .await
        .unwrap();
    let offboarded: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT user_id FROM v_offboarded_users ORDER BY user_id")
            .fetch_all(pool)
            .await
            .unwrap();
    assert_eq!(offboarded, ["00udone", "00uheld"], "not the skipped job");
    // Nor does it count in the breaker's hourly tally of users offboarded.
    let hour_ago = now - chrono::Duration::hours(1);
    let tally = store
        .automatic_users_since(hour_ago, 0, "00uback")
        .await
        .unwrap();
    assert_eq!(tally, (0, false));
}

/// A job has begun revoking once an attempt wrote a revocation intent in `enforce` that was not
/// withdrawn unsent: not by a preview's plans, nor by the rows of tokens the gate kept.
#[sqlx::test]
async fn a_job_has_begun_with_an_enforce_intent_not_withdrawn(pool: SqlitePool) {
    use super::{NewRevocation, RevocationState as S, RevocationTrigger, ts};
    use crate::config::Mode;
    let store = Store::from_pool(pool).await.unwrap();
    let now = Utc::now();
    let row = |job: i64, mode: Mode, state: S, intent: Option<i64>| NewRevocation {
        job_id: Some(job),
        intent_id: intent,
        ..NewRevocation::new(
            Some(format!("oar{job}")),
            "00u1",
            "0oa1",
            RevocationTrigger::Offboard,
            mode,
            state,
            ts(now),
        )
    };
    let mut begun = Vec::new();
    for (n, rows) in [
        vec![(Mode::DryRun, S::Planned)],
        vec![
            (Mode::Enforce, S::SkippedExempt),
            (Mode::Enforce, S::Withdrawn),
        ],
        vec![(Mode::Enforce, S::Pending)],
    ]
    .into_iter()
    .enumerate()
    {
        let job = store
            .start_job(&hook_job("00u1", &format!("b{n}")), "h:1:0", now)
            .await
            .unwrap();
        for (mode, state) in rows {
            store
                .append_revocations(&[row(job, mode, state, None)])
                .await
                .unwrap();
        }
        begun.push(store.job_has_begun(job).await.unwrap());
    }
    assert_eq!(begun, [false, false, true]);
    // The pending intent closed `withdrawn` (the gate refused it before it was sent): nothing
    // was sent. Closed `done`: it was.
    let pending = sqlx::query_scalar::<_, i64>("SELECT MAX(id) FROM revocations")
        .fetch_one(store.pool())
        .await
        .unwrap();
    let job = 3;
    store
        .append_revocations(&[row(job, Mode::Enforce, S::Withdrawn, Some(pending))])
        .await
        .unwrap();
    assert!(!store.job_has_begun(job).await.unwrap());
    store
        .append_revocations(&[row(job, Mode::Enforce, S::Done, Some(pending))])
        .await
        .unwrap();
    assert!(store.job_has_begun(job).await.unwrap());
}
