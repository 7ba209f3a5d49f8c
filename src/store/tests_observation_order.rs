//! Tests of observations written out of the order they were made in: a page fetched earlier
//! (an offboarding's listing, a reconciliation's check) whose transaction commits after a
//! sweep's newer sighting, or after a listing that found the token gone. What was seen last
//! stays what the database holds.

use chrono::{Duration, Utc};

use super::tokens::TokenObservation;
use super::{Store, Trigger, ts};
use crate::config::Mode;

fn obs(id: &str, raw: &str, matches: &str) -> TokenObservation {
    TokenObservation {
        policy_matches: matches.into(),
        ..super::tests_tokens::obs(id, raw)
    }
}

async fn count(store: &Store, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(store.pool())
        .await
        .unwrap()
}

#[sqlx::test(migrations = "./migrations")]
async fn an_older_sighting_committed_after_a_newer_one_changes_nothing(pool: sqlx::SqlitePool) {
    let store = Store::from_pool(pool).await.unwrap();
    let t1 = Utc::now();
    let t2 = t1 + Duration::seconds(2);
    // The sweep's page, seen at t2, commits first; an offboarding's page, fetched at t1 and
    // held behind the sweep's writer, commits after it.
    let newer = obs("oar1", r#"{"v":2}"#, r#"["admin-7d"]"#);
    store.record_page(None, &[newer], t2).await.unwrap();
    let older = obs("oar1", r#"{"v":1}"#, "[]");
    store.record_page(None, &[older], t1).await.unwrap();
    // The sweep's listing started between the two sightings, and contained the token.
    let marked = store
        .mark_gone("00u1", "0oa1", t1 + Duration::seconds(1), t2)
        .await
        .unwrap();

    assert_eq!(marked, 0, "a token the listing contained is not gone");
    let row = store.token("oar1").await.unwrap().unwrap();
    assert_eq!(row.last_seen_at, ts(t2));
    assert_eq!(row.gone_at, None);
    assert_eq!(row.policy_matches, r#"["admin-7d"]"#);
    let history = "SELECT COUNT(*) FROM token_snapshots WHERE token_id = 'oar1'";
    assert_eq!(
        count(&store, history).await,
        1,
        "the older record is not the latest"
    );
    let latest: String = sqlx::query_scalar(
        "SELECT raw_json FROM token_snapshots WHERE token_id = 'oar1' ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert!(latest.contains(r#""v":2"#), "{latest}");
}

#[sqlx::test(migrations = "./migrations")]
async fn a_sighting_older_than_the_listing_that_found_the_token_gone_keeps_it_gone(
    pool: sqlx::SqlitePool,
) {
    let store = Store::from_pool(pool).await.unwrap();
    let t1 = Utc::now();
    let (t2, t3) = (t1 + Duration::seconds(2), t1 + Duration::seconds(4));
    store
        .record_page(None, &[obs("oar1", "{}", "[]")], t1)
        .await
        .unwrap();
    assert_eq!(store.mark_gone("00u1", "0oa1", t3, t3).await.unwrap(), 1);
    // A page fetched at t2, before the listing found the token gone, commits after it.
    store
        .record_page(None, &[obs("oar1", "{}", "[]")], t2)
        .await
        .unwrap();

    let row = store.token("oar1").await.unwrap().unwrap();
    assert_eq!(row.gone_at, Some(ts(t3)), "still gone");
    let open = "SELECT COUNT(*) FROM token_absences WHERE token_id = 'oar1' AND back_at IS NULL";
    assert_eq!(count(&store, open).await, 1, "its absence is still open");
    // Seen after the listing that found it gone: back.
    store
        .record_page(None, &[obs("oar1", "{}", "[]")], t3 + Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(store.token("oar1").await.unwrap().unwrap().gone_at, None);
    assert_eq!(count(&store, open).await, 0);
}

#[sqlx::test(migrations = "./migrations")]
async fn a_sweeps_late_sighting_still_leaves_the_rules_it_decided(pool: sqlx::SqlitePool) {
    let store = Store::from_pool(pool).await.unwrap();
    let t1 = Utc::now();
    let t2 = t1 + Duration::seconds(2);
    let sweep = store
        .begin_sweep(Trigger::Schedule, Mode::DryRun, t1, "test")
        .await
        .unwrap();
    // An offboarding's page, seen at t2 (keeping the rules no sweep had matched yet), commits
    // before the sweep's page, seen at t1, whose sweep decided the token matches a rule now.
    store
        .record_page_keeping_rules(vec![obs("oar1", "{}", "")], t2)
        .await
        .unwrap();
    let decided = obs("oar1", "{}", r#"["admin-7d"]"#);
    store
        .record_page(Some(sweep), &[decided], t1)
        .await
        .unwrap();

    let row = store.token("oar1").await.unwrap().unwrap();
    assert_eq!(
        row.policy_matches, r#"["admin-7d"]"#,
        "the sweep's decision stands"
    );
    assert_eq!(row.last_seen_at, ts(t2), "the later sighting stands");
}

#[sqlx::test(migrations = "./migrations")]
async fn a_new_token_listed_twice_alike_in_one_page_gets_one_snapshot(pool: sqlx::SqlitePool) {
    let store = Store::from_pool(pool).await.unwrap();
    let twice = [
        obs("oar1", r#"{"v":1}"#, "[]"),
        obs("oar1", r#"{"v":1}"#, "[]"),
    ];
    store.record_page(None, &twice, Utc::now()).await.unwrap();

    let history = "SELECT COUNT(*) FROM token_snapshots WHERE token_id = 'oar1'";
    assert_eq!(count(&store, history).await, 1, "the same record once");
}
