//! An automatic offboarding job whose event no longer stands when it runs: the user was
//! reactivated or unsuspended in between (or the delivery is replayed later). On the event
//! hook path and on the System Log path alike, the job reads the user's status in Okta first,
//! revokes nothing, ends `skipped` saying why, and its user is not counted as offboarded; a
//! user still deactivated is offboarded as before.

use revokd::sim::{Delivery, SimOrg};
use sqlx::SqlitePool;

use crate::daemon::harness::PATIENCE;
use crate::daemon::prom;
use crate::helpers::small_org;
use crate::offboard::{DEACTIVATE, SECRET, hook_daemon, tokens_left, wait_for_jobs};

const SUSPEND: &str = "user.lifecycle.suspend";

/// Three users holding tokens, by id.
fn three_users(org: &SimOrg) -> [String; 3] {
    let mut users: Vec<String> = org.all_tokens().into_iter().map(|t| t.user_id).collect();
    users.sort();
    users.dedup();
    assert!(users.len() >= 3, "{users:?}");
    [0, 1, 2].map(|i| users[i].clone())
}

/// `(source, state, error)` of `user`'s jobs.
async fn jobs_of(pool: &SqlitePool, user: &str) -> Vec<(String, String, Option<String>)> {
    sqlx::query_as(
        "SELECT source, state, error FROM offboarding_jobs WHERE user_id = ? ORDER BY id",
    )
    .bind(user)
    .fetch_all(pool)
    .await
    .expect("jobs")
}

/// Requests that reached the user's tokens (listing or revoking) in the sim.
fn token_requests(org: &SimOrg, user: &str) -> Vec<String> {
    org.requests()
        .into_iter()
        .filter(|r| r.path_and_query.contains(&format!("/users/{user}/clients")))
        .map(|r| format!("{} {}", r.method, r.path_and_query))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_event_undone_before_its_job_ran_revokes_nothing_on_the_hook_and_the_system_log() {
    let org = SimOrg::start(small_org()).await.expect("org starts");
    let dir = tempfile::tempdir().expect("temp dir");
    let [back, unsuspended, gone] = three_users(&org);
    let before = [&back, &unsuspended].map(|u| tokens_left(&org, u));
    // In the System Log before the daemon starts: a suspension undone since.
    org.emit_event(SUSPEND, &unsuspended);
    org.emit_event("user.lifecycle.unsuspend", &unsuspended);
    // A deactivation, then the user reactivated: its delivery comes late (or is replayed).
    let stale = org.emit_event(DEACTIVATE, &back);
    org.emit_event("user.lifecycle.reactivate", &back);
    // A deactivation that stands.
    let standing = org.emit_event(DEACTIVATE, &gone);
    assert_eq!(org.user_status(&back).as_deref(), Some("PROVISIONED"));
    assert_eq!(org.user_status(&unsuspended).as_deref(), Some("ACTIVE"));

    let extra = format!(
        "[offboarding]\nsystem_log = true\npoll_interval = \"100ms\"\nevent_types = [\"{DEACTIVATE}\", \"{SUSPEND}\"]\n"
    );
    let mut daemon = hook_daemon(&org, dir.path(), &extra).await;
    let url = format!("{}/hooks/okta", daemon.base);
    // The hook's copy of the stale event under a uuid of its own, so that each path makes a
    // job of it whichever comes first (one uuid makes one job).
    let mut hooked = stale.clone();
    hooked["uuid"] = serde_json::json!("a-replayed-delivery-0001");
    let statuses = org
        .deliver_hook(&url, SECRET, &[hooked, standing], Delivery::Once)
        .await
        .expect("delivered");
    assert_eq!(statuses, vec![200]);

    // One job per event uuid: the reactivated user's from each path, the unsuspended user's
    // from the System Log, the deactivated user's from whichever path came first.
    let rows = wait_for_jobs(&daemon.pool, "four jobs ended", |r| {
        r.len() == 4 && r.iter().all(|j| j.2 == "done" || j.2 == "skipped")
    })
    .await;
    assert_eq!(tokens_left(&org, &gone), 0, "{rows:?}");
    assert_eq!(jobs_of(&daemon.pool, &gone).await[0].1, "done");
    for (user, tokens) in [&back, &unsuspended].into_iter().zip(before) {
        assert_eq!(tokens_left(&org, user), tokens, "{user}: {rows:?}");
        assert_eq!(token_requests(&org, user), Vec::<String>::new(), "{user}");
        let jobs = jobs_of(&daemon.pool, user).await;
        let sources: Vec<&str> = jobs.iter().map(|j| j.0.as_str()).collect();
        let (expected, status) = if user == &back {
            (vec!["event_hook", "system_log"], "PROVISIONED")
        } else {
            (vec!["system_log"], "ACTIVE")
        };
        let mut sorted = sources.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, expected, "{jobs:?}");
        for (_, state, error) in &jobs {
            assert_eq!(state, "skipped", "{jobs:?}");
            let error = error.as_deref().unwrap_or_default();
            assert!(
                error.contains(&format!("Okta shows the user {status} now")),
                "{error}"
            );
        }
    }
    let audited: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM revocations WHERE user_id IN (?, ?)")
            .bind(&back)
            .bind(&unsuspended)
            .fetch_one(&daemon.pool)
            .await
            .expect("count");
    assert_eq!(audited, 0, "a skipped job writes no audit row");
    let offboarded: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT user_id FROM v_offboarded_users ORDER BY user_id")
            .fetch_all(&daemon.pool)
            .await
            .expect("offboarded users");
    assert_eq!(offboarded, vec![gone.clone()]);
    let problems: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM v_offboarding_problems")
        .fetch_one(&daemon.pool)
        .await
        .expect("problems");
    assert_eq!(problems, 0, "a skipped job needs no one");

    let scrape = prom::parse(&daemon.get("/metrics").await.1);
    assert_eq!(
        scrape.value("revokd_offboarding_jobs", &[("state", "skipped")]),
        3.0
    );
    let skipped = |source| {
        scrape.value(
            "revokd_offboarding_jobs_total",
            &[("source", source), ("outcome", "skipped")],
        )
    };
    assert_eq!((skipped("event_hook"), skipped("system_log")), (1.0, 2.0));
    daemon.wait_for_log("offboarding job skipped").await;
    daemon.signal("TERM").await;
    assert_eq!(daemon.wait_exit(PATIENCE).await.code(), Some(0));
}
