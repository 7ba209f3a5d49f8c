//! What app listings leave in the database: `revokd report apps`, plans recorded once while
//! they stand (and withdrawn once), and a kept cursor Okta refuses, after which the listing
//! starts over instead of failing every sweep.

use std::collections::BTreeSet;

use revokd::config::Mode;

use crate::apps::{apps, biggest_app, spawn, sweep};
use crate::helpers::{TestApp, admin_policy, admin_policy_selects};

#[tokio::test]
async fn the_apps_report_shows_each_apps_listing_and_the_tokens_it_holds() {
    use revokd::report::{self, APP_COLUMNS, Cell, Kind, Request};
    let app = spawn(50).await;
    let (client, n) = biggest_app(&app.org);
    sweep(&app, Mode::DryRun, Vec::new(), apps(&[&client])).await;

    let config = revokd::config::Config {
        policies: vec![admin_policy()],
        ..revokd::config::Config::default()
    };
    let table = report::build(&app.store, &config, &Request::all(Kind::Apps), app.now)
        .await
        .expect("report");
    assert_eq!(table.columns, APP_COLUMNS);
    assert_eq!(table.rows.len(), 1);
    let row = &table.rows[0];
    let cell = |name: &str| row[APP_COLUMNS.iter().position(|c| *c == name).unwrap()].clone();
    let int = |n: usize| Cell::Int(n as i64);
    let users: BTreeSet<String> = app
        .org
        .all_tokens()
        .into_iter()
        .filter(|t| t.client_id == client)
        .map(|t| t.user_id)
        .collect();
    let to_revoke = admin_policy_selects(&app.org, app.now)
        .into_iter()
        .filter(|t| t.client_id == client)
        .count();
    assert!(to_revoke > 0);
    assert_eq!(cell("app_id"), Cell::Text(client.clone()));
    assert_eq!(cell("listing"), Cell::Text("complete".into()));
    assert_eq!(cell("pages"), int(n.div_ceil(50)));
    assert_eq!(cell("tokens_listed"), int(n));
    assert_eq!(cell("active_tokens"), int(n));
    assert_eq!(cell("users"), int(users.len()));
    assert_eq!(cell("to_revoke"), int(to_revoke));
}

#[tokio::test]
async fn an_app_listing_records_plans_once_and_withdraws_the_plan_of_a_token_gone() {
    let app = spawn(200).await;
    let (client, _) = biggest_app(&app.org);
    let selected: Vec<_> = admin_policy_selects(&app.org, app.now)
        .into_iter()
        .filter(|t| t.client_id == client)
        .collect();
    assert!(!selected.is_empty());
    let rows = |app: &TestApp| {
        let pool = app.store.pool().clone();
        async move {
            sqlx::query_as::<_, (String, Option<String>)>(
                "SELECT state, token_id FROM revocations ORDER BY id",
            )
            .fetch_all(&pool)
            .await
            .expect("revocations")
        }
    };
    sweep(&app, Mode::DryRun, Vec::new(), apps(&[&client])).await;
    let first = rows(&app).await;
    assert_eq!(first.len(), selected.len(), "one plan per selected token");
    sweep(&app, Mode::DryRun, Vec::new(), apps(&[&client])).await;
    assert_eq!(
        rows(&app).await,
        first,
        "an unchanged listing records nothing"
    );

    let gone = &selected[0];
    assert!(
        app.org
            .revoke_out_of_band(&gone.user_id, &gone.client_id, &gone.id)
    );
    sweep(&app, Mode::DryRun, Vec::new(), apps(&[&client])).await;
    let third = rows(&app).await;
    assert_eq!(
        third[first.len()..],
        [("withdrawn".to_owned(), Some(gone.id.clone()))],
        "the plan of the token gone is withdrawn once"
    );
}

#[tokio::test]
async fn a_kept_cursor_that_is_refused_starts_the_listing_over() {
    let app = spawn(50).await;
    let (client, n) = biggest_app(&app.org);
    sweep(&app, Mode::DryRun, Vec::new(), apps(&[&client])).await;
    // As if a listing had stopped half-way, then `okta.org_url` moved to another origin.
    sqlx::query("UPDATE app_listings SET next_url = ?, completed_at = NULL WHERE app_id = ?")
        .bind(format!(
            "https://elsewhere.example/api/v1/apps/{client}/tokens?after=x&limit=50"
        ))
        .bind(&client)
        .execute(app.store.pool())
        .await
        .unwrap();

    let report = sweep(&app, Mode::DryRun, Vec::new(), apps(&[&client])).await;
    assert_eq!(report.counts.targets_failed, 0, "{:?}", report.failures);
    let tally = &report.apps[0];
    assert!(tally.complete && !tally.resumed, "{tally:?}");
    assert_eq!(tally.pages, n.div_ceil(50) as u64);
    let (next, completed): (Option<String>, Option<String>) =
        sqlx::query_as("SELECT next_url, completed_at FROM app_listings WHERE app_id = ?")
            .bind(&client)
            .fetch_one(app.store.pool())
            .await
            .unwrap();
    assert_eq!(next, None);
    assert!(completed.is_some());
}

#[tokio::test]
async fn a_failed_app_listing_keeps_its_error_and_is_not_shown_complete() {
    use revokd::report::{self, APP_COLUMNS, Cell, Kind, Request};
    use revokd::sim::{Fault, FaultKind};
    let app = spawn(50).await;
    let (client, _) = biggest_app(&app.org);
    let listing_cells = |table: &revokd::report::Table| {
        let at = |name: &str| APP_COLUMNS.iter().position(|c| *c == name).unwrap();
        let row = &table.rows[0];
        (row[at("listing")].clone(), row[at("last_error")].clone())
    };
    let config = revokd::config::Config::default();
    // The token lacks okta.apps.read: Okta refuses the app's listing.
    app.org.inject(Fault::always(FaultKind::Status(403)));

    let failed = sweep(&app, Mode::DryRun, Vec::new(), apps(&[&client])).await;

    assert!(!failed.apps[0].complete);
    let table = report::build(&app.store, &config, &Request::all(Kind::Apps), app.now)
        .await
        .expect("report");
    let (state, error) = listing_cells(&table);
    assert_eq!(state, Cell::Text("failed".into()));
    assert!(
        matches!(&error, Cell::Text(e) if e.contains("403")),
        "{error:?}"
    );

    app.org.clear_faults();
    sweep(&app, Mode::DryRun, Vec::new(), apps(&[&client])).await;
    let table = report::build(&app.store, &config, &Request::all(Kind::Apps), app.now)
        .await
        .expect("report");
    assert_eq!(
        listing_cells(&table),
        (Cell::Text("complete".into()), Cell::Null)
    );
}
