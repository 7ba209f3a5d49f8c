//! Receivers that refuse or slow down: a 4xx other than 408, 425 and 429 says the request
//! itself was refused (a removed Slack webhook answers 404 or 410, a wrong secret 401), so the
//! delivery is given up at its first attempt instead of being sent unchanged for hours; once
//! the receiver is fixed, `revokd notify resend` queues it again, to the receivers the
//! daemon's configuration names, of the kinds each still takes. A 429 with `Retry-After` is
//! retried no sooner than it asks.

use serde_json::Value;

use super::seed::{seed_one_of_each_kind, store};
use super::{config_file, header, notify, setup};
use crate::daemon::harness::{PATIENCE, Running, message};
use crate::helpers::{all_output, run_revokd};

/// Waits for `pred` in the lines seen so far, or in the next ones.
async fn seen_or_wait(daemon: &mut Running, what: &str, pred: impl Fn(&Value) -> bool) {
    if !daemon.seen.iter().any(&pred) {
        daemon.wait_for(what, pred).await;
    }
}

fn of<'a>(name: &'a str, outcome: &'a str) -> impl Fn(&Value) -> bool + 'a {
    move |l: &Value| message(l).starts_with(outcome) && l["notify.receiver"] == name
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refusal_is_given_up_at_once_and_a_429_is_retried_after_what_it_asks() {
    let (org, dir, rx) = setup().await;
    seed_one_of_each_kind(dir.path()).await;
    let only = "events = [\"sweep_failed\"]\n";
    let receivers = [
        notify(
            "gone",
            &format!("{}/g/gone", rx.base),
            "slack",
            &format!("{only}max_attempts = 5"),
        ),
        notify(
            "slow",
            &format!("{}/s/slow", rx.base),
            "json",
            &format!("{only}max_attempts = 3"),
        )
        .replace("max_backoff = \"400ms\"", "max_backoff = \"5s\""),
    ]
    .concat();
    let config = config_file(&org, dir.path(), "dry-run", &receivers);
    let mut daemon = Running::start(&config).await;
    seen_or_wait(
        &mut daemon,
        "gone given up",
        of("gone", "notification given up"),
    )
    .await;
    // What RevokdNotificationGivenUp reads: when the latest delivery still given up was.
    let (_, text) = daemon.get("/metrics").await;
    let at = crate::daemon::prom::parse(&text)
        .value("revokd_notification_last_given_up_timestamp_seconds", &[]);
    let age = chrono::Utc::now().timestamp_millis() as f64 / 1000.0 - at;
    assert!((0.0..60.0).contains(&age), "given up {age} s ago: {text}");
    let slow_delivered = of("slow", "notification delivered");
    seen_or_wait(&mut daemon, "slow delivered", slow_delivered).await;
    daemon.signal("TERM").await;
    assert_eq!(daemon.wait_exit(PATIENCE).await.code(), Some(0));

    assert_eq!(rx.at("/g/gone").len(), 1, "a refusal is not sent again");
    let given_up = daemon
        .seen
        .iter()
        .find(|l| of("gone", "notification given up")(l))
        .expect("logged");
    assert_eq!(given_up["http.status"], 410);
    assert!(
        message(given_up).contains("revokd notify resend"),
        "{given_up}"
    );
    let waits: Vec<u64> = (daemon.seen.iter())
        .filter(|l| l["notify.receiver"] == "slow")
        .filter_map(|l| l["http.retry_in_ms"].as_u64())
        .collect();
    assert_eq!(waits.len(), 1, "{waits:?}");
    assert!(
        (1000..=5000).contains(&waits[0]),
        "a 429's Retry-After of 1 s waited, not the 50 ms backoff: {waits:?}"
    );
    assert_eq!(rx.at("/s/slow").len(), 2);

    let deliveries = store(dir.path()).await.deliveries().await.unwrap();
    let row = |name: &str| deliveries.iter().find(|d| d.receiver == name).unwrap();
    let gone = row("gone");
    assert_eq!(
        (gone.state.as_str(), gone.attempts, gone.last_status),
        ("failed", 1, Some(410)),
        "{gone:?}"
    );
    assert!(
        gone.last_error
            .as_deref()
            .is_some_and(|e| e.contains("no_service") && e.contains("not retried")),
        "{gone:?}"
    );
    let slow = row("slow");
    assert_eq!((slow.state.as_str(), slow.attempts), ("delivered", 2));
}

#[tokio::test(flavor = "multi_thread")]
async fn notify_resend_queues_given_up_deliveries_again_for_a_fixed_receiver() {
    let (org, dir, rx) = setup().await;
    seed_one_of_each_kind(dir.path()).await;
    let two = "events = [\"sweep_failed\", \"guard_tripped\"]\n";
    let broken = notify("ops", &format!("{}/o/gone", rx.base), "json", two);
    let config = config_file(&org, dir.path(), "dry-run", &broken);
    let config_arg = config.to_str().expect("utf-8 path");
    let resend = |extra: &'static [&'static str]| async move {
        let mut args = vec!["--config", config_arg, "notify", "resend"];
        args.extend(extra);
        run_revokd(&args, &[]).await
    };
    let nothing = resend(&[]).await;
    assert_eq!(nothing.status.code(), Some(0), "{}", all_output(&nothing));
    assert!(
        String::from_utf8_lossy(&nothing.stdout).contains("no delivery given up"),
        "{}",
        all_output(&nothing)
    );

    let mut daemon = Running::start(&config).await;
    for n in 1..=2 {
        daemon
            .wait_for(&format!("given up {n}"), of("ops", "notification given up"))
            .await;
    }
    // The receiver fixed (its URL, say; it takes one of the two kinds now), the daemon
    // reloaded; nothing is sent by itself.
    let one = "events = [\"sweep_failed\"]\n";
    let fixed = notify("ops", &format!("{}/o/ok", rx.base), "json", one);
    config_file(&org, dir.path(), "dry-run", &fixed);
    daemon.signal("HUP").await;
    daemon.wait_for_log("configuration reloaded").await;
    assert!(rx.at("/o/ok").is_empty());

    let db = crate::daemon::harness::db_path(dir.path())
        .display()
        .to_string();
    let unconfigured = run_revokd(&["--db", &db, "notify", "resend"], &[]).await;
    assert_eq!(
        unconfigured.status.code(),
        Some(64),
        "{}",
        all_output(&unconfigured)
    );
    let unknown = resend(&["--receiver", "nobody"]).await;
    assert_eq!(unknown.status.code(), Some(64), "{}", all_output(&unknown));
    assert!(
        all_output(&unknown).contains("nobody"),
        "{}",
        all_output(&unknown)
    );
    let out = resend(&["--receiver", "ops"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("1 delivery to ops queued again"), "{said}");
    assert!(
        said.contains("1 delivery to ops not queued: of kinds its `events` no longer takes"),
        "{said}"
    );
    let sent = rx.wait_accepted("/o/ok", 1).await;
    assert_eq!(header(&sent[0], "x-revokd-event"), "sweep_failed");
    daemon
        .wait_for("delivered", of("ops", "notification delivered"))
        .await;
    daemon.signal("TERM").await;
    assert_eq!(daemon.wait_exit(PATIENCE).await.code(), Some(0));
    let deliveries = store(dir.path()).await.deliveries().await.unwrap();
    let states: Vec<(&str, i64)> = (deliveries.iter())
        .map(|d| (d.state.as_str(), d.attempts))
        .collect();
    assert_eq!(states.len(), 2);
    assert!(states.contains(&("delivered", 1)), "{deliveries:?}");
    assert!(states.contains(&("failed", 1)), "{deliveries:?}");
    assert_eq!(rx.at("/o/gone").len(), 2, "{:#?}", rx.received());
    assert_eq!(rx.at("/o/ok").len(), 1, "{:#?}", rx.received());
    let again = resend(&[]).await;
    let said = String::from_utf8_lossy(&again.stdout);
    assert!(said.contains("no delivery given up"), "{said}");
    assert!(said.contains("1 delivery to ops not queued"), "{said}");
}
