//! Tests of what is known of each token (`tokens`, stored in `token_state`): observations
//! upserted, snapshots by change, absences and revocations.

use chrono::{Duration, Utc};

use super::tokens::{ObservedRecord, TokenObservation};
use super::{Store, ts};

/// An ACTIVE token of pair `00u1`/`0oa1` whose record is `raw`, matching no rule.
pub(super) fn obs(id: &str, raw: &str) -> TokenObservation {
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
        record: ObservedRecord::split_json(raw),
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

/// `oar1` as Okta sends it, with its `_links` pointing at `link`.
fn sent(status: &str, link: &str) -> TokenObservation {
    let mut o = obs("oar1", "");
    o.record = ObservedRecord::Sent(format!(
        r#"{{"id":"oar1","status":"{status}","_embedded":{{"scopes":[{{"id":"scp1","name":"openid"}}]}},"_links":{{"self":{{"href":"{link}"}}}}}}"#
    ));
    o
}

/// `(snapshots of oar1, its item hash, its last_seen_at)`.
async fn item_state(store: &Store) -> (i64, Option<Vec<u8>>, String) {
    let snapshots =
        sqlx::query_scalar("SELECT COUNT(*) FROM token_snapshots WHERE token_id = 'oar1'")
            .fetch_one(store.pool())
            .await
            .unwrap();
    let (hash, seen) =
        sqlx::query_as("SELECT item_hash, last_seen_at FROM tokens WHERE token_id = 'oar1'")
            .fetch_one(store.pool())
            .await
            .unwrap();
    (snapshots, hash, seen)
}

/// Records `o` at `at`; returns [`item_state`] after it.
async fn observe(
    store: &Store,
    o: &TokenObservation,
    at: chrono::DateTime<Utc>,
) -> (i64, Option<Vec<u8>>, String) {
    store
        .record_page(None, std::slice::from_ref(o), at)
        .await
        .unwrap();
    item_state(store).await
}

#[sqlx::test(migrations = "./migrations")]
async fn an_item_as_sent_is_split_only_when_its_bytes_differ(pool: sqlx::SqlitePool) {
    let store = Store::from_pool(pool).await.unwrap();
    let at = |s: i64| Utc::now() + Duration::seconds(s);
    let hash = |o: &TokenObservation| o.record.item_hash().map(Vec::from);
    let first = sent("ACTIVE", "https://o/a");
    let (t0, t1, t2) = (at(0), at(1), at(2));
    assert_eq!(observe(&store, &first, t0).await, (1, hash(&first), ts(t0)));
    // The same bytes again: no snapshot, only last_seen_at moves.
    assert_eq!(observe(&store, &first, t1).await, (1, hash(&first), ts(t1)));

    // A database from before item hashes: the record's fingerprint still tells it unchanged,
    // and the hash is filled in.
    sqlx::query("UPDATE tokens SET item_hash = NULL")
        .execute(store.pool())
        .await
        .unwrap();
    assert_eq!(observe(&store, &first, t2).await, (1, hash(&first), ts(t2)));

    // Other `_links`, same record: no snapshot, the new item's hash kept.
    let relinked = sent("ACTIVE", "https://o/b");
    let t3 = at(3);
    assert_eq!(
        observe(&store, &relinked, t3).await,
        (1, hash(&relinked), ts(t3))
    );

    // A changed record: a snapshot, split as ever.
    let revoked = sent("REVOKED", "https://o/b");
    let t4 = at(4);
    assert_eq!(
        observe(&store, &revoked, t4).await,
        (2, hash(&revoked), ts(t4))
    );
    let raw: String = sqlx::query_scalar(
        "SELECT raw_json FROM token_snapshots WHERE token_id = 'oar1' ORDER BY id DESC LIMIT 1",
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!(
        raw,
        r#"{"id":"oar1","status":"REVOKED","_embedded":{"scopes":["scp1"]}}"#
    );

    // A record written already split forgets the item hash, so the old item as sent is
    // compared by its record again, and found changed.
    let (t5, t6) = (at(5), at(6));
    assert_eq!(
        observe(&store, &obs("oar1", r#"{"v":9}"#), t5).await,
        (3, None, ts(t5))
    );
    assert_eq!(
        observe(&store, &revoked, t6).await,
        (4, hash(&revoked), ts(t6))
    );
}

/// Two pages written in one transaction, observed at different instants, share a scope item:
/// the catalog keeps the item from its earliest sighting, so every snapshot shows it whole.
#[sqlx::test(migrations = "./migrations")]
async fn a_scope_item_is_catalogued_from_its_earliest_sighting_in_a_batch(pool: sqlx::SqlitePool) {
    use super::observations::{Observed, write_observed};
    let store = Store::from_pool(pool).await.unwrap();
    let listed = |id: &str| {
        let mut o = obs(id, "");
        o.record = ObservedRecord::Sent(format!(
            r#"{{"id":"{id}","issuer":"https://o/oauth2/aus1","_embedded":{{"scopes":[{{"id":"scp1","name":"openid"}}]}}}}"#
        ));
        o
    };
    let (a, z) = (listed("oarA"), listed("oarZ"));
    // `oarA` is written first (rows go in id order) but was seen after `oarZ`.
    let (early, late) = ("2026-03-01T00:00:00.000Z", "2026-03-01T00:00:05.000Z");
    let mut rows = [(late, &a), (early, &z)].map(|(seen, token)| Observed {
        sweep_id: None,
        seen,
        token,
    });
    let mut tx = store.pool().begin().await.unwrap();
    write_observed(&mut tx, &mut rows).await.unwrap();
    tx.commit().await.unwrap();
    let shown: Vec<(String, String)> =
        sqlx::query_as("SELECT token_id, okta_json FROM v_token_records ORDER BY token_id")
            .fetch_all(store.pool())
            .await
            .unwrap();
    assert_eq!(shown.len(), 2);
    for (id, json) in shown {
        assert!(
            json.contains(r#""scopes":[{"id":"scp1","name":"openid"}]"#),
            "{id}: {json}"
        );
    }
}

/// A token stored with a 64-bit item hash, as revokd kept it before 128-bit hashes: the
/// integer reads as no hash, so the item is split and compared by its record (unchanged: no
/// snapshot), and the 128-bit hash takes its place. An item that did change still gets its
/// snapshot.
#[sqlx::test(migrations = "./migrations")]
async fn a_64_bit_item_hash_from_before_is_not_taken_for_the_item_s(pool: sqlx::SqlitePool) {
    let store = Store::from_pool(pool).await.unwrap();
    let at = |s: i64| Utc::now() + Duration::seconds(s);
    let hash = |o: &TokenObservation| o.record.item_hash().map(Vec::from);
    let first = sent("ACTIVE", "https://o/a");
    assert_eq!(observe(&store, &first, at(0)).await.0, 1);
    // The integer that item's hash's first eight bytes make: a blob compared by its bytes
    // alone would take it for the same.
    let old = i64::from_le_bytes(hash(&first).unwrap()[..8].try_into().unwrap());
    sqlx::query("UPDATE token_state SET item_hash = ? WHERE token_id = 'oar1'")
        .bind(old)
        .execute(store.pool())
        .await
        .unwrap();
    let (t1, t2) = (at(1), at(2));
    assert_eq!(observe(&store, &first, t1).await, (1, hash(&first), ts(t1)));
    sqlx::query("UPDATE token_state SET item_hash = ? WHERE token_id = 'oar1'")
        .bind(old)
        .execute(store.pool())
        .await
        .unwrap();
    let revoked = sent("REVOKED", "https://o/a");
    assert_eq!(
        observe(&store, &revoked, t2).await,
        (2, hash(&revoked), ts(t2))
    );
}

/// A page longer than the largest statement shape is written whole, through statements of
/// every shape, each row its own.
#[sqlx::test(migrations = "./migrations")]
async fn a_page_larger_than_one_insert_chunk_is_stored_whole(pool: sqlx::SqlitePool) {
    let store = Store::from_pool(pool).await.unwrap();
    let rows: Vec<TokenObservation> = (0..1_201)
        .map(|i| obs(&format!("oar{i:05}"), &format!(r#"{{"n":{i}}}"#)))
        .collect();
    let cuts: Vec<usize> = super::observations::runs(&rows).map(<[_]>::len).collect();
    assert_eq!(cuts, [256, 256, 256, 256, 64, 64, 16, 16, 16, 1]);
    store.record_page(None, &rows, Utc::now()).await.unwrap();
    assert_eq!(store.present_tokens().await.unwrap().len(), 1_201);
    let stored: Vec<(String, String)> =
        sqlx::query_as("SELECT token_id, raw_json FROM token_snapshots ORDER BY token_id")
            .fetch_all(store.pool())
            .await
            .unwrap();
    assert_eq!(stored.len(), 1_201);
    for (i, (id, json)) in stored.iter().enumerate() {
        assert_eq!(
            (id.as_str(), json.as_str()),
            (
                format!("oar{i:05}").as_str(),
                format!(r#"{{"n":{i}}}"#).as_str()
            )
        );
    }
}
