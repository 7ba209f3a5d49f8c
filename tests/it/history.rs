//! Token history by change against the simulated org: an unchanged sweep writes no snapshot, a
//! changed token exactly one, and `report inventory --at T` is exact before, between and after
//! a churn (a token used, one revoked out of band, one gone and back).

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use revokd::config::{Config, Mode};
use revokd::report::{self, Cell, Kind, Request};
use revokd::store::SweepStatus;

use crate::helpers::{TestApp, small_org, spawn_app};

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(app.store.pool())
        .await
        .expect("count")
}

/// The token ids `report inventory --at at` lists.
async fn inventory_at(app: &TestApp, at: DateTime<Utc>) -> BTreeSet<String> {
    let request = Request {
        at: Some(at),
        ..Request::all(Kind::Inventory)
    };
    let table = report::build(&app.store, &Config::default(), &request, Utc::now())
        .await
        .expect("inventory");
    table
        .column("token_id")
        .into_iter()
        .map(|c| match c {
            Cell::Text(t) => t.clone(),
            other => panic!("token_id is text: {other:?}"),
        })
        .collect()
}

fn all_ids(app: &TestApp) -> BTreeSet<String> {
    app.org.all_tokens().into_iter().map(|t| t.id).collect()
}

#[tokio::test]
async fn an_unchanged_sweep_writes_no_snapshot_and_a_used_token_exactly_one() {
    let app = spawn_app(small_org()).await;
    let first = app.sweep(Mode::DryRun).await;
    assert_eq!(first.status, SweepStatus::Ok);
    let total = first.counts.tokens_seen as i64;
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM token_snapshots").await,
        total
    );
    let seen_before = count(&app, "SELECT COUNT(DISTINCT last_seen_at) FROM tokens").await;

    let second = app.sweep(Mode::DryRun).await;
    assert_eq!(second.counts.tokens_seen as i64, total);
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM token_snapshots").await,
        total,
        "an unchanged sweep writes no snapshot"
    );
    let moved = count(
        &app,
        &format!(
            "SELECT COUNT(*) FROM tokens t JOIN sweeps s ON s.id = {}
             WHERE t.last_seen_at >= s.started_at",
            second.sweep_id
        ),
    )
    .await;
    assert_eq!(moved, total, "every token's last_seen_at moved");
    assert!(seen_before > 0);

    let (user, client) = app.big_pair();
    let mut used = app.org.tokens(&user, &client)[3].clone();
    used.last_updated = Utc::now();
    app.org.add_token(used.clone());
    let third = app.sweep(Mode::DryRun).await;
    assert_eq!(third.status, SweepStatus::Ok);
    assert_eq!(
        count(
            &app,
            &format!(
                "SELECT COUNT(*) FROM token_snapshots WHERE sweep_id = {}",
                third.sweep_id
            )
        )
        .await,
        1,
        "only the used token"
    );
    let (sweep_of_change, raw): (i64, String) = sqlx::query_as(
        "SELECT sweep_id, okta_json FROM v_token_records WHERE token_id = ? ORDER BY id DESC",
    )
    .bind(&used.id)
    .fetch_one(app.store.pool())
    .await
    .expect("its newest snapshot");
    assert_eq!(sweep_of_change, third.sweep_id);
    let record: serde_json::Value = serde_json::from_str(&raw).expect("JSON");
    assert!(record.get("_links").is_none(), "{record}");
    let names: Vec<&str> = record["_embedded"]["scopes"]
        .as_array()
        .expect("the scope items are shown whole")
        .iter()
        .map(|s| s["name"].as_str().expect("a scope item with its name"))
        .collect();
    assert_eq!(names, used.scopes, "{record}");
}

/// The unchanged path compares fingerprints: a token whose scopes changed while its
/// `lastUpdated` did not must still be told apart from its stored record.
#[tokio::test]
async fn a_token_whose_scopes_alone_changed_writes_exactly_one_snapshot() {
    let app = spawn_app(small_org()).await;
    app.sweep(Mode::DryRun).await;
    let (user, client) = app.big_pair();
    let mut changed = app.org.tokens(&user, &client)[2].clone();
    changed.scopes.push("okta.users.manage".into());
    app.org.add_token(changed.clone());
    let second = app.sweep(Mode::DryRun).await;
    assert_eq!(second.status, SweepStatus::Ok);
    let written: Vec<String> =
        sqlx::query_scalar("SELECT token_id FROM token_snapshots WHERE sweep_id = ?")
            .bind(second.sweep_id)
            .fetch_all(app.store.pool())
            .await
            .expect("snapshots");
    assert_eq!(written, [changed.id.clone()]);
    let row = app
        .store
        .token(&changed.id)
        .await
        .expect("row")
        .expect("known");
    let scopes: Vec<String> = serde_json::from_str(&row.scopes).expect("JSON");
    assert_eq!(scopes, changed.scopes, "the row follows the new record");
}

#[tokio::test]
async fn inventory_at_is_exact_before_between_and_after_a_churn() {
    let app = spawn_app(small_org()).await;
    app.sweep(Mode::DryRun).await;
    let after_first = Utc::now();
    let at_first = all_ids(&app);

    let (user, client) = app.big_pair();
    let tokens = app.org.tokens(&user, &client);
    let (mut used, revoked, away) = (tokens[1].clone(), tokens[2].clone(), tokens[3].clone());
    used.last_updated = Utc::now();
    app.org.add_token(used.clone());
    app.delete_through_api(&user, &client, &revoked.id).await;
    app.delete_through_api(&user, &client, &away.id).await;
    app.sweep(Mode::DryRun).await;
    let after_second = Utc::now();
    let at_second = all_ids(&app);
    assert_eq!(at_second.len(), at_first.len() - 2);

    app.org.add_token(away.clone());
    app.sweep(Mode::DryRun).await;
    let after_third = Utc::now();
    let at_third = all_ids(&app);
    assert!(at_third.contains(&away.id));

    assert_eq!(inventory_at(&app, after_first).await, at_first);
    assert_eq!(inventory_at(&app, after_second).await, at_second);
    assert_eq!(
        inventory_at(&app, after_third).await,
        at_third,
        "a token gone and back is listed again"
    );
    // And asked again afterwards, the middle instant still misses the token that came back.
    assert!(!inventory_at(&app, after_second).await.contains(&away.id));
    let absences: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT gone_at, back_at FROM token_absences WHERE token_id = ?")
            .bind(&away.id)
            .fetch_all(app.store.pool())
            .await
            .expect("absences");
    assert_eq!(absences.len(), 1);
    assert!(
        absences[0].1.is_some(),
        "the absence is closed: {absences:?}"
    );
    assert!(app.store.verify_audit().await.expect("verify").is_ok());
}

/// Why `report inventory --at at` is refused (a usage error), if it is.
async fn refusal_at(app: &TestApp, at: DateTime<Utc>) -> Option<String> {
    let request = Request {
        at: Some(at),
        ..Request::all(Kind::Inventory)
    };
    match report::build(&app.store, &Config::default(), &request, Utc::now()).await {
        Err(report::Error::Usage(why)) => Some(why),
        Err(other) => panic!("refused otherwise: {other}"),
        Ok(_) => None,
    }
}

#[tokio::test]
async fn inventory_at_refuses_an_instant_before_the_history_it_has_kept() {
    let app = spawn_app(small_org()).await;
    let before_any = Utc::now() - Duration::milliseconds(5);
    app.sweep(Mode::DryRun).await;
    let after_first = Utc::now();
    let (user, client) = app.big_pair();
    let mut used = app.org.tokens(&user, &client)[1].clone();
    used.last_updated = Utc::now();
    app.org.add_token(used.clone());
    app.sweep(Mode::DryRun).await;
    let after_second = Utc::now();
    let why = refusal_at(&app, before_any).await.expect("refused");
    assert!(why.contains("first sweep"), "{why}");
    assert_eq!(refusal_at(&app, after_first).await, None);

    // The prune job removes the used token's first record, superseded before the cutoff: the
    // inventory at the first sweep could no longer show the token as Okta had it then.
    let pruned = app.store.prune(after_second).await.expect("pruned");
    assert_eq!(pruned.snapshots, 1);
    let why = refusal_at(&app, after_first).await.expect("refused");
    assert!(why.contains("removes history"), "{why}");
    assert_eq!(refusal_at(&app, after_second).await, None);
    assert_eq!(inventory_at(&app, after_second).await, all_ids(&app));
}
