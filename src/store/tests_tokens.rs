//! Tests of the `tokens` table: observations upserted, snapshots by change, absences and
//! revocations.

use chrono::{Duration, Utc};

use super::tokens::TokenObservation;
use super::{Store, ts};

fn obs(id: &str, raw: &str) -> TokenObservation {
    TokenObservation {
        token_id: id.into(),
        user_id: "00u1".into(),
        client_id: "0oa1".into(),
        issuer: Some("https://o/oauth2/aus1".into()),
        status: Some("ACTIVE".into()),
        scopes_json: r#"["offline_access"]"#.into(),
        created_at: Some("2026-01-01T00:00:00.000Z".into()),
        last_updated_at: Some("2026-02-01T00:00:00.000Z".into()),
        expires_at: None,
        raw_json: raw.into(),
        scope_records: Vec::new(),
        policy_matches: "[]".into(),
    }
}

/// A store that has seen tokens `oar1` and `oar2` of one pair, and when.
async fn two_tokens_seen(pool: sqlx::SqlitePool) -> (Store, chrono::DateTime<Utc>) {
    let store = Store::from_pool(pool).await.unwrap();
    let t0 = Utc::now();
    store
        .record_page(None, &[obs("oar1", "{}"), obs("oar2", "{}")], t0)
        .await
        .unwrap();
    (store, t0)
}

#[sqlx::test(migrations = "./migrations")]
async fn pages_upsert_tokens_append_snapshots_and_absent_tokens_become_gone(
    pool: sqlx::SqlitePool,
) {
    let (store, t0) = two_tokens_seen(pool).await;
    let t1 = t0 + Duration::seconds(10);
    let mut changed = obs("oar1", r#"{"v":2}"#);
    changed.scopes_json = r#"["openid"]"#.into();
    store.record_page(None, &[changed], t1).await.unwrap();
    assert_eq!(store.mark_gone("00u1", "0oa1", t1, t1).await.unwrap(), 1);

    let rows = store.tokens_of_pair("00u1", "0oa1").await.unwrap();
    assert_eq!(rows[0].first_seen_at, ts(t0));
    assert_eq!(rows[0].last_seen_at, ts(t1));
    assert_eq!(rows[0].scopes, r#"["openid"]"#);
    assert_eq!(rows[0].gone_at, None);
    assert_eq!(rows[1].gone_at, Some(ts(t1)));
    let snapshots: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM token_snapshots WHERE token_id = 'oar1'")
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert_eq!(snapshots, 2);
    // Seen again: no longer gone.
    store
        .record_page(None, &[obs("oar2", "{}")], t1 + Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(store.present_tokens().await.unwrap().len(), 2);
}

#[sqlx::test(migrations = "./migrations")]
async fn a_listing_older_than_the_revocation_neither_flags_nor_revives_the_token(
    pool: sqlx::SqlitePool,
) {
    let store = Store::from_pool(pool).await.unwrap();
    let t0 = Utc::now() - Duration::minutes(10);
    store
        .record_page(None, &[obs("oar1", "{}")], t0)
        .await
        .unwrap();
    let revoked = t0 + Duration::minutes(2);
    store.mark_revoked("oar1", revoked).await.unwrap();
    // Fetched before the revocation, written after it.
    let stale = t0 + Duration::minutes(1);
    let back = store
        .record_page(None, &[obs("oar1", "{}")], stale)
        .await
        .unwrap();
    assert!(back.is_empty());
    let row = &store.tokens_of_pair("00u1", "0oa1").await.unwrap()[0];
    assert_eq!(
        (row.gone_at.clone(), row.reappeared_at.clone()),
        (Some(ts(revoked)), None)
    );
    // Listed ACTIVE after the revocation: back, and present again.
    let later = t0 + Duration::minutes(3);
    let back = store
        .record_page(None, &[obs("oar1", "{}")], later)
        .await
        .unwrap();
    assert_eq!(back, ["oar1"]);
    let row = &store.tokens_of_pair("00u1", "0oa1").await.unwrap()[0];
    assert_eq!(
        (row.gone_at.clone(), row.reappeared_at.clone()),
        (None, Some(ts(later)))
    );
}

#[sqlx::test(migrations = "./migrations")]
async fn revoked_and_gone_tokens_are_told_apart(pool: sqlx::SqlitePool) {
    let (store, t0) = two_tokens_seen(pool).await;
    store.mark_revoked("oar1", t0).await.unwrap();
    store.mark_token_gone("oar2", t0).await.unwrap();
    let back = store
        .record_page(
            None,
            &[obs("oar1", "{}"), obs("oar2", "{}")],
            t0 + Duration::seconds(1),
        )
        .await
        .unwrap();
    assert_eq!(
        back,
        vec!["oar1".to_owned()],
        "only the revoked token is flagged as back"
    );
    store.mark_token_gone("oar1", t0).await.unwrap();
    store.mark_token_gone("oar2", t0).await.unwrap();
    let rows = store.tokens_of_pair("00u1", "0oa1").await.unwrap();
    assert_eq!(
        (
            rows[0].revoked_by.as_deref(),
            rows[0].revoked_at.clone(),
            rows[0].gone_at.clone()
        ),
        (Some("revokd"), Some(ts(t0)), Some(ts(t0)))
    );
    assert_eq!(
        (
            rows[1].revoked_by.as_deref(),
            rows[1].revoked_at.clone(),
            rows[1].gone_at.clone()
        ),
        (None, None, Some(ts(t0)))
    );
    assert!(store.present_tokens().await.unwrap().is_empty());
}

#[sqlx::test(migrations = "./migrations")]
async fn a_token_listed_twice_in_a_page_is_one_token_with_two_snapshots(pool: sqlx::SqlitePool) {
    let store = Store::from_pool(pool).await.unwrap();
    let mut again = obs("oar1", r#"{"v":2}"#);
    again.scopes_json = r#"["openid"]"#.into();
    let page = [obs("oar1", r#"{"v":1}"#), obs("oar2", "{}"), again];
    store.record_page(None, &page, Utc::now()).await.unwrap();
    let rows = store.tokens_of_pair("00u1", "0oa1").await.unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        rows[0].scopes, r#"["openid"]"#,
        "the later observation wins"
    );
    let raw: Vec<String> = sqlx::query_scalar(
        "SELECT raw_json FROM token_snapshots WHERE token_id = 'oar1' ORDER BY id",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    assert_eq!(raw, [r#"{"v":1}"#, r#"{"v":2}"#]);
}

#[sqlx::test(migrations = "./migrations")]
async fn a_page_larger_than_one_insert_chunk_is_stored_whole(pool: sqlx::SqlitePool) {
    let store = Store::from_pool(pool).await.unwrap();
    let ids: Vec<String> = (0..1_201).map(|i| format!("oar{i:05}")).collect();
    let page: Vec<_> = ids.iter().map(|id| obs(id, "{}")).collect();
    store.record_page(None, &page, Utc::now()).await.unwrap();
    assert_eq!(store.present_tokens().await.unwrap().len(), 1_201);
}
