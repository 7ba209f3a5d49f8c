//! Pair listing fingerprints in the store: read with the pair's count of changes, written
//! only when every change since the listing began was the writer's own, `seen_at` moved only
//! while a fingerprint holds.
use super::pair_listings::*;
use super::{Store, SweepStatus, TargetOutcome, TargetResult, ts};
use crate::config::Mode;
use crate::store::{
    NewRevocation, PrintWrite, RevocationState, RevocationTrigger, SweepCounts, TargetSource,
    Trigger,
};
use chrono::{DateTime, Utc};

fn listing(user: &str, pages: Vec<u128>, at: DateTime<Utc>) -> UnchangedListing {
    UnchangedListing {
        result: TargetResult {
            user_id: user.into(),
            client_id: "0oa1".into(),
            source: TargetSource::Config,
            outcome: TargetOutcome::Ok,
            error: None,
            polled_at: at,
        },
        pages,
        at,
    }
}

/// A finished sweep's fingerprint of `00uA`/`0oa1` and `00uB`/`0oa1`, pages `[1, 2]`; the
/// sweep's id.
async fn two_prints(store: &Store, at: DateTime<Utc>) -> i64 {
    let sweep = (store
        .begin_sweep(Trigger::Cli, Mode::DryRun, at, "test")
        .await)
        .unwrap();
    let print = ListingPrint {
        pages: vec![1, 2],
        policy: 7,
        mode: Mode::DryRun,
        decided_at: at,
        stable_until: None,
        tally: "{}".into(),
    };
    let mut conn = store.pool.acquire().await.unwrap().detach();
    count_own_changes(&mut conn).await.unwrap();
    for user in ["00uA", "00uB"] {
        write_print(&mut conn, (user, "0oa1"), sweep, &print, 0, 0)
            .await
            .unwrap();
    }
    drop(conn);
    let ok = SweepStatus::Ok;
    let counts = SweepCounts::default();
    store
        .finish_sweep_noting(sweep, ok, &counts, None, None, at)
        .await
        .unwrap();
    sweep
}

#[sqlx::test(migrations = "./migrations")]
async fn an_unchanged_listing_moves_seen_at_only_while_its_fingerprint_holds(
    pool: sqlx::SqlitePool,
) {
    let store = Store::from_pool(pool).await.unwrap();
    let at = Utc::now();
    two_prints(&store, at).await;
    let pairs = [("00uA", "0oa1"), ("00uB", "0oa1"), ("00uC", "0oa1")];
    let known = store.known_listings(&pairs).await.unwrap();
    assert_eq!(
        known[0].print.as_ref().map(|k| k.pages.clone()),
        Some(vec![1, 2])
    );
    assert!(known[1].print.is_some() && known[2].print.is_none());

    let later = at + chrono::Duration::minutes(5);
    // `00uB`'s pages no longer match what its fingerprint holds (it was cleared and
    // written again meanwhile): its `seen_at` stays, its `targets` row is written.
    let listings = [
        listing("00uA", vec![1, 2], later),
        listing("00uB", vec![1, 3], later),
    ];
    store.record_unchanged(&listings).await.unwrap();
    let seen: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT p.user_id, l.seen_at FROM pair_listings l
         JOIN token_pairs p ON p.id = l.pair_id ORDER BY p.user_id",
    )
    .fetch_all(&store.pool)
    .await
    .unwrap();
    assert_eq!(
        seen,
        [("00uA".into(), Some(ts(later))), ("00uB".into(), None)]
    );
    let polled: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM targets WHERE last_polled_at = ?")
        .bind(ts(later))
        .fetch_one(&store.pool)
        .await
        .unwrap();
    assert_eq!(polled, 2);
}

#[sqlx::test(migrations = "./migrations")]
async fn a_fingerprint_of_a_sweep_not_finished_cleanly_is_not_trusted(pool: sqlx::SqlitePool) {
    let store = Store::from_pool(pool).await.unwrap();
    let at = Utc::now();
    two_prints(&store, at).await;
    sqlx::query("UPDATE sweeps SET error = 'the guard tripped'")
        .execute(&store.pool)
        .await
        .unwrap();
    let known = store.known_listings(&[("00uA", "0oa1")]).await.unwrap();
    assert!(known[0].print.is_none());
}

#[test]
fn pages_round_trip_as_sixteen_bytes_each() {
    let pages = vec![1u128, u128::MAX, 0x0102_0304];
    let blob = pages_blob(&pages);
    assert_eq!(blob.len(), 48);
    assert_eq!(pages_of(&blob), Some(pages));
    assert_eq!(pages_of(&blob[..47]), None);
    assert_eq!(pages_of(&[]), Some(Vec::new()));
}

/// A listing of `00uA`/`0oa1` that wrote one token through the writer, then closed with a
/// fingerprint counted from `changes`; `meanwhile` runs between the page and the close.
async fn listing_with(store: &Store, changes: i64, meanwhile: &str) -> bool {
    let at = Utc::now();
    let sweep = (store
        .begin_sweep(Trigger::Cli, Mode::DryRun, at, "test")
        .await)
        .unwrap();
    let ingest = store.ingest().await.unwrap();
    let row = super::tokens::observation("00uA", "oarT", "{}");
    ingest
        .page(Some(sweep), vec![row], at)
        .await
        .unwrap()
        .committed()
        .await
        .unwrap();
    if !meanwhile.is_empty() {
        sqlx::query(meanwhile).execute(store.pool()).await.unwrap();
    }
    let print = ListingPrint {
        pages: vec![9],
        policy: 7,
        mode: Mode::DryRun,
        decided_at: at,
        stable_until: None,
        tally: "{}".into(),
    };
    let result = listing("00uA", vec![9], at).result;
    let write = PrintWrite::Print {
        sweep_id: sweep,
        print,
        changes,
        tokens: 1,
    };
    ingest
        .finish_target(Some(at), result, write)
        .await
        .unwrap()
        .committed()
        .await
        .unwrap();
    ingest.close().await;
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pair_listings WHERE pages IS NOT NULL")
        .fetch_one(store.pool())
        .await
        .unwrap();
    n == 1
}

#[sqlx::test(migrations = "./migrations")]
async fn a_change_made_during_a_listing_by_another_writer_leaves_no_fingerprint(
    pool: sqlx::SqlitePool,
) {
    let store = Store::from_pool(pool).await.unwrap();
    assert!(
        listing_with(&store, 0, "").await,
        "the listing's own writes count as its own"
    );
    let store2 = store.clone();
    let revoke = "UPDATE token_state SET revoked_at = '2026-01-01T00:00:00.000Z'";
    // The pair's count was 1 when this second listing began: it wrote nothing new itself.
    assert!(listing_with(&store2, 1, "").await);
    assert!(
        !listing_with(&store2, 1, revoke).await,
        "a revocation it did not see"
    );
}

/// How many of the pairs' fingerprints stand (`pages` not cleared).
async fn standing_prints(store: &Store) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM pair_listings WHERE pages IS NOT NULL")
        .fetch_one(store.pool())
        .await
        .unwrap()
}

#[sqlx::test(migrations = "./migrations")]
async fn a_plan_recorded_by_another_sweep_clears_the_pairs_fingerprint(pool: sqlx::SqlitePool) {
    let store = Store::from_pool(pool).await.unwrap();
    let at = Utc::now();
    let own = two_prints(&store, at).await;
    let other = (store
        .begin_sweep(Trigger::Cli, Mode::DryRun, at, "test")
        .await)
        .unwrap();
    let record = |sweep: i64, state: RevocationState, user: &str| NewRevocation {
        sweep_id: Some(sweep),
        policy: Some("rule".into()),
        ..NewRevocation::new(
            Some(format!("oar{user}")),
            user,
            "0oa1",
            RevocationTrigger::Policy,
            Mode::DryRun,
            state,
            ts(at),
        )
    };
    // The fingerprint's own sweep records its plans; another's guard records no plan.
    store
        .append_revocation(&record(own, RevocationState::Planned, "00uA"))
        .await
        .unwrap();
    let safety = RevocationState::SkippedSafety;
    store
        .append_revocation(&record(other, safety, "00uA"))
        .await
        .unwrap();
    assert_eq!(standing_prints(&store).await, 2);
    // Another sweep withdraws a plan of `00uB`: its fingerprint goes, and the change counts.
    let withdrawn = RevocationState::Withdrawn;
    store
        .append_revocation(&record(other, withdrawn, "00uB"))
        .await
        .unwrap();
    assert_eq!(standing_prints(&store).await, 1);
    let known = store
        .known_listings(&[("00uA", "0oa1"), ("00uB", "0oa1")])
        .await
        .unwrap();
    assert!(known[0].print.is_some() && known[1].print.is_none());
    assert_eq!((known[0].changes, known[1].changes), (0, 1));
}

#[sqlx::test(migrations = "./migrations")]
async fn the_writer_counts_its_own_changes_as_every_change_is_counted(pool: sqlx::SqlitePool) {
    let store = Store::from_pool(pool).await.unwrap();
    let mut conn = store.pool.acquire().await.unwrap().detach();
    count_own_changes(&mut conn).await.unwrap();
    sqlx::query(
        "INSERT INTO tokens (token_id, user_id, client_id, first_seen_at, last_seen_at)
         VALUES ('oar1', '00uA', '0oa1', 'a', 'a'), ('oar2', '00uB', '0oa1', 'a', 'a')",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let columns: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM pragma_table_info('token_state') WHERE name NOT IN ('token_id', 'pair_id')",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert!(columns.len() > 10, "{columns:?}");
    for column in &columns {
        let sql = format!("UPDATE token_state SET {column} = 'x{column}' WHERE token_id = 'oar1'");
        sqlx::query(&sql).execute(&mut conn).await.unwrap();
    }
    // A token moved to another pair counts for both.
    sqlx::query("UPDATE token_state SET pair_id = (SELECT pair_id FROM token_state WHERE token_id = 'oar2') WHERE token_id = 'oar1'")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query("DELETE FROM token_state WHERE token_id = 'oar2'")
        .execute(&mut conn)
        .await
        .unwrap();
    let counts: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT c.n, COALESCE(o.n, -1) FROM pair_changes c
         LEFT JOIN temp.own_changes o ON o.pair_id = c.pair_id ORDER BY c.pair_id",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    // `last_seen_at` alone changes nothing: every other column, the insert, the move and the
    // delete count once each.
    let updated = columns.len() as i64 - 1;
    assert_eq!(
        counts,
        [(1 + updated + 1, 1 + updated + 1), (1 + 1 + 1, 1 + 1 + 1)]
    );
}

/// Token `id` of `00uA`/`0oa1` as written by a page observed at `at`, through the writer.
async fn write_tokens(store: &Store, sweep: Option<i64>, ids: &[&str], at: DateTime<Utc>) {
    let ingest = store.ingest().await.unwrap();
    let rows = (ids.iter())
        .map(|id| super::tokens::observation("00uA", id, "{}"))
        .collect();
    let page = ingest.page(sweep, rows, at).await.unwrap();
    page.committed().await.unwrap();
    ingest.close().await;
}

#[sqlx::test(migrations = "./migrations")]
async fn a_token_another_writer_saw_while_a_listing_missed_it_leaves_no_fingerprint(
    pool: sqlx::SqlitePool,
) {
    let store = Store::from_pool(pool).await.unwrap();
    let minutes = |n: i64| Utc::now() - chrono::Duration::minutes(60 - n);
    write_tokens(&store, None, &["oarT", "oarX"], minutes(0)).await;
    let changes: i64 = sqlx::query_scalar("SELECT n FROM pair_changes")
        .fetch_one(store.pool())
        .await
        .unwrap();
    // A listing begins at 10; another writer sees X unchanged at 11 (only its `last_seen_at`
    // moves); X is then revoked out of band, before the listing's pages reach it.
    let started = minutes(10);
    sqlx::query("UPDATE token_state SET last_seen_at = ? WHERE token_id = 'oarX'")
        .bind(ts(minutes(11)))
        .execute(store.pool())
        .await
        .unwrap();
    let sweep = (store
        .begin_sweep(Trigger::Cli, Mode::DryRun, started, "test")
        .await)
        .unwrap();
    write_tokens(&store, Some(sweep), &["oarT"], minutes(12)).await;
    let print = ListingPrint {
        pages: vec![5],
        policy: 7,
        mode: Mode::DryRun,
        decided_at: started,
        stable_until: None,
        tally: "{}".into(),
    };
    let ingest = store.ingest().await.unwrap();
    let write = PrintWrite::Print {
        sweep_id: sweep,
        print,
        changes,
        tokens: 1,
    };
    let result = listing("00uA", vec![5], minutes(13)).result;
    let done = ingest.finish_target(Some(started), result, write).await;
    done.unwrap().committed().await.unwrap();
    ingest.close().await;
    assert_eq!(
        standing_prints(&store).await,
        0,
        "X is not gone, and the listing did not list it: its pages are not the pair's"
    );
    // So the next listing reads the pair whole, and, X still absent, marks it gone.
    let ingest = store.ingest().await.unwrap();
    let result = listing("00uA", vec![5], minutes(21)).result;
    let done = ingest.finish_target(Some(minutes(20)), result, PrintWrite::Nothing);
    done.await.unwrap().committed().await.unwrap();
    ingest.close().await;
    let gone: Option<String> =
        sqlx::query_scalar("SELECT gone_at FROM token_state WHERE token_id = 'oarX'")
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert!(gone.is_some());
}
