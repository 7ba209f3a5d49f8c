//! Tests of the observation writer ([`Store::ingest`]): grouping, ordering, reappeared
//! tokens, failure, and the WAL starting over.

use chrono::{DateTime, Duration, Utc};

use super::tokens::observation as obs;
use super::{
    Fault, PrintWrite, Store, StoreOptions, TargetOutcome, TargetResult, TokenObservation, ts,
};

fn closing(user: &str, at: DateTime<Utc>) -> TargetResult {
    TargetResult {
        user_id: user.into(),
        client_id: "0oa1".into(),
        source: super::TargetSource::Config,
        outcome: TargetOutcome::Ok,
        error: None,
        polled_at: at,
    }
}

async fn present(store: &Store, user: &str) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT token_id FROM tokens WHERE user_id = ? AND gone_at IS NULL ORDER BY token_id",
    )
    .bind(user)
    .fetch_all(store.pool())
    .await
    .unwrap()
}

#[sqlx::test(migrations = "./migrations")]
async fn interleaved_targets_are_written_whole_and_each_close_marks_only_its_own_pair(
    pool: sqlx::SqlitePool,
) {
    let store = Store::from_pool(pool).await.unwrap();
    let t0 = Utc::now() - Duration::minutes(5);
    let old = [obs("00uA", "oarAold", "{}"), obs("00uB", "oarBold", "{}")];
    store.record_page(None, &old, t0).await.unwrap();

    let ingest = store.ingest().await.unwrap();
    let start = Utc::now();
    let page = |user: &str, ids: &[&str]| -> Vec<TokenObservation> {
        ids.iter().map(|id| obs(user, id, r#"{"v":1}"#)).collect()
    };
    let now = start + Duration::seconds(1);
    let mut writes = vec![
        ingest
            .page(None, page("00uA", &["oarA2", "oarA1"]), now)
            .await
            .unwrap(),
        ingest
            .page(None, page("00uB", &["oarB1"]), now)
            .await
            .unwrap(),
        ingest
            .finish_target(Some(start), closing("00uA", now), PrintWrite::Nothing)
            .await
            .unwrap(),
    ];
    // Pair B's closing waits for its second page, sent after pair A closed.
    let later = now + Duration::seconds(1);
    writes.push(
        ingest
            .page(None, page("00uB", &["oarB2"]), later)
            .await
            .unwrap(),
    );
    writes.push(
        ingest
            .finish_target(Some(start), closing("00uB", later), PrintWrite::Nothing)
            .await
            .unwrap(),
    );
    for write in writes {
        assert!(write.committed().await.unwrap().is_empty());
    }
    ingest.close().await;

    assert_eq!(present(&store, "00uA").await, ["oarA1", "oarA2"]);
    assert_eq!(present(&store, "00uB").await, ["oarB1", "oarB2"]);
    let snapshots: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM token_snapshots")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(snapshots, 2 + 4);
    let b2_seen: String =
        sqlx::query_scalar("SELECT observed_at FROM token_snapshots WHERE token_id = 'oarB2'")
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert_eq!(b2_seen, ts(later), "each row keeps its own page's time");
    let targets: Vec<(String, String)> =
        sqlx::query_as("SELECT user_id, last_result FROM targets ORDER BY user_id")
            .fetch_all(store.pool())
            .await
            .unwrap();
    assert_eq!(
        targets,
        [("00uA".into(), "ok".into()), ("00uB".into(), "ok".into())]
    );
}

#[sqlx::test(migrations = "./migrations")]
async fn a_revoked_token_listed_again_is_answered_to_the_page_that_listed_it(
    pool: sqlx::SqlitePool,
) {
    let store = Store::from_pool(pool).await.unwrap();
    let t0 = Utc::now() - Duration::minutes(5);
    store
        .record_page(None, &[obs("00uA", "oarBack", "{}")], t0)
        .await
        .unwrap();
    store.mark_revoked("oarBack", t0).await.unwrap();

    let ingest = store.ingest().await.unwrap();
    let now = Utc::now();
    let mut inactive = obs("00uB", "oarOther", "{}");
    inactive.status = Some("REVOKED".into());
    let quiet = ingest.page(None, vec![inactive], now).await.unwrap();
    let listing = vec![obs("00uA", "oarNew", "{}"), obs("00uA", "oarBack", "{}")];
    let loud = ingest.page(None, listing, now).await.unwrap();
    // The same token on an earlier page of the batch, not ACTIVE there: not that page's news.
    let mut suspended = obs("00uA", "oarBack", "{}");
    suspended.status = Some("SUSPENDED".into());
    let earlier = now - Duration::seconds(1);
    let old_news = ingest.page(None, vec![suspended], earlier).await.unwrap();
    assert!(quiet.committed().await.unwrap().is_empty());
    assert_eq!(loud.committed().await.unwrap(), ["oarBack"]);
    assert!(old_news.committed().await.unwrap().is_empty());
    ingest.close().await;
    let reappeared: Option<String> =
        sqlx::query_scalar("SELECT reappeared_at FROM tokens WHERE token_id = 'oarBack'")
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert_eq!(reappeared, Some(ts(now)));
}

#[tokio::test]
async fn the_wal_starts_over_while_the_writer_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("wal.db");
    let store = Store::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let ingest = store.ingest().await.unwrap();
    let raw = "x".repeat(2_000);
    // Three times what the WAL may hold: a WAL that grew with the data would show it.
    let (pages, per_page) = (120, 50);
    for p in 0..pages {
        let rows = (0..per_page)
            .map(|i| obs("00uA", &format!("oar{p:03}{i:03}"), &raw))
            .collect();
        // One commit per page: each is answered before the next is sent.
        let write = ingest.page(None, rows, Utc::now()).await.unwrap();
        write.committed().await.unwrap();
    }
    ingest.close().await;
    let written = (pages * per_page * raw.len()) as u64;
    let wal = std::fs::metadata(dir.path().join("wal.db-wal"))
        .unwrap()
        .len();
    assert!(
        wal < written / 4,
        "the WAL grew with the data: {wal} bytes for {written} written"
    );
    assert_eq!(present(&store, "00uA").await.len(), pages * per_page);
}

#[tokio::test]
async fn a_failed_transaction_fails_its_pages_and_every_later_send_with_its_fault() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("full.db").display());
    let store = Store::connect(&url).await.unwrap();
    let pages: i64 = sqlx::query_scalar("PRAGMA page_count")
        .fetch_one(store.pool())
        .await
        .unwrap();
    store.close().await;
    let room = (u64::try_from(pages).unwrap() + 4) * crate::store::PAGE_SIZE;
    let options = StoreOptions {
        max_size: Some(room),
        ..StoreOptions::default()
    };
    let store = Store::connect_with(&url, &options).await.unwrap();

    let ingest = store.ingest().await.unwrap();
    let raw = "x".repeat(2_000);
    let big: Vec<_> = (0..200)
        .map(|i| obs("00uA", &format!("oar{i:04}"), &raw))
        .collect();
    let page = ingest.page(None, big, Utc::now()).await.unwrap();
    let e = page.committed().await.unwrap_err();
    assert_eq!(e.fault(), Some(Fault::Full), "{e}");
    let later = match ingest
        .page(None, vec![obs("00uA", "oarLate", "{}")], Utc::now())
        .await
    {
        Ok(pending) => pending.committed().await.unwrap_err(),
        Err(e) => e,
    };
    assert_eq!(later.fault(), Some(Fault::Full), "{later}");
    ingest.close().await;
    assert!(
        present(&store, "00uA").await.is_empty(),
        "nothing half-written"
    );
}

/// sqlx 0.8's pool maintenance task (started by an idle timeout or a lifetime) can be left
/// spinning by a race between returning and taking a connection: the store's pool has none.
#[tokio::test]
async fn the_stores_pool_starts_no_maintenance_task() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("p.db").display());
    let store = Store::connect(&url).await.unwrap();
    let options = store.pool().options();
    let settings = (
        options.get_idle_timeout(),
        options.get_max_lifetime(),
        options.get_min_connections(),
    );
    assert_eq!(settings, (None, None, 0));
    store.close().await;
}
