//! `revokd report overview` over the seeded database: the JSON's numbers against the views and
//! the seed's known history, the `--since` window, the page's escaping and self-containment,
//! a tampered audit chain, the scheduled page, and the real binary.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use revokd::report::age_bucket;
use revokd::report::overview::{self, Overview};
use revokd::store::{NewJob, Store};

use crate::seed;

/// The seed plus a failed offboarding job whose error comes from outside.
async fn seeded(pool: sqlx::SqlitePool) -> Store {
    let store = seed::seeded(pool).await;
    let ids = store
        .enqueue_jobs(
            &[NewJob {
                user_id: "00u6frank".into(),
                source: revokd::store::JobSource::EventHook,
                event_id: Some("evt-1".into()),
                event_type: Some("user.lifecycle.deactivate".into()),
                reason: None,
            }],
            seed::at("2026-11-29T10:00:00Z"),
        )
        .await
        .unwrap();
    store
        .finish_job(
            ids[0],
            revokd::store::JobState::Failed,
            Some("<b>Okta</b> said no"),
            seed::at("2026-11-29T10:05:00Z"),
        )
        .await
        .unwrap();
    store
}

async fn count(store: &Store, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(store.pool())
        .await
        .unwrap()
}

fn by<'a, T>(
    rows: &'a [T],
    key: impl Fn(&'a T) -> (&'a str, &'a str, i64),
) -> BTreeMap<(&'a str, &'a str), i64> {
    rows.iter()
        .map(|r| {
            let (a, b, n) = key(r);
            ((a, b), n)
        })
        .collect()
}

#[sqlx::test(migrations = "./migrations")]
async fn the_json_counts_each_token_once_per_chart_and_each_intent_as_the_seed_recorded_it(
    pool: sqlx::SqlitePool,
) {
    let store = seeded(pool).await;
    let o = overview::build(&store, &seed::config(), None, seed::now())
        .await
        .unwrap();

    // Tokens: every active token once in each chart, in the band its age gives it now.
    let active = count(&store, "SELECT COUNT(*) FROM v_active_tokens").await;
    assert_eq!(active, 5, "oarE was revoked");
    assert_eq!(
        o.tokens_by_client_age.iter().map(|r| r.tokens).sum::<i64>(),
        active
    );
    assert_eq!(
        o.tokens_by_scope_risk.iter().map(|r| r.tokens).sum::<i64>(),
        active
    );
    let created: Vec<(String, String)> =
        sqlx::query_as("SELECT client_id, created_at FROM v_active_tokens")
            .fetch_all(store.pool())
            .await
            .unwrap();
    let mut want: BTreeMap<(String, String), i64> = BTreeMap::new();
    for (client, at) in created {
        let age = Utc::now() - at.parse::<DateTime<Utc>>().unwrap();
        *want
            .entry((client, age_bucket(Some(age)).to_owned()))
            .or_default() += 1;
    }
    let got: BTreeMap<(String, String), i64> = o
        .tokens_by_client_age
        .iter()
        .map(|r| ((r.client_id.clone(), r.age_band.clone()), r.tokens))
        .collect();
    assert_eq!(got, want);
    let risk = by(&o.tokens_by_scope_risk, |r| {
        (&r.client_id, &r.risk, r.tokens)
    });
    assert_eq!(risk.get(&("0oa2admin", "admin")), Some(&1), "{risk:?}");
    assert_eq!(risk.get(&("0oa1crm", "read")), Some(&3), "{risk:?}");

    // Revocations: each intent once per day at its latest state; per rule, once per rule named.
    let daily = by(&o.revocations_by_day, |r| (&r.day, &r.state, r.intents));
    let want_daily = BTreeMap::from([
        (("2026-09-01", "planned"), 1),
        (("2026-11-28", "done"), 1),
        (("2026-11-28", "failed"), 1),
        (("2026-11-28", "skipped_exempt"), 1),
        (("2026-11-29", "failed"), 1),
    ]);
    assert_eq!(daily, want_daily);
    let policy = by(&o.revocations_by_policy, |r| {
        (&r.policy, &r.state, r.intents)
    });
    let want_policy = BTreeMap::from([
        (("(offboard)", "failed"), 1),
        (("admin-scopes-7d", "planned"), 1),
        (("idle-30d", "done"), 1),
        (("idle-30d", "planned"), 1),
        (("idle-30d", "skipped_exempt"), 1),
        (("retired-app", "failed"), 1),
    ]);
    assert_eq!(policy, want_policy);

    // Exposure: the one age rule; oarB (admin:write, months old) is matched by the whole rule.
    assert_eq!(o.exposure_by_rule.len(), 1);
    let rule = &o.exposure_by_rule[0];
    assert_eq!(
        (rule.policy.as_str(), rule.older_than_days),
        ("admin-scopes-7d", 7)
    );
    // As of the overview's instant, not the clock's.
    let older = count(
        &store,
        &format!(
            "SELECT COUNT(*) FROM v_active_tokens
             WHERE julianday('{}') - julianday(created_at) > 7",
            seed::now().to_rfc3339()
        ),
    )
    .await;
    assert_eq!(rule.older_than_threshold, older);
    assert_eq!(rule.matched_by_rule, 1);
    assert_eq!(rule.older_than, "7d");

    // Problems.
    let failed: Vec<(&str, Option<&str>)> = o
        .revocation_problems
        .iter()
        .map(|p| (p.user_id.as_str(), p.token_id.as_deref()))
        .collect();
    assert_eq!(failed, [("00u4dave", None), ("00u3carol", Some("oarC"))]);
    assert_eq!(
        o.revocation_problems[1].error.as_deref(),
        Some(seed::EVIL_ERROR)
    );
    assert_eq!(o.offboarding_problems.len(), 1);
    assert_eq!(o.offboarding_problems[0].state, "failed");
    let sweeps: Vec<&str> = o.recent_sweeps.iter().map(|s| s.status.as_str()).collect();
    assert_eq!(sweeps, ["running", "partial", "ok"]);
    assert_eq!(o.recent_sweeps[1].duration_ms, Some(9_000));
    let records = count(&store, "SELECT COUNT(*) FROM revocations").await;
    assert!(o.audit.verified);
    assert_eq!(o.audit.records, Some(u64::try_from(records).unwrap()));
    assert_eq!(o.audit.head_id, Some(records));

    // The JSON is these numbers, with every source named.
    let json: serde_json::Value = serde_json::from_str(&overview::to_json(&o)).unwrap();
    assert_eq!(json["exposure_by_rule"][0]["matched_by_rule"], 1);
    for (key, view) in overview::SOURCES {
        assert!(json.get(key).is_some(), "{key}");
        assert_eq!(json["sources"][key], *view);
    }
}

#[sqlx::test(migrations = "./migrations")]
async fn since_bounds_revocations_and_sweeps_but_not_tokens(pool: sqlx::SqlitePool) {
    let store = seeded(pool).await;
    let config = seed::config();
    let all = overview::build(&store, &config, None, seed::now())
        .await
        .unwrap();
    let since = Some(seed::at("2026-11-01T00:00:00Z"));
    let o = overview::build(&store, &config, since, seed::now())
        .await
        .unwrap();
    assert_eq!(o.since.as_deref(), Some("2026-11-01T00:00:00.000Z"));
    assert!(
        o.revocations_by_day
            .iter()
            .all(|r| r.day.as_str() >= "2026-11-01")
    );
    assert_eq!(o.revocations_by_day.len(), all.revocations_by_day.len() - 1);
    assert!(!o.revocations_by_policy.iter().any(|r| r.state == "planned"));
    assert_eq!(o.recent_sweeps.len(), 2);
    assert_eq!(o.tokens_by_client_age, all.tokens_by_client_age);
    assert_eq!(o.revocation_problems, all.revocation_problems);
}

/// The page with a rule whose name is markup, as a configuration could hold.
async fn page_with_hostile_rule(store: &Store) -> (Overview, String) {
    let mut config = seed::config();
    config.policies[0].name = "<img src=x onerror=alert(1)>".into();
    let o = overview::build(store, &config, None, seed::now())
        .await
        .unwrap();
    let html = overview::to_html(&o).unwrap();
    (o, html)
}

#[sqlx::test(migrations = "./migrations")]
async fn the_page_escapes_outside_text_loads_nothing_and_draws_every_chart(pool: sqlx::SqlitePool) {
    let store = seeded(pool).await;
    let (o, html) = page_with_hostile_rule(&store).await;

    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(
        !html.contains("<img"),
        "markup from a rule name reached the page"
    );
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"));
    assert!(!html.contains("<b>Okta</b>"));
    assert!(html.contains("&lt;b&gt;Okta&lt;/b&gt; said no"));
    assert!(html.contains("Okta said: &quot;boom&quot;, retry\nlater"));
    // Self-contained: no scripts, no external styles, fonts or images, no links out.
    for banned in [
        "<script", "<link", "@import", "url(", "src=\"", "<iframe", "<object",
    ] {
        assert!(!html.contains(banned), "the page holds {banned}");
    }
    for (i, _) in html.match_indices("href=\"") {
        assert!(
            html[i + 6..].starts_with('#'),
            "a link out: {}",
            &html[i..i + 40]
        );
    }
    // Every chart is there with one bar per positive value, each drawn as a rect.
    for chart in [
        "tokens-by-age",
        "tokens-by-risk",
        "revocations-over-time",
        "revocations-by-policy",
        "exposure",
    ] {
        let start = html
            .find(&format!("data-chart=\"{chart}\""))
            .unwrap_or_else(|| panic!("no {chart} chart"));
        let end = html[start..].find("</figure>").unwrap() + start;
        let figure = &html[start..end];
        let marks: usize = figure
            .split("data-marks=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap()
            .parse()
            .unwrap();
        assert!(marks > 0, "{chart}");
        assert_eq!(figure.matches("<rect").count(), marks, "{chart}");
    }
    // The tiles show the JSON's totals.
    let active: i64 = o.tokens_by_client_age.iter().map(|r| r.tokens).sum();
    assert!(html.contains(&format!(
        "<div class=\"value\">{active}</div><div class=\"label\">active tokens"
    )));
    let problems = o.revocation_problems.len() + o.offboarding_problems.len();
    assert!(html.contains(&format!(
        "<div class=\"value\">{problems}</div><div class=\"label\">open problems"
    )));
    // Every source is a footnote.
    for (i, (_, view)) in overview::SOURCES.iter().enumerate() {
        assert!(html.contains(&format!("id=\"source-{}\"", i + 1)));
        assert!(html.contains(view.split(' ').next().unwrap()));
    }
}

#[sqlx::test(migrations = "./migrations")]
async fn an_edited_audit_record_shows_the_chain_broken(pool: sqlx::SqlitePool) {
    let store = seeded(pool).await;
    for sql in [
        "DROP TRIGGER revocations_are_append_only_update",
        "UPDATE revocations SET reason = 'nothing to see' WHERE id = 2",
    ] {
        sqlx::query(sql).execute(store.pool()).await.unwrap();
    }
    let o = overview::build(&store, &seed::config(), None, seed::now())
        .await
        .unwrap();
    assert!(!o.audit.verified);
    assert_eq!(o.audit.broken_at, Some(2));
    let html = overview::to_html(&o).unwrap();
    assert!(html.contains("BROKEN at record 2"));
}

#[sqlx::test(migrations = "./migrations")]
async fn the_scheduled_overview_is_the_page_as_of_the_tick(pool: sqlx::SqlitePool) {
    let store = seeded(pool).await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = seed::config();
    config.reports.dir = dir.path().join("reports");
    let path = overview::write_scheduled_overview(&store, &config, seed::now())
        .await
        .unwrap();
    assert_eq!(
        path,
        config.reports.dir.join("overview-20261129T220000Z.html")
    );
    let want = overview::to_html(
        &overview::build(&store, &config, None, seed::now())
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), want);
    assert_eq!(std::fs::read_dir(&config.reports.dir).unwrap().count(), 1);
}

#[sqlx::test(migrations = "./migrations")]
async fn the_binary_writes_the_page_and_prints_the_json(pool: sqlx::SqlitePool) {
    let _ = seeded(pool.clone()).await;
    // The test pool's database lives in memory: copy it into a file the binary can open.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("revokd.db");
    sqlx::query("VACUUM INTO ?")
        .bind(db.display().to_string())
        .execute(&pool)
        .await
        .unwrap();
    let run = |args: &[&str]| {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_revokd"));
        cmd.args(["report", "overview"])
            .args(args)
            .env_clear()
            .envs(crate::clock_env::clock_env())
            .env("REVOKD_DATABASE__URL", format!("sqlite://{}", db.display()))
            .env("REVOKD_OKTA__ORG_URL", "https://example.okta.com")
            .env("REVOKD_OKTA__API_TOKEN", "unused-by-reports")
            .kill_on_drop(true);
        async move {
            tokio::time::timeout(Duration::from_secs(60), cmd.output())
                .await
                .unwrap()
                .unwrap()
        }
    };
    let out = run(&["--format", "json", "--since", "2026-11-01"]).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // The binary runs on the test's clock, faked or not (tests/it/clock_env.rs).
    let generated: DateTime<Utc> = json["generated_at"].as_str().unwrap().parse().unwrap();
    assert!(
        (Utc::now() - generated).num_seconds().abs() < 300,
        "the binary's clock says {generated}"
    );
    assert_eq!(json["since"], "2026-11-01T00:00:00.000Z");
    assert_eq!(json["recent_sweeps"].as_array().unwrap().len(), 2);

    let page = dir.path().join("overview.html");
    let out = run(&["--output", page.to_str().unwrap()]).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty());
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("data-chart=\"revocations-by-policy\""));

    let out = run(&["--format", "csv"]).await;
    assert_eq!(
        out.status.code(),
        Some(64),
        "clap refuses a format the page has not (EX_USAGE)"
    );
}
