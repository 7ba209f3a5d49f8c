//! Each report against its SQL view: the same rows, compared on the columns both have.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use revokd::report::{self, Cell, Kind, Request, Table};
use revokd::store::{ObservedRecord, Store, TokenObservation};

use crate::seed;

fn text(cell: &Cell) -> Option<String> {
    match cell {
        Cell::Null => None,
        Cell::Int(n) => Some(n.to_string()),
        Cell::Text(s) | Cell::StoredNames(s) => Some(s.clone()),
        Cell::List(items) => Some(serde_json::to_string(items).unwrap()),
        Cell::Labelled(label, names) => Some(format!(
            "{label}: {}",
            names.join(report::DEFAULT_SCOPE_DELIMITER)
        )),
    }
}

/// The report's rows, restricted to `columns`, as text.
fn report_rows(table: &Table, columns: &[&str]) -> Vec<Vec<Option<String>>> {
    let index: Vec<usize> = columns
        .iter()
        .map(|c| table.columns.iter().position(|t| t == c).unwrap())
        .collect();
    table
        .rows
        .iter()
        .map(|r| index.iter().map(|&i| text(&r[i])).collect())
        .collect()
}

/// The view's rows, restricted to `columns`, as text, in `order`.
async fn view_rows(
    store: &Store,
    view: &str,
    columns: &[&str],
    order: &str,
) -> Vec<Vec<Option<String>>> {
    let select: Vec<String> = columns
        .iter()
        .map(|c| format!("CAST({c} AS TEXT)"))
        .collect();
    let sql = format!("SELECT {} FROM {view} ORDER BY {order}", select.join(", "));
    let rows: Vec<sqlx::sqlite::SqliteRow> =
        sqlx::query(&sql).fetch_all(store.pool()).await.unwrap();
    use sqlx::Row;
    rows.iter()
        .map(|r| {
            (0..columns.len())
                .map(|i| r.get::<Option<String>, _>(i))
                .collect()
        })
        .collect()
}

async fn build(store: &Store, kind: Kind) -> Table {
    report::build(store, &seed::config(), &Request::all(kind), Utc::now())
        .await
        .unwrap()
}

#[sqlx::test(migrations = "./migrations")]
async fn the_inventory_lists_the_rows_of_v_active_tokens(pool: sqlx::SqlitePool) {
    let store = seed::seeded(pool).await;
    let columns = [
        "user_id",
        "client_id",
        "token_id",
        "scopes",
        "expires_at",
        "created_at",
        "last_updated_at",
        "first_seen_at",
        "last_seen_at",
    ];
    let report = report_rows(&build(&store, Kind::Inventory).await, &columns);
    let view = view_rows(
        &store,
        "v_active_tokens",
        &columns,
        "user_id, client_id, token_id",
    )
    .await;
    assert_eq!(report.len(), 5, "oarE was revoked");
    assert_eq!(report, view);
}

#[sqlx::test(migrations = "./migrations")]
async fn the_revocations_report_lists_the_rows_of_v_revocation_log(pool: sqlx::SqlitePool) {
    let store = seed::seeded(pool).await;
    let columns = report::REVOCATION_COLUMNS;
    let report = report_rows(&build(&store, Kind::Revocations).await, columns);
    let view = view_rows(
        &store,
        "v_revocation_log",
        columns,
        "requested_at, intent_id",
    )
    .await;
    assert_eq!(report.len(), 5, "one row per intent");
    assert_eq!(report, view);
}

#[sqlx::test(migrations = "./migrations")]
async fn the_policies_report_lists_the_rows_of_v_policy_summary(pool: sqlx::SqlitePool) {
    let store = seed::seeded(pool).await;
    let columns = report::POLICY_COLUMNS;
    let report = report_rows(&build(&store, Kind::Policies).await, columns);
    let view = view_rows(&store, "v_policy_summary", columns, "policy").await;
    assert_eq!(report.len(), 3);
    assert_eq!(report, view);
}

#[sqlx::test(migrations = "./migrations")]
async fn the_exposure_report_counts_scope_and_age_as_v_exposure_does(pool: sqlx::SqlitePool) {
    let store = seed::seeded(pool).await;
    let table = build(&store, Kind::Exposure).await;
    let mut report = BTreeMap::new();
    for row in report_rows(&table, &["finding", "scope", "age_bucket", "tokens"]) {
        if row[0].as_deref() == Some("scope_age") {
            report.insert((row[1].clone(), row[2].clone()), row[3].clone());
        }
    }
    let mut view = BTreeMap::new();
    for row in view_rows(
        &store,
        "v_exposure",
        &["scope", "age_bucket", "tokens"],
        "1, 2",
    )
    .await
    {
        view.insert((row[0].clone(), row[1].clone()), row[2].clone());
    }
    assert!(!view.is_empty());
    assert_eq!(report, view);
    // Dave's token is exposure: he was offboarded but the revoke-all failed.
    let offboarded = report_rows(&table, &["finding", "token_id"])
        .into_iter()
        .filter(|r| r[0].as_deref() == Some("offboarded_user_token"))
        .collect::<Vec<_>>();
    assert_eq!(
        offboarded,
        vec![vec![
            Some("offboarded_user_token".into()),
            Some("oarD".into())
        ]]
    );
}

#[sqlx::test(migrations = "./migrations")]
async fn v_exposure_lists_its_age_bands_in_age_order(pool: sqlx::SqlitePool) {
    let store = seed::seeded(pool).await;
    // A token in each band as of the clock: the seed's own were created on fixed dates and
    // drift into `>365d`, where one band would leave no order to check.
    let page: Vec<TokenObservation> = [2, 20, 60, 200, 400]
        .into_iter()
        .map(|days| {
            let created = Utc::now() - chrono::Duration::days(days);
            let created = Some(created.to_rfc3339_opts(SecondsFormat::Millis, true));
            TokenObservation {
                token_id: format!("oarAged{days}"),
                user_id: "00u9alice".into(),
                client_id: "0oa1crm".into(),
                issuer: Some("https://example.okta.com/oauth2/aus1".into()),
                status: Some("ACTIVE".into()),
                scopes_json: r#"["offline_access"]"#.into(),
                created_at: created.clone(),
                last_updated_at: created,
                expires_at: None,
                record: ObservedRecord::split_json("{}"),
                policy_matches: "[]".into(),
            }
        })
        .collect();
    store.record_page(None, &page, Utc::now()).await.unwrap();
    let bands: Vec<(String, String, i64)> =
        sqlx::query_as("SELECT scope, age_bucket, age_order FROM v_exposure")
            .fetch_all(store.pool())
            .await
            .unwrap();
    let offline: Vec<&str> = bands
        .iter()
        .filter(|(scope, _, _)| scope == "offline_access")
        .map(|(_, band, _)| band.as_str())
        .collect();
    // The view ages tokens as of the clock: each band the seed's tokens fall in today, once,
    // youngest first.
    let created: Vec<String> = sqlx::query_scalar(
        "SELECT a.created_at FROM v_active_tokens a, json_each(a.scopes) s
         WHERE s.value = 'offline_access'",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    let mut want: Vec<&str> = created
        .iter()
        .map(|at| report::age_bucket(Some(Utc::now() - at.parse::<DateTime<Utc>>().unwrap())))
        .collect();
    want.sort_by_key(|band| {
        let at = report::AGE_BUCKETS.iter().position(|(b, _)| b == band);
        at.unwrap_or(usize::MAX)
    });
    want.dedup();
    assert_eq!(offline, want);
    assert_eq!(
        want.len(),
        report::AGE_BUCKETS.len(),
        "a token in every band"
    );
    let mut sorted = bands.clone();
    sorted.sort_by(|a, b| (&a.0, a.2).cmp(&(&b.0, b.2)));
    assert_eq!(bands, sorted, "by scope, then age");
}

#[sqlx::test(migrations = "./migrations")]
async fn an_intent_the_gate_withdrew_counts_as_withdrawn_in_the_policies_report(
    pool: sqlx::SqlitePool,
) {
    use revokd::store::{NewRevocation, RevocationState};
    let store = seed::seeded(pool).await;
    let new = |state, intent_id| NewRevocation {
        intent_id,
        policy: Some("retired-app".into()),
        error: Some("exempt now (break-glass)".into()),
        ..NewRevocation::new(
            Some("oarW".into()),
            "00u9wendy",
            "0oa9retired",
            revokd::store::RevocationTrigger::Policy,
            revokd::config::Mode::Enforce,
            state,
            "2026-11-29T02:00:00.000Z",
        )
    };
    let intent = store
        .append_revocation(&new(RevocationState::Pending, None))
        .await
        .unwrap();
    store
        .append_revocation(&new(RevocationState::Withdrawn, Some(intent)))
        .await
        .unwrap();
    let table = build(&store, Kind::Policies).await;
    let rows = report_rows(&table, &["policy", "matched", "withdrawn"]);
    let retired = rows
        .iter()
        .find(|r| r[0].as_deref() == Some("retired-app"))
        .expect("retired-app");
    assert_eq!(retired[1..], [Some("2".into()), Some("1".into())]);
    let view = view_rows(&store, "v_policy_summary", report::POLICY_COLUMNS, "policy").await;
    assert_eq!(report_rows(&table, report::POLICY_COLUMNS), view);
}

/// Every `sqlite3 revokd.db "…"` example of docs/reports.md runs against a seeded database
/// (a renamed column or view would leave a reader with an example that fails).
#[sqlx::test(migrations = "./migrations")]
async fn the_sql_examples_of_the_reports_page_run(pool: sqlx::SqlitePool) {
    let store = seed::seeded(pool).await;
    let page = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/reports.md"))
        .expect("docs/reports.md");
    let examples: Vec<&str> = page
        .split("sqlite3 revokd.db \"")
        .skip(1)
        .map(|rest| {
            rest.split_once('"')
                .expect("an example ends with a quote")
                .0
        })
        .collect();
    assert!(examples.len() >= 6, "{} examples", examples.len());
    for sql in examples {
        let rows = sqlx::query(sql).fetch_all(store.pool()).await;
        assert!(rows.is_ok(), "{sql}: {:?}", rows.err());
    }
}

/// `--since` with a time of day: the chart by day counts the intents requested from that
/// instant on, as the chart by rule does, not every intent of its first day.
#[sqlx::test(migrations = "./migrations")]
async fn since_bounds_revocations_by_day_at_its_instant(pool: sqlx::SqlitePool) {
    let store = seed::seeded(pool).await;
    let config = seed::config();
    let times: Vec<String> =
        sqlx::query_scalar("SELECT requested_at FROM v_revocation_log ORDER BY requested_at")
            .fetch_all(store.pool())
            .await
            .unwrap();
    let days: std::collections::BTreeSet<&str> = times.iter().map(|t| &t[..10]).collect();
    assert!(
        days.len() < times.len(),
        "two intents on one day: {times:?}"
    );
    for t in &times {
        let since = Some(seed::at(t));
        let o = revokd::report::overview::build(&store, &config, since, seed::now())
            .await
            .unwrap();
        let charted: i64 = o.revocations_by_day.iter().map(|d| d.intents).sum();
        let from: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM v_revocation_log WHERE requested_at >= ?")
                .bind(t)
                .fetch_one(store.pool())
                .await
                .unwrap();
        assert_eq!(charted, from, "since {t}");
    }
}

/// A rule name with blanks around it is the trimmed name wherever a sweep recorded it, so the
/// exposure report and the overview find its tokens by the trimmed name too.
#[sqlx::test(migrations = "./migrations")]
async fn a_rule_named_with_blanks_around_it_still_finds_its_tokens(pool: sqlx::SqlitePool) {
    let store = seed::seeded(pool).await;
    let mut config = seed::config();
    config.policies[0].name = format!(" {} ", config.policies[0].name);
    let request = Request::all(Kind::Exposure);
    let findings = |table: &Table| {
        report_rows(table, &["finding", "token_id"])
            .into_iter()
            .filter(|r| r[0].as_deref() == Some("older_than_policy"))
            .count()
    };
    let clean = report::build(&store, &seed::config(), &request, seed::now())
        .await
        .unwrap();
    let blank = report::build(&store, &config, &request, seed::now())
        .await
        .unwrap();
    assert_eq!(findings(&clean), 1);
    assert_eq!(findings(&blank), 1);
    let overview = report::overview::build(&store, &config, None, seed::now())
        .await
        .unwrap();
    let rule = &overview.exposure_by_rule[0];
    assert_eq!(
        (rule.policy.as_str(), rule.matched_by_rule),
        ("admin-scopes-7d", 1)
    );
    // A threshold between whole days is shown as set, not cut to whole days.
    config.policies[0].older_than = Some(std::time::Duration::from_secs(36 * 3600));
    let overview = report::overview::build(&store, &config, None, seed::now())
        .await
        .unwrap();
    assert_eq!(overview.exposure_by_rule[0].older_than, "1d 12h");
    let html = report::overview::OverviewFormat::Html;
    let page = report::overview::render_overview(&overview, html).unwrap();
    assert!(
        page.contains("admin-scopes-7d (&gt; 1d 12h)"),
        "the chart's label"
    );
}
