//! `[[notify]]` against a local receiver, through the real `revokd run`: every event kind
//! reaches a json and a slack receiver with an id to de-duplicate on; a guard tripped by a
//! CLI sweep is delivered exactly once across daemon crashes; bad receivers (hanging, 500s,
//! redirects, huge bodies) hold up nobody else and are retried with backoff; the secret is
//! sent as a header and appears in no log and no database column.

mod bad_receivers;
mod receiver;
mod refusals;
mod seed;

use std::collections::BTreeSet;
use std::path::Path;

use revokd::sim::SimOrg;
use tempfile::TempDir;

use crate::daemon::harness::{PATIENCE, Running, daemon_config, yearly};
use crate::helpers::{all_output, run_revokd, small_org};
use receiver::{Received, Receiver};
use seed::{seed_one_of_each_kind, store};

const KINDS: [&str; 6] = [
    "guard_tripped",
    "irrevocable",
    "offboarding_failed",
    "offboarding_held",
    "sweep_failed",
    "audit_broken",
];

/// A `[[notify]]` table with test-sized timeouts and backoffs, plus `extra` keys.
fn notify(name: &str, url: &str, format: &str, extra: &str) -> String {
    format!(
        "[[notify]]\nname = \"{name}\"\nurl = \"{url}\"\nformat = \"{format}\"\n\
         timeout = \"2s\"\nmin_backoff = \"50ms\"\nmax_backoff = \"400ms\"\n{extra}\n"
    )
}

async fn setup() -> (SimOrg, TempDir, Receiver) {
    let org = SimOrg::start(small_org()).await.expect("org starts");
    (
        org,
        tempfile::tempdir().expect("temp dir"),
        Receiver::start().await,
    )
}

/// Never within a test's lifetime: the daemon sweeps nothing by itself.
fn schedule() -> String {
    format!("[schedule]\nsweep = \"{}\"\n", yearly())
}

/// The daemon's config for `org` in `dir`, never sweeping by itself, with `extra` tables.
fn config_file(org: &SimOrg, dir: &Path, mode: &str, extra: &str) -> std::path::PathBuf {
    write(
        dir,
        &daemon_config(org, dir, mode, "", &format!("{}{extra}", schedule())),
    )
}

fn write(dir: &Path, text: &str) -> std::path::PathBuf {
    let path = dir.join("revokd.toml");
    std::fs::write(&path, text).expect("config written");
    path
}

fn header<'a>(r: &'a Received, name: &str) -> &'a str {
    r.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

#[tokio::test(flavor = "multi_thread")]
async fn every_event_kind_reaches_a_json_and_a_slack_receiver_with_its_id() {
    let (org, dir, rx) = setup().await;
    seed_one_of_each_kind(dir.path()).await;
    let receivers = format!(
        "{}{}",
        notify("ops-json", &format!("{}/json/ok", rx.base), "json", ""),
        notify("ops-slack", &format!("{}/slack/ok", rx.base), "slack", "")
    );
    let config = config_file(&org, dir.path(), "dry-run", &receivers);
    let mut daemon = Running::start(&config).await;

    let json = rx.wait_accepted("/json/ok", 6).await;
    let slack = rx.wait_accepted("/slack/ok", 6).await;
    let kinds: BTreeSet<&str> = json.iter().map(|r| header(r, "x-revokd-event")).collect();
    assert_eq!(kinds, KINDS.into_iter().collect());
    for r in &json {
        let b = &r.body;
        assert!(r.event_id().starts_with("evt_"), "{r:?}");
        assert_eq!(b["id"], r.event_id());
        assert_eq!(b["kind"], header(r, "x-revokd-event"));
        assert_eq!(b["source"], "revokd");
        assert!(b["summary"].as_str().is_some_and(|s| !s.is_empty()));
        assert!(b["details"].is_object(), "{b}");
        assert_eq!(header(r, "content-type"), "application/json");
        assert!(header(r, "user-agent").starts_with("revokd/"));
    }
    let irrevocable = json
        .iter()
        .find(|r| r.body["kind"] == "irrevocable")
        .unwrap();
    assert_eq!(irrevocable.body["details"]["user_id"], "00u1<@here>");
    assert_eq!(irrevocable.body["details"]["attempts"], 6);
    let broken = json
        .iter()
        .find(|r| r.body["kind"] == "audit_broken")
        .unwrap();
    assert_eq!(broken.body["details"]["record_id"], 1);

    let json_ids: BTreeSet<&str> = json.iter().map(Received::event_id).collect();
    let slack_ids: BTreeSet<&str> = slack.iter().map(Received::event_id).collect();
    assert_eq!(json_ids.len(), 6);
    assert_eq!(
        json_ids, slack_ids,
        "one id per event, the same for every receiver"
    );
    for r in &slack {
        let text = r.body["text"].as_str().expect("slack text");
        assert!(text.starts_with(':'), "{text}");
        let blocks = r.body["blocks"].as_array().expect("slack blocks");
        let context = blocks.last().unwrap()["elements"][0]["text"]
            .as_str()
            .unwrap();
        assert!(context.contains(r.event_id()), "{context}");
        let all = r.body.to_string();
        for raw in ["<@here>", "<!channel>", "<https://evil"] {
            assert!(!all.contains(raw), "unescaped {raw} in {all}");
        }
    }
    let slack_irrevocable = slack
        .iter()
        .find(|r| header(r, "x-revokd-event") == "irrevocable")
        .unwrap();
    assert!(
        slack_irrevocable
            .body
            .to_string()
            .contains("00u1&lt;@here&gt;")
    );

    daemon.signal("TERM").await;
    assert_eq!(daemon.wait_exit(PATIENCE).await.code(), Some(0));
    let store = store(dir.path()).await;
    let deliveries = store.deliveries().await.unwrap();
    assert_eq!(deliveries.len(), 12);
    assert!(
        deliveries
            .iter()
            .all(|d| d.state == "delivered" && d.attempts == 1)
    );
}

/// `revokd sweep --enforce` with a guard that trips: exit 3, and a `guard_tripped` event.
async fn tripped_sweep(config: &Path) {
    let out = run_revokd(
        &[
            "--config",
            config.to_str().expect("utf-8 path"),
            "sweep",
            "--enforce",
        ],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(3), "{}", all_output(&out));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_guard_tripped_by_a_cli_sweep_is_delivered_exactly_once_across_daemon_kills() {
    let (org, dir, rx) = setup().await;
    let extra = format!(
        "[safety]\nmax_revocations_per_sweep = 1\n\
         [[policies]]\nname = \"old-admin\"\nolder_than = \"180d\"\nscopes_any = [\"admin:write\"]\n{}",
        notify(
            "ops",
            &format!("{}/ops/ok", rx.base),
            "json",
            "events = [\"guard_tripped\"]"
        )
    );
    let config = config_file(&org, dir.path(), "enforce", &extra);
    // Enqueued while no daemon runs: delivered by the next one.
    tripped_sweep(&config).await;
    let mut daemon = Running::start(&config).await;
    let first = rx.wait_accepted("/ops/ok", 1).await;
    daemon.wait_for_log("notification delivered").await;
    daemon.signal("KILL").await;
    daemon.wait_exit(PATIENCE).await;

    // Delivered before the kill: not sent again by the next daemon, which delivers only the
    // next event (claims go oldest first, so a resend of the first would come before it).
    let mut daemon = Running::start(&config).await;
    tripped_sweep(&config).await;
    let both = rx.wait_accepted("/ops/ok", 2).await;
    let second = both[1].event_id().to_owned();
    daemon
        .wait_for("the second delivery recorded", |l| {
            l["notify.event_id"] == second.as_str()
                && crate::daemon::harness::message(l) == "notification delivered"
        })
        .await;
    daemon.signal("KILL").await;
    daemon.wait_exit(PATIENCE).await;

    let ids: Vec<&str> = both.iter().map(Received::event_id).collect();
    assert_eq!(ids[0], first[0].event_id());
    assert_ne!(ids[0], ids[1], "two events, each delivered once: {ids:?}");
    assert_eq!(rx.received().len(), 2, "{:#?}", rx.received());
    let store = store(dir.path()).await;
    let outbox = store.outbox().await.unwrap();
    assert_eq!(outbox.len(), 2);
    assert!(outbox.iter().all(|e| e.kind == "guard_tripped"));
    let deliveries = store.deliveries().await.unwrap();
    assert!(
        deliveries
            .iter()
            .all(|d| d.state == "delivered" && d.attempts == 1),
        "each recorded delivered at its first attempt: {deliveries:?}"
    );
    assert_eq!(both[1].body["details"]["sweep_id"], 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_delivery_cut_by_a_crash_mid_attempt_is_sent_again_and_accepted_once() {
    let (org, dir, rx) = setup().await;
    seed_one_of_each_kind(dir.path()).await;
    let only_failed = "events = [\"sweep_failed\"]\n";
    let hanging = notify("ops", &format!("{}/ops/hang", rx.base), "json", only_failed)
        .replace("timeout = \"2s\"", "timeout = \"3s\"");
    let config = config_file(&org, dir.path(), "dry-run", &hanging);
    let mut daemon = Running::start(&config).await;
    rx.wait_until("a held attempt", |log| !log.is_empty()).await;
    daemon.signal("KILL").await;
    daemon.wait_exit(PATIENCE).await;

    // The same receiver, now answering: the attempt's lease runs out and it is sent again.
    let answering = notify("ops", &format!("{}/ops/ok", rx.base), "json", only_failed);
    let config = config_file(&org, dir.path(), "dry-run", &answering);
    let mut daemon = Running::start(&config).await;
    let accepted = rx.wait_accepted("/ops/ok", 1).await;
    daemon.wait_for_log("notification delivered").await;
    daemon.signal("TERM").await;
    assert_eq!(daemon.wait_exit(PATIENCE).await.code(), Some(0));
    let held = rx.at("/ops/hang");
    assert_eq!(held.len(), 1);
    assert_eq!(
        held[0].event_id(),
        accepted[0].event_id(),
        "the same event id both times"
    );
    assert_eq!(rx.received().iter().filter(|r| r.accepted).count(), 1);
    let deliveries = store(dir.path()).await.deliveries().await.unwrap();
    assert_eq!(deliveries.len(), 1);
    assert_eq!(
        (deliveries[0].state.as_str(), deliveries[0].attempts),
        ("delivered", 2)
    );
}
