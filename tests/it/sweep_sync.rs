//! A sweep makes the `tokens` table a faithful copy of what the org holds.

use chrono::{DateTime, Utc};
use revokd::config::Mode;
use revokd::sim::SimToken;
use revokd::store::{SweepStatus, TokenRow};

use crate::helpers::{sim_ids, small_org, spawn_app};

fn instant(text: &str) -> DateTime<Utc> {
    assert!(
        text.len() == 24 && text.ends_with('Z'),
        "`{text}` is not ISO-8601 UTC with milliseconds"
    );
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("`{text}`: {e}"))
        .with_timezone(&Utc)
}

fn assert_row_matches(row: &TokenRow, sim: &SimToken) {
    let id = &sim.id;
    assert_eq!(row.user_id, sim.user_id, "{id} user");
    assert_eq!(row.client_id, sim.client_id, "{id} client");
    assert_eq!(
        row.issuer.as_deref(),
        Some(sim.issuer.as_str()),
        "{id} issuer"
    );
    assert_eq!(row.status.as_deref(), Some("ACTIVE"), "{id} status");
    let mut stored: Vec<String> = serde_json::from_str(&row.scopes).expect("scopes are JSON");
    let mut expected = sim.scopes.clone();
    stored.sort();
    expected.sort();
    assert_eq!(stored, expected, "{id} scopes");
    let created = row.created_at.as_deref().expect("created_at");
    assert_eq!(instant(created), sim.created, "{id} created");
    let updated = row.last_updated_at.as_deref().expect("last_updated_at");
    assert_eq!(instant(updated), sim.last_updated, "{id} lastUpdated");
    assert_eq!(
        row.expires_at.as_deref().map(instant),
        sim.expires_at,
        "{id} expiresAt"
    );
    assert_eq!(row.gone_at, None, "{id} is present");
}

#[tokio::test]
async fn a_sweep_stores_every_token_of_every_pair_exactly_as_the_org_holds_it() {
    let app = spawn_app(small_org()).await;
    let pairs = app.org.pairs();
    let sizes: Vec<usize> = pairs
        .iter()
        .map(|(u, c)| app.org.tokens(u, c).len())
        .collect();
    assert!(
        sizes.contains(&0),
        "the seed gives a pair without tokens: {sizes:?}"
    );
    assert!(sizes.iter().any(|n| (1..=3).contains(n)), "{sizes:?}");
    assert!(sizes.iter().any(|n| *n > 200), "{sizes:?}");

    let report = app.sweep(Mode::DryRun).await;

    assert_eq!(report.status, SweepStatus::Ok, "{:?}", report.failures);
    let total: usize = sizes.iter().sum();
    assert_eq!(report.counts.tokens_seen, total as u64);
    for (u, c) in &pairs {
        let sim = app.org.tokens(u, c);
        let rows = app.store.tokens_of_pair(u, c).await.expect("rows");
        assert_eq!(
            rows.iter().map(|r| r.token_id.clone()).collect::<Vec<_>>(),
            sim.iter().map(|t| t.id.clone()).collect::<Vec<_>>(),
            "token ids of {u}:{c}"
        );
        for (row, token) in rows.iter().zip(&sim) {
            assert_row_matches(row, token);
        }
    }
    let snapshots: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM token_snapshots WHERE sweep_id = ?")
            .bind(report.sweep_id)
            .fetch_one(app.store.pool())
            .await
            .expect("count");
    assert_eq!(snapshots, total as i64, "one snapshot per observed token");
}

#[tokio::test]
async fn a_token_the_org_no_longer_has_is_marked_gone_on_the_next_sweep() {
    let app = spawn_app(small_org()).await;
    app.sweep(Mode::DryRun).await;
    let (user, client) = app.big_pair();
    let before = app.org.tokens(&user, &client);
    // Another integration revokes one token behind revokd's back, straight through the API.
    let victim = &before[before.len() / 2];
    app.delete_through_api(&user, &client, &victim.id).await;
    assert_eq!(app.org.tokens(&user, &client).len(), before.len() - 1);

    let report = app.sweep(Mode::DryRun).await;

    assert_eq!(report.status, SweepStatus::Ok);
    let rows = app
        .store
        .tokens_of_pair(&user, &client)
        .await
        .expect("rows");
    assert_eq!(
        rows.len(),
        before.len(),
        "the gone token is kept, not deleted"
    );
    for row in &rows {
        if row.token_id == victim.id {
            let gone = instant(row.gone_at.as_deref().expect("gone_at is set"));
            assert!(gone >= app.now, "gone_at {gone} is after the first sweep");
            assert_eq!(row.revoked_by, None, "revokd did not revoke it");
        } else {
            assert_eq!(row.gone_at, None, "{} is still present", row.token_id);
        }
    }
    assert_eq!(
        app.stored_ids(&user, &client).await,
        sim_ids(&app.org.tokens(&user, &client))
    );
}
