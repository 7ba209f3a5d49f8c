//! System Log events as the contract allows them, not only as offboarding needs them: the
//! `LogEvent` schema requires no field, so an event may come without `uuid` or `eventType`,
//! and with `target` null or absent. Such events offboard nobody, and they hold up nothing:
//! the poller moves past them, a hook delivery holding them is accepted, and the events next
//! to them still offboard their users. A saved cursor Okta refuses starts a new query.

use std::time::Duration;

use chrono::{DateTime, Utc};
use revokd::offboard::syslog::{PAGE_LIMIT, poll_once};
use revokd::sim::{Delivery, RouteKind, SimOrg};
use serde_json::Value;

use crate::helpers::{small_org, spawn_app};
use crate::offboard::{
    DEACTIVATE, SECRET, hook_daemon, the_one_job_done, tokens_left, user_with_two_clients,
};

/// Removes a member of an event.
fn without(field: &'static str) -> impl FnOnce(&mut Value) {
    move |e| {
        e.as_object_mut().map(|o| o.remove(field));
    }
}

/// A user other than `user` who holds tokens.
fn another_user(org: &SimOrg, user: &str) -> String {
    org.all_tokens()
        .into_iter()
        .map(|t| t.user_id)
        .find(|u| u != user)
        .expect("a second user with tokens")
}

/// Emits deactivations of `user` that offboarding cannot use: no `uuid`, `target` null, no
/// `target`, and no `eventType`. Returns them as the log holds them.
fn emit_unusable(org: &SimOrg, user: &str) -> Vec<Value> {
    vec![
        org.emit_event_with(DEACTIVATE, user, without("uuid")),
        org.emit_event_with(DEACTIVATE, user, |e| e["target"] = Value::Null),
        org.emit_event_with(DEACTIVATE, user, without("target")),
        org.emit_event_with(DEACTIVATE, user, without("eventType")),
    ]
}

/// `(user_id, event_id)` of every offboarding job.
async fn job_events(pool: &sqlx::SqlitePool) -> Vec<(String, Option<String>)> {
    sqlx::query_as("SELECT user_id, event_id FROM offboarding_jobs ORDER BY id")
        .fetch_all(pool)
        .await
        .expect("jobs")
}

#[tokio::test]
async fn a_poll_moves_past_events_without_uuid_or_target_and_enqueues_the_next_event() {
    let app = spawn_app(small_org()).await;
    let (user, _) = user_with_two_clients(&app.org);
    let other = another_user(&app.org, &user);
    emit_unusable(&app.org, &other);
    let event = app.org.emit_event(DEACTIVATE, &user);
    let types = vec![DEACTIVATE.to_owned()];
    let lookback = Duration::from_secs(3600);

    let first = poll_once(&app.deps.okta, &app.store, &types, lookback)
        .await
        .expect("the page with unusable events is read");

    assert_eq!(first.enqueued, 1);
    assert_eq!(
        job_events(app.store.pool()).await,
        vec![(user.clone(), event["uuid"].as_str().map(str::to_owned))]
    );
    let cursor = app.store.system_log_cursor().await.expect("cursor");
    assert!(cursor.is_some_and(|c| c.next_url.contains("after=")));

    let later = app.org.emit_event(DEACTIVATE, &other);
    let second = poll_once(&app.deps.okta, &app.store, &types, lookback)
        .await
        .expect("the next page");
    assert_eq!((second.pages, second.events, second.enqueued), (1, 1, 1));
    let polls: Vec<String> = app
        .org
        .requests()
        .into_iter()
        .filter(|r| r.route == RouteKind::Logs)
        .map(|r| r.path_and_query)
        .collect();
    assert!(polls[1].contains("after="), "{polls:?}");
    assert_eq!(
        job_events(app.store.pool()).await[1],
        (other, later["uuid"].as_str().map(str::to_owned))
    );
}

#[tokio::test]
async fn a_saved_cursor_okta_refuses_starts_a_new_query_that_misses_no_event() {
    let app = spawn_app(small_org()).await;
    let (user, _) = user_with_two_clients(&app.org);
    let types = vec![DEACTIVATE.to_owned()];
    let event = app.org.emit_event(DEACTIVATE, &user);
    // A link of this very query that Okta no longer answers (one the org never issued).
    let query = (app.deps.okta)
        .first_system_log_url(DateTime::UNIX_EPOCH, &types, PAGE_LIMIT)
        .to_string();
    let stale = format!(
        "{}api/v1/logs?after=stale&limit=100&sortOrder=ASCENDING",
        app.org.base_url()
    );
    let saved_at = Utc::now() - chrono::Duration::minutes(10);
    (app.store)
        .save_system_log_page(&[], &stale, &query, None, saved_at)
        .await
        .expect("cursor saved");

    let polled = poll_once(
        &app.deps.okta,
        &app.store,
        &types,
        Duration::from_secs(3600),
    )
    .await
    .expect("a new query, not the same refusal at every poll");

    assert_eq!(polled.enqueued, 1);
    assert_eq!(
        job_events(app.store.pool()).await,
        vec![(user, event["uuid"].as_str().map(str::to_owned))]
    );
    let polls: Vec<String> = (app.org.requests().into_iter())
        .filter(|r| r.route == RouteKind::Logs)
        .map(|r| r.path_and_query)
        .collect();
    assert_eq!(polls.len(), 2, "{polls:?}");
    assert!(polls[0].contains("after=stale"), "{polls:?}");
    assert!(polls[1].contains("since="), "{polls:?}");
    let cursor = app.store.system_log_cursor().await.expect("cursor");
    let next = cursor.expect("a cursor").next_url;
    assert!(next.contains("after=") && !next.contains("stale"), "{next}");
}

#[tokio::test(flavor = "multi_thread")]
async fn unusable_events_in_the_system_log_do_not_stall_offboarding_by_the_events_after_them() {
    let org = SimOrg::start(small_org()).await.expect("org starts");
    let dir = tempfile::tempdir().expect("temp dir");
    let (user, _) = user_with_two_clients(&org);
    let other = another_user(&org, &user);
    let kept = tokens_left(&org, &other);
    emit_unusable(&org, &other);
    org.emit_event(DEACTIVATE, &user);
    let extra = "[offboarding]\nsystem_log = true\npoll_interval = \"100ms\"\n";
    let daemon = hook_daemon(&org, dir.path(), extra).await;

    the_one_job_done(&daemon.pool, "system_log").await;
    assert_eq!(tokens_left(&org, &user), 0);
    assert_eq!(tokens_left(&org, &other), kept);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hook_delivery_holding_unusable_events_is_accepted_and_its_good_event_offboards() {
    let org = SimOrg::start(small_org()).await.expect("org starts");
    let dir = tempfile::tempdir().expect("temp dir");
    let (user, _) = user_with_two_clients(&org);
    let other = another_user(&org, &user);
    let kept = tokens_left(&org, &other);
    let mut events = emit_unusable(&org, &other);
    events.push(org.emit_event(DEACTIVATE, &user));
    let daemon = hook_daemon(&org, dir.path(), "").await;
    let url = format!("{}/hooks/okta", daemon.base);

    let statuses = org
        .deliver_hook(&url, SECRET, &events, Delivery::Once)
        .await
        .expect("delivered");

    assert_eq!(statuses, vec![200]);
    the_one_job_done(&daemon.pool, "event_hook").await;
    assert_eq!(tokens_left(&org, &user), 0);
    assert_eq!(tokens_left(&org, &other), kept);
}

/// The event types are reconfigured (an offboarding type added) after the poller has a
/// cursor: the cursor answered the old query, so the poller starts a new one, and the event of
/// the added type, published since, is found (none is taken twice).
#[tokio::test]
async fn a_changed_event_type_list_is_polled_from_where_the_old_cursor_stood() {
    let app = spawn_app(small_org()).await;
    let deactivate = vec![DEACTIVATE.to_owned()];
    let hour = Duration::from_secs(3600);
    let first = poll_once(&app.deps.okta, &app.store, &deactivate, hour)
        .await
        .unwrap();
    assert_eq!(first.enqueued, 0);
    let (user, _) = user_with_two_clients(&app.org);
    let other = another_user(&app.org, &user);
    app.org.emit_event("user.lifecycle.delete.initiated", &user);
    app.org.emit_event(DEACTIVATE, &other);

    let both = vec![
        DEACTIVATE.to_owned(),
        "user.lifecycle.delete.initiated".to_owned(),
    ];
    let polled = poll_once(&app.deps.okta, &app.store, &both, hour)
        .await
        .unwrap();
    assert_eq!(polled.enqueued, 2, "{polled:?}");
    let again = poll_once(&app.deps.okta, &app.store, &both, hour)
        .await
        .unwrap();
    assert_eq!(again.enqueued, 0, "nothing twice: {again:?}");
    let users: Vec<String> = sqlx::query_scalar("SELECT user_id FROM offboarding_jobs ORDER BY id")
        .fetch_all(app.store.pool())
        .await
        .unwrap();
    assert_eq!(users, [user, other]);
}

/// The `since` of the last System Log request the org received.
fn last_since(app: &crate::helpers::TestApp) -> chrono::DateTime<chrono::Utc> {
    let request = (app.org.requests().into_iter())
        .rfind(|r| r.path_and_query.starts_with("/api/v1/logs?"))
        .expect("a System Log request");
    let url = url::Url::parse(&format!("http://x{}", request.path_and_query)).expect("a URL");
    let since = url
        .query_pairs()
        .find(|(k, _)| k == "since")
        .expect("a since")
        .1;
    let since = chrono::DateTime::parse_from_rfc3339(&since).expect("RFC 3339");
    since.into()
}

/// A changed query starts from where the cursor stood in event time (a backlog read 20 pages a
/// poll runs behind the clock), and never further back than Okta answers (180 days: a `since`
/// older than that is a 400, which would fail every poll for good).
#[tokio::test]
async fn a_new_query_starts_from_the_cursors_events_within_what_okta_answers() {
    let app = spawn_app(small_org()).await;
    let types = vec![DEACTIVATE.to_owned()];
    let hour = Duration::from_secs(3600);
    let now = chrono::Utc::now();
    let days = chrono::Duration::days;
    // A cursor of another query, last moved 200 days ago (a poller stopped that long).
    let old = "an older query";
    app.store
        .save_system_log_page(&[], "http://x/old", old, None, now - days(200))
        .await
        .unwrap();
    poll_once(&app.deps.okta, &app.store, &types, hour)
        .await
        .unwrap();
    let since = last_since(&app);
    assert!(since > now - days(180), "{since}: within what Okta answers");

    // A cursor of another query that moved just now, its events three days behind.
    let behind = (now - days(3)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    app.store
        .save_system_log_page(&[], "http://x/backlog", old, Some(&behind), now)
        .await
        .unwrap();
    poll_once(&app.deps.okta, &app.store, &types, hour)
        .await
        .unwrap();
    let since = last_since(&app);
    let want = now - days(3) - chrono::Duration::hours(1);
    assert!(
        (since - want).num_seconds().abs() < 5,
        "{since}: lookback before {behind}"
    );
}

/// Okta's published table gives the System Log a bucket a tenth the size of most others: the
/// poller pages through a backlog within revokd's share of that bucket, never drawing a 429.
#[tokio::test]
async fn a_backlog_is_polled_within_the_share_of_a_small_system_log_bucket() {
    let sim = revokd::sim::SimConfig {
        logs_rate_limit_per_window: Some(4),
        window: Duration::from_secs(1),
        ..small_org()
    };
    let app = spawn_app(sim).await;
    let (user, _) = user_with_two_clients(&app.org);
    let backlog = PAGE_LIMIT as usize * 3 + 1;
    for _ in 0..backlog {
        app.org.emit_event(DEACTIVATE, &user);
    }
    let types = vec![DEACTIVATE.to_owned()];

    let polled = poll_once(
        &app.deps.okta,
        &app.store,
        &types,
        Duration::from_secs(3600),
    )
    .await
    .expect("the backlog is read");

    assert_eq!((polled.pages, polled.events), (4, backlog));
    assert_eq!(app.org.stats().rate_limited, 0, "no 429");
    let windows: Vec<_> = (app.org.windows().into_iter())
        .filter(|w| w.bucket == revokd::sim::SimBucket::Route(RouteKind::Logs))
        .collect();
    assert!(
        windows.iter().all(|w| w.limit == 4 && w.received() <= 2),
        "{windows:#?}"
    );
}
