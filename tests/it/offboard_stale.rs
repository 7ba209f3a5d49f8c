//! An automatic offboarding job whose event no longer stands when it runs: the user was
//! reactivated or unsuspended in between (or the delivery is replayed later). On the event
//! hook path and on the System Log path alike, the job reads the user's status in Okta first,
//! revokes nothing, ends `skipped` saying why, and its user is not counted as offboarded; a
//! user still deactivated is offboarded as before.

use revokd::sim::{Delivery, Fault, FaultKind, RouteKind, SimOrg, SimToken};
use sqlx::SqlitePool;

use crate::daemon::harness::PATIENCE;
use crate::daemon::prom;
use crate::helpers::small_org;
use crate::offboard::{DEACTIVATE, SECRET, hook_daemon, tokens_left, wait_for_jobs};

const SUSPEND: &str = "user.lifecycle.suspend";

/// Users holding tokens, by id.
fn users<const N: usize>(org: &SimOrg) -> [String; N] {
    let mut users: Vec<String> = org.all_tokens().into_iter().map(|t| t.user_id).collect();
    users.sort();
    users.dedup();
    assert!(users.len() >= N, "{users:?}");
    std::array::from_fn(|i| users[i].clone())
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
    let [back, unsuspended, gone, moving] = users(&org);
    let before = [&back, &unsuspended].map(|u| tokens_left(&org, u));
    // In the System Log before the daemon starts: a suspension undone since.
    org.emit_event(SUSPEND, &unsuspended);
    org.emit_event("user.lifecycle.unsuspend", &unsuspended);
    // A deactivation, then the user reactivated: its delivery comes late (or is replayed).
    let stale = org.emit_event(DEACTIVATE, &back);
    org.emit_event("user.lifecycle.reactivate", &back);
    // A deactivation that stands, and one Okta is still carrying out (asynchronously: the
    // status is the old one, `transitioningToStatus` the new).
    let standing = org.emit_event(DEACTIVATE, &gone);
    org.emit_event(DEACTIVATE, &moving);
    org.set_user_status(&moving, "ACTIVE");
    org.set_user_transition(&moving, Some("DEPROVISIONED"));
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

    // One job per event uuid: the reactivated user's from each path, the unsuspended and the
    // moving user's from the System Log, the deactivated user's from whichever came first.
    let rows = wait_for_jobs(&daemon.pool, "five jobs ended", |r| {
        r.len() == 5 && r.iter().all(|j| j.2 == "done" || j.2 == "skipped")
    })
    .await;
    for out in [&gone, &moving] {
        assert_eq!(tokens_left(&org, out), 0, "{out}: {rows:?}");
        assert_eq!(jobs_of(&daemon.pool, out).await[0].1, "done");
    }
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
    let mut expected = vec![gone.clone(), moving.clone()];
    expected.sort();
    assert_eq!(offboarded, expected);
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

/// A job that has begun revoking finishes what it began: its event stood when it did. Its
/// first attempt's revocations are answered 204 and ignored (not verified, so the job is
/// queued again with its open intents); the user is reactivated before the second attempt,
/// which asks Okta nothing about the user, revokes and ends `done`. Were it skipped, its open
/// intents would be left to the retries of failed offboarding revocations instead.
/// A job whose first attempt revoked (Okta answered, the tokens stayed listed) and whose user
/// is reactivated before the second revokes nothing more: no listing, no DELETE, a token issued
/// after the return untouched; the retries of its failed revocations are withdrawn, and it ends
/// `skipped` saying so, its user not offboarded, the audit chain whole.
#[tokio::test(flavor = "multi_thread")]
async fn a_job_that_had_begun_revoking_stops_when_its_user_comes_back() {
    let org = SimOrg::start(small_org()).await.expect("org starts");
    let dir = tempfile::tempdir().expect("temp dir");
    let [user] = users(&org);
    org.inject(Fault {
        user: Some(user.clone()),
        client: None,
        kind: FaultKind::IgnoreRevocation,
        times: None,
    });
    let mut daemon = hook_daemon(&org, dir.path(), "").await;
    let url = format!("{}/hooks/okta", daemon.base);
    let event = org.emit_event(DEACTIVATE, &user);
    let statuses = org
        .deliver_hook(&url, SECRET, &[event], Delivery::Once)
        .await
        .expect("delivered");
    assert_eq!(statuses, vec![200]);

    wait_for_jobs(&daemon.pool, "a first attempt not verified", |r| {
        r.iter().any(|j| j.2 == "queued" && j.3 == 1)
    })
    .await;
    let (job, failed): (i64, i64) = sqlx::query_as(
        "SELECT job_id, COUNT(*) FROM v_revocation_state WHERE state = 'failed' GROUP BY job_id",
    )
    .fetch_one(&daemon.pool)
    .await
    .expect("the first attempt's failed revocations");
    assert!(failed > 0);
    org.emit_event("user.lifecycle.reactivate", &user);
    org.clear_faults();
    let mine = org.all_tokens().into_iter().find(|t| t.user_id == user);
    org.add_token(SimToken {
        id: "oarBACK0000000000001".into(),
        ..mine.expect("a token of the user")
    });
    let (held, asked) = (tokens_left(&org, &user), token_requests(&org, &user));

    let rows = wait_for_jobs(&daemon.pool, "the job ended", |r| {
        r.iter()
            .any(|j| j.2 == "done" || j.2 == "skipped" || j.2 == "failed")
    })
    .await;
    let (_, state, error) = jobs_of(&daemon.pool, &user).await.remove(0);
    assert_eq!(state, "skipped", "{rows:?} {error:?}");
    let error = error.expect("why it stopped");
    assert!(
        error.contains("Okta shows the user PROVISIONED now")
            && error.contains("had begun revoking")
            && error.contains(&format!("{failed} failed revocation(s) no longer retried")),
        "{error}"
    );
    assert_eq!(
        tokens_left(&org, &user),
        held,
        "nothing revoked after the return"
    );
    assert_eq!(token_requests(&org, &user), asked, "no listing, no DELETE");
    let user_reads = org
        .requests()
        .iter()
        .filter(|r| r.route == RouteKind::GetUser)
        .count();
    assert_eq!(user_reads, 2, "each attempt asks");
    let withdrawn: Vec<(String, String)> = sqlx::query_as(
        "SELECT state, COALESCE(error, '') FROM v_revocation_state WHERE job_id = ?",
    )
    .bind(job)
    .fetch_all(&daemon.pool)
    .await
    .expect("the job's intents");
    assert_eq!(withdrawn.len() as i64, failed, "{withdrawn:?}");
    for (state, why) in &withdrawn {
        assert_eq!(state, "withdrawn");
        assert!(
            why.starts_with("its retry is withdrawn: Okta shows the user PROVISIONED"),
            "{why}"
        );
    }
    let offboarded: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM v_offboarded_users")
        .fetch_one(&daemon.pool)
        .await
        .expect("offboarded users");
    assert_eq!(offboarded, 0);
    let store = revokd::store::Store::from_pool(daemon.pool.clone())
        .await
        .expect("store");
    assert!(store.verify_audit().await.expect("walk").is_ok());
    daemon.signal("TERM").await;
    assert_eq!(daemon.wait_exit(PATIENCE).await.code(), Some(0));
}
