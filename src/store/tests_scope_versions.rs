//! Tests of the scope catalog's versions: a snapshot shows each scope item as Okta sent it
//! when the snapshot was taken, also when an item changed and changed back.

use chrono::{Duration, Utc};

use super::Store;
use super::tokens::{ObservedRecord, TokenObservation};

/// A new token whose one scope item carries `description`.
fn holding(id: &str, description: &str) -> TokenObservation {
    let raw = format!(
        r#"{{"id":"{id}","status":"ACTIVE","issuer":"https://o/oauth2/aus1","scopes":["openid"],"_embedded":{{"scopes":[{{"id":"scp1","name":"openid","description":"{description}"}}]}}}}"#
    );
    TokenObservation {
        record: ObservedRecord::Sent(raw),
        ..super::tests_tokens::obs(id, "{}")
    }
}

/// The scope item each token's snapshot shows, by token.
async fn shown(store: &Store) -> Vec<(String, String)> {
    sqlx::query_as(
        "SELECT token_id, okta_json -> '$._embedded.scopes[0]' ->> 'description'
           FROM v_token_records ORDER BY token_id",
    )
    .fetch_all(store.pool())
    .await
    .unwrap()
}

#[sqlx::test(migrations = "./migrations")]
async fn an_item_changed_and_changed_back_shows_as_sent_at_each_snapshot(pool: sqlx::SqlitePool) {
    let store = Store::from_pool(pool).await.unwrap();
    let t1 = Utc::now();
    let (t2, t3) = (t1 + Duration::seconds(10), t1 + Duration::seconds(20));
    // An admin edits the scope's description, then reverts it.
    for (id, description, at) in [
        ("oar1", "Sign in", t1),
        ("oar2", "Edited", t2),
        ("oar3", "Sign in", t3),
    ] {
        store
            .record_page(None, &[holding(id, description)], at)
            .await
            .unwrap();
    }
    // Within one batch too: pages of three instants written together.
    let (t4, t5, t6) = (
        t3 + Duration::seconds(10),
        t3 + Duration::seconds(20),
        t3 + Duration::seconds(30),
    );
    let ingest = store.ingest().await.unwrap();
    let mut sent = Vec::new();
    for (id, description, at) in [
        ("oar4", "Edited", t4),
        ("oar5", "Sign in", t5),
        ("oar6", "Edited", t6),
    ] {
        sent.push(
            ingest
                .page(None, vec![holding(id, description)], at)
                .await
                .unwrap(),
        );
    }
    ingest.close().await;
    for page in sent {
        page.committed().await.unwrap();
    }

    let want = [
        ("oar1", "Sign in"),
        ("oar2", "Edited"),
        ("oar3", "Sign in"),
        ("oar4", "Edited"),
        ("oar5", "Sign in"),
        ("oar6", "Edited"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(t, d)| ((*t).into(), (*d).into()))
        .collect();
    assert_eq!(shown(&store).await, want);
}
