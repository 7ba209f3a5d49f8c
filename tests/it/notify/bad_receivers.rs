//! Bad receivers — one hanging, one redirecting, one answering a huge body, one failing
//! before it accepts — next to a good one: nobody is held up, failures are retried with
//! backoff, and the flaky one's secret and the credentials of its URL (which it echoes back)
//! are in no log and no column.

use serde_json::Value;

use super::receiver::{FLAKY_FAILURES, Received};
use super::seed::{seed_one_of_each_kind, store};
use super::{header, notify, schedule, setup, write};
use crate::daemon::harness::{PATIENCE, Running, daemon_config, db_path, message};
use crate::secrets::occurrences_in_database;

/// The credentials a webhook URL carries (a path segment, as Slack's do, and a query value).
const PATH_TOKEN: &str = "B0TTOKENpath0123456789";
const QUERY_KEY: &str = "q5ecretQueryKey987";

#[tokio::test(flavor = "multi_thread")]
async fn bad_receivers_hold_up_nobody_and_are_retried_with_backoff() {
    let (org, dir, rx) = setup().await;
    seed_one_of_each_kind(dir.path()).await;
    let secret_file = dir.path().join("hook-secret");
    std::fs::write(&secret_file, "s3cret-webhook-value\n").unwrap();
    let with_secret = format!("secret_file = \"{}\"\n", secret_file.display());
    let one_try = "max_attempts = 1\ntimeout = \"20s\"\n";
    let receivers = [
        notify("hang", &format!("{}/a/hang", rx.base), "json", "")
            .replace("timeout = \"2s\"\n", one_try),
        notify(
            "redirect",
            &format!("{}/b/redirect", rx.base),
            "json",
            "max_attempts = 2",
        ),
        notify(
            "huge",
            &format!("{}/c/huge", rx.base),
            "json",
            "max_attempts = 2",
        ),
        notify(
            "flaky",
            &format!("{}/d/{PATH_TOKEN}/flaky?key={QUERY_KEY}", rx.base),
            "slack",
            &with_secret,
        ),
        notify("good", &format!("{}/e/ok", rx.base), "json", ""),
    ]
    .concat();
    // The hanging attempt is cut at shutdown, not waited for.
    let text = daemon_config(
        &org,
        dir.path(),
        "dry-run",
        "shutdown_timeout = \"1s\"",
        &format!("{}{receivers}", schedule()),
    );
    let config = write(dir.path(), &text);
    let mut daemon = Running::start_with(&config, &["-vv"]).await;

    // The good receiver gets all six while the hanging one still holds its first request.
    rx.wait_until("the hanging request", |log| {
        log.iter().any(|r| r.path == "/a/hang")
    })
    .await;
    rx.wait_accepted("/e/ok", 6).await;
    assert_eq!(rx.hanging(), 1, "the good receiver was not kept waiting");
    // The flaky one fails its first attempts and is retried until it accepts all six.
    let flaky = rx.wait_accepted(&format!("/d/{PATH_TOKEN}/flaky"), 6).await;
    assert!(
        flaky
            .iter()
            .all(|r| header(r, "authorization") == "Bearer s3cret-webhook-value")
    );
    for event in flaky.iter().map(Received::event_id) {
        let sent = rx
            .at(&format!("/d/{PATH_TOKEN}/flaky"))
            .iter()
            .filter(|r| r.event_id() == event)
            .count();
        assert_eq!(
            sent,
            FLAKY_FAILURES + 1,
            "sent until accepted, then never again"
        );
    }
    let given_up = |name: &str| {
        let name = name.to_owned();
        move |l: &Value| message(l).contains("given up") && l["notify.receiver"] == name.as_str()
    };
    daemon
        .wait_for("redirect given up", given_up("redirect"))
        .await;
    daemon.wait_for("huge given up", given_up("huge")).await;
    daemon.signal("TERM").await;
    assert_eq!(daemon.wait_exit(PATIENCE).await.code(), Some(0));

    assert!(rx.at("/trap").is_empty(), "a redirect is never followed");
    let event = flaky[0].event_id();
    let retries: Vec<u64> = daemon
        .seen
        .iter()
        .filter(|l| l["notify.receiver"] == "flaky" && l["notify.event_id"] == event)
        .filter_map(|l| l["http.retry_in_ms"].as_u64())
        .collect();
    assert_eq!(retries.len(), FLAKY_FAILURES, "{retries:?}");
    assert!(
        (25..=50).contains(&retries[0]),
        "first wait ~50ms: {retries:?}"
    );
    assert!(
        (50..=100).contains(&retries[1]),
        "then doubled: {retries:?}"
    );

    let store = store(dir.path()).await;
    let deliveries = store.deliveries().await.unwrap();
    let of = |name: &str| {
        deliveries
            .iter()
            .filter(|d| d.receiver == name)
            .collect::<Vec<_>>()
    };
    for d in of("redirect") {
        assert_eq!(
            (d.state.as_str(), d.last_status, d.attempts),
            ("failed", Some(302), 2)
        );
    }
    for d in of("huge") {
        assert_eq!((d.state.as_str(), d.last_status), ("failed", Some(500)));
        assert!(
            d.last_error.as_deref().is_some_and(|e| e.len() < 300),
            "{d:?}"
        );
    }
    assert!(
        of("good")
            .iter()
            .all(|d| d.state == "delivered" && d.attempts == 1)
    );
    assert!(of("flaky").iter().all(|d| d.state == "delivered"));
    store.close().await;

    let logs = daemon.dump();
    assert!(
        logs.contains("notification not delivered"),
        "failures are logged"
    );
    assert!(
        !logs.contains("s3cret-webhook-value"),
        "the secret is never logged"
    );
    for part in [PATH_TOKEN, QUERY_KEY] {
        assert!(!logs.contains(part), "the URL's {part} is never logged");
        let (hits, _) = occurrences_in_database(&db_path(dir.path()), part).await;
        assert_eq!(hits, 0, "the URL's {part} is in no column");
    }
    let (hits, rows) = occurrences_in_database(&db_path(dir.path()), "s3cret-webhook-value").await;
    assert!(rows > 0);
    assert_eq!(
        hits, 0,
        "the secret is in no column, not even an echoed error body"
    );
}
