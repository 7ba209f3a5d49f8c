//! Offboarding jobs left `running` that no process carries out: one of a process on another
//! host that started over an hour ago, and one under the daemon's own runner id (its outcome
//! could not be recorded), are both run to the end by the daemon, without a restart; a job of
//! another host that started minutes ago is left to that host.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::Utc;
use revokd::sim::{Delivery, SimOrg};
use revokd::store::{JobSource, NewJob, Store};
use sqlx::SqlitePool;

use super::harness::{PATIENCE, Running, daemon_config, db_path};
use super::{setup, stop, write};

/// Users holding ACTIVE tokens, in id order.
fn users_with_tokens(org: &SimOrg) -> Vec<String> {
    let users: BTreeSet<String> = org.all_tokens().into_iter().map(|t| t.user_id).collect();
    users.into_iter().collect()
}

fn active_of(org: &SimOrg, user: &str) -> usize {
    org.all_tokens()
        .iter()
        .filter(|t| t.user_id == user)
        .count()
}

/// Puts a hook job for `user` in the database as `running` under `runner`, started `ago`.
async fn running_job(store: &Store, user: &str, runner: &str, ago: chrono::Duration) -> i64 {
    let job = NewJob {
        user_id: user.to_owned(),
        source: JobSource::EventHook,
        event_id: Some(format!("event-of-{user}")),
        event_type: Some("user.lifecycle.deactivate".into()),
        reason: None,
    };
    store
        .start_job(&job, runner, Utc::now() - ago)
        .await
        .expect("job written")
}

/// The job's state and runner.
async fn job(pool: &SqlitePool, id: i64) -> (String, Option<String>) {
    sqlx::query_as("SELECT state, runner FROM offboarding_jobs WHERE id = ?")
        .bind(id)
        .fetch_one(pool)
        .await
        .expect("job row")
}

/// Waits until job `id` is `done`.
async fn wait_done(daemon: &Running, id: i64) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let (state, _) = job(&daemon.pool, id).await;
        if state == "done" {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "job {id} is {state}:\n{}",
            daemon.dump()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_no_process_carries_out_is_run_again_without_a_restart() {
    let (org, dir) = setup().await;
    let users = users_with_tokens(&org);
    let [stale, recent, own, woken] = [0, 1, 2, 3].map(|i| users[i].clone());
    // The jobs below come from deactivations: Okta shows their users deactivated.
    for user in [&stale, &recent, &own] {
        org.set_user_status(user, "DEPROVISIONED");
    }
    let config = write(
        dir.path(),
        &daemon_config(&org, dir.path(), "enforce", "hook_secret = \"s3cret\"", ""),
    );
    let store = Store::connect(&format!("sqlite://{}", db_path(dir.path()).display()))
        .await
        .expect("migrates");
    let elsewhere = "host-of-another-container:7:7";
    let hours = running_job(&store, &stale, elsewhere, chrono::Duration::hours(2)).await;
    let minutes = running_job(&store, &recent, elsewhere, chrono::Duration::minutes(2)).await;
    let recent_before = active_of(&org, &recent);
    let mut daemon = Running::start(&config).await;

    // Two hours on another host: taken for dead, queued again and carried out.
    wait_done(&daemon, hours).await;
    assert_eq!(active_of(&org, &stale), 0, "{}", daemon.dump());
    let (_, me) = job(&daemon.pool, hours).await;
    let me = me.expect("the daemon's runner id");
    assert!(!me.starts_with("host-of-another-container"), "{me}");

    // A job left running under the daemon's own id (its outcome could not be recorded) is
    // queued again the next time the worker looks, here woken by a delivery.
    let stranded = running_job(&store, &own, &me, chrono::Duration::zero()).await;
    let event = org.emit_event("user.lifecycle.deactivate", &woken);
    let url = format!("{}/hooks/okta", daemon.base);
    let statuses = org
        .deliver_hook(&url, "s3cret", &[event], Delivery::Once)
        .await
        .expect("delivered");
    assert_eq!(statuses, vec![200]);
    wait_done(&daemon, stranded).await;
    assert_eq!(active_of(&org, &own), 0);
    let delivered: i64 = sqlx::query_scalar("SELECT id FROM offboarding_jobs WHERE user_id = ?")
        .bind(&woken)
        .fetch_one(&daemon.pool)
        .await
        .expect("the delivery's job");
    wait_done(&daemon, delivered).await;
    assert_eq!(active_of(&org, &woken), 0);

    // Minutes on another host: that process may still be at it.
    assert_eq!(
        job(&daemon.pool, minutes).await,
        ("running".to_owned(), Some(elsewhere.to_owned()))
    );
    assert_eq!(active_of(&org, &recent), recent_before);
    stop(&mut daemon).await;
}
