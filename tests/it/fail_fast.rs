//! Failing fast and saying why, through the real binary: an org that cannot be reached at all
//! (exit 69), credentials Okta refuses (exit 77), each told in one message, by `sweep` and by
//! `offboard`; and an org URL that answers HTML, whose pages are summarised, never dumped.

use std::process::Output;

use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use revokd::sim::SimOrg;

use crate::helpers::{SIM_TOKEN, all_output, run_revokd, small_org, write_config};

/// Forty made-up pairs: far more than the sweep's concurrency.
fn many_pairs() -> Vec<(String, String)> {
    (0..40)
        .map(|i| (format!("00uUSER{i:03}"), format!("0oaCLIENT{}", i % 4)))
        .collect()
}

fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The only row `sql` (two columns: a state and an error) reads in the database at `db`.
async fn only_row(db: &std::path::Path, sql: &str) -> (String, Option<String>) {
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .expect("database opens");
    let row = sqlx::query_as(sql).fetch_one(&pool).await.expect("one row");
    pool.close().await;
    row
}

/// The one line of `stderr` revokd's own messages start with (`revokd: `); fails unless
/// there is exactly one.
fn the_one_message(stderr: &str) -> &str {
    let told: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("revokd: "))
        .collect();
    assert_eq!(told.len(), 1, "{stderr}");
    told[0]
}

/// `revokd --config <config> offboard --user <user>`.
async fn offboard(config: &std::path::Path, user: &str) -> Output {
    run_revokd(
        &[
            "--config",
            config.to_str().expect("utf-8"),
            "offboard",
            "--user",
            user,
        ],
        &[],
    )
    .await
}

/// The URL of a loopback port nothing listens on (bound, then let go).
fn unreachable_url() -> String {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    format!("http://127.0.0.1:{port}")
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_org_stops_the_sweep_with_one_message_and_exit_69() {
    assert_unreachable_stops_the_sweep("api_token = \"t\"").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_org_stops_an_oauth_sweep_at_its_token_request_too() {
    let key = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/oauth/test-only-rsa.pkcs8.pem"
    );
    let auth =
        format!("auth = \"oauth\"\nclient_id = \"0oaService\"\nprivate_key_file = \"{key}\"");
    assert_unreachable_stops_the_sweep(&auth).await;
}

/// A sweep of forty pairs, authenticating with `auth`, of an org nothing listens for: exit 69
/// and one message, nothing retried.
async fn assert_unreachable_stops_the_sweep(auth: &str) {
    let url = unreachable_url();
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("revokd.db");
    let config = write_config(dir.path(), &url, auth, &db, &many_pairs(), "");

    let out = run_revokd(&["--config", config.to_str().expect("utf-8"), "sweep"], &[]).await;

    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(69), "{}", all_output(&out));
    let told: Vec<&str> = stderr.lines().filter(|l| l.contains(&url)).collect();
    assert_eq!(told.len(), 1, "one message names the URL:\n{stderr}");
    assert!(
        told[0].starts_with(&format!("revokd: cannot reach Okta at {url}: ")),
        "{stderr}"
    );
    assert!(told[0].contains("onnect"), "the cause is named: {stderr}");
    assert!(told[0].contains("of 40 pair(s)"), "{stderr}");
    assert!(
        !stderr.contains("will be retried"),
        "nothing is retried:\n{stderr}"
    );
    assert!(!stderr.contains("target failed"), "{stderr}");
    assert!(stderr.lines().count() <= 3, "{stderr}");
    assert!(out.stdout.is_empty(), "{}", all_output(&out));
    let (status, error) = only_row(&db, "SELECT status, error FROM sweeps").await;
    assert_eq!(status, "failed");
    assert!(
        error.is_some_and(|e| e.starts_with("stopped early: Okta is unreachable")),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_api_token_stops_the_sweep_naming_the_key_with_exit_77() {
    let org = SimOrg::start(small_org()).await.expect("org starts");
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("token"), "not-the-token\n").expect("token written");
    let token_file = dir.path().join("token").display().to_string();
    let mut pairs = org.pairs();
    pairs.extend(many_pairs());
    let config = write_config(
        dir.path(),
        org.base_url().as_str(),
        &format!("api_token_file = \"{token_file}\""),
        &dir.path().join("revokd.db"),
        &pairs,
        "",
    );
    assert_ne!(SIM_TOKEN, "not-the-token");

    let out = run_revokd(&["--config", config.to_str().expect("utf-8"), "sweep"], &[]).await;

    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(77), "{}", all_output(&out));
    let told = the_one_message(&stderr);
    assert!(told.contains("refused the credentials"), "{stderr}");
    assert!(told.contains("401"), "{stderr}");
    assert!(
        told.contains(&format!("check okta.api_token_file ({token_file})")),
        "{stderr}"
    );
    assert!(!stderr.contains("not-the-token"), "{stderr}");
    assert!(!stderr.contains("target failed"), "{stderr}");
    let requests = org.stats().requests;
    assert!(
        requests <= 8,
        "stopped after the first few targets, not {} pairs: {requests} requests",
        pairs.len()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_offboarding_that_cannot_reach_okta_exits_69_with_one_message() {
    let url = unreachable_url();
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("revokd.db");
    let pairs = many_pairs();
    let config = write_config(dir.path(), &url, "api_token = \"t\"", &db, &pairs, "");
    let user = &pairs[0].0;

    let out = offboard(&config, user).await;

    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(69), "{}", all_output(&out));
    let told = the_one_message(&stderr);
    assert!(
        told.starts_with(&format!("revokd: cannot reach Okta at {url}: ")),
        "{stderr}"
    );
    assert!(told.contains("onnect"), "the cause is named: {stderr}");
    let (state, error) = only_row(&db, "SELECT state, error FROM offboarding_jobs").await;
    assert_eq!(state, "failed");
    assert!(error.is_some(), "the job row says why");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_offboarding_whose_api_token_okta_refuses_exits_77_naming_the_key() {
    let org = SimOrg::start(small_org()).await.expect("org starts");
    let dir = tempfile::tempdir().expect("temp dir");
    let (user, _) = org.pairs()[0].clone();
    let config = write_config(
        dir.path(),
        org.base_url().as_str(),
        "api_token = \"not-the-token\"",
        &dir.path().join("revokd.db"),
        &org.pairs(),
        "",
    );
    assert_ne!(SIM_TOKEN, "not-the-token");

    let out = offboard(&config, &user).await;

    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(77), "{}", all_output(&out));
    let told = the_one_message(&stderr);
    assert!(told.contains("refused the credentials"), "{stderr}");
    assert!(told.contains("check okta.api_token"), "{stderr}");
    assert!(!stderr.contains("not-the-token"), "{stderr}");
    assert!(org.revoked().is_empty());
    assert!(!org.all_tokens().is_empty());
}

/// A page of HTML, as a proxy or a login page would answer.
async fn html_page() -> impl IntoResponse {
    let mut page = String::from("<!DOCTYPE html>\n<html><head><title>Sign in</title></head>\n");
    for i in 0..200 {
        page.push_str(&format!("<p>line {i} of the page DEEP-IN-THE-PAGE</p>\n"));
    }
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        page,
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn an_org_url_answering_html_is_summarised_not_dumped() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let app = axum::Router::new().fallback(html_page);
    tokio::spawn(async move { axum::serve(listener, app).await });
    let dir = tempfile::tempdir().expect("temp dir");
    let config = write_config(
        dir.path(),
        &url,
        "api_token = \"t\"",
        &dir.path().join("revokd.db"),
        &many_pairs()[..2],
        "",
    );

    let out = run_revokd(&["--config", config.to_str().expect("utf-8"), "sweep"], &[]).await;

    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(
        text.contains("Okta answered 404: text/html body, not Okta's JSON: <!DOCTYPE html> …"),
        "{text}"
    );
    assert!(!text.contains("DEEP-IN-THE-PAGE"), "{text}");
    assert!(!text.contains("<title>"), "{text}");
}
