//! Stopping the daemon mid-sweep: SIGTERM cuts a sweep that outlasts the shutdown timeout
//! (marked aborted, exit 0) or lets one within it finish, and an enforce sweep cut between
//! intent and outcome is reconciled at the next start.

use std::time::Duration;

use revokd::sim::{Fault, FaultKind};

use super::harness::{self, PATIENCE, Running, daemon_config, wait_for_sweeps, yearly};
use super::{ADMIN_POLICY, finished, setup, slow, start_sweeping_once, stop, write};

/// SIGTERM cutting a dry-run sweep; the enforce case, whose cut leaves a `pending` intent for
/// restart reconciliation, follows.
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_during_a_sweep_cuts_it_after_the_timeout_marks_it_aborted_and_exits_0() {
    let (org, dir) = setup().await;
    slow(&org, Duration::from_secs(20));
    let schedule = format!(
        "[schedule]\nsweep = \"{}\"\nsweep_on_start = true\n",
        yearly()
    );
    let server = "shutdown_timeout = \"1s\"";
    let config = write(
        dir.path(),
        &daemon_config(&org, dir.path(), "dry-run", server, &schedule),
    );
    let mut daemon = Running::start(&config).await;
    wait_for_sweeps(&daemon.pool, "a running sweep", |r| {
        r.iter().any(|s| s.status == "running")
    })
    .await;

    let sent = tokio::time::Instant::now();
    daemon.signal("TERM").await;
    let status = daemon.wait_exit(PATIENCE).await;

    assert_eq!(status.code(), Some(0), "{}", daemon.dump());
    assert!(
        sent.elapsed() < Duration::from_secs(10),
        "{:?}",
        sent.elapsed()
    );
    assert!(daemon.logged("cutting them short"), "{}", daemon.dump());
    let rows = harness::sweeps(&daemon.pool).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].status, "aborted", "{rows:?}");
    assert!(
        rows[0].finished_at.is_some() && rows[0].error.is_some(),
        "{rows:?}"
    );

    // The next start finds nothing left running and no pending revocation.
    org.clear_faults();
    let mut again = Running::start(&config).await;
    let pending = pending(&again.pool).await;
    assert_eq!(pending, 0);
    wait_for_sweeps(&again.pool, "the second start's sweep", |r| {
        finished(r) == 2
    })
    .await;
    stop(&mut again).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_enforce_sweep_cut_between_intent_and_outcome_is_reconciled_at_the_next_start() {
    let (org, dir) = setup().await;
    let victim = crate::helpers::admin_policy_selects(&org, chrono::Utc::now())
        .into_iter()
        .next()
        .expect("the seed selects a token");
    // The victim's pair answers no revocation: the sweep is stuck after writing the intent.
    org.inject(Fault {
        user: Some(victim.user_id.clone()),
        client: Some(victim.client_id.clone()),
        kind: FaultKind::HangBefore(revokd::sim::RouteKind::RevokeToken),
        times: Some(1),
    });
    let extra = format!(
        "[schedule]\nsweep = \"{}\"\nsweep_on_start = true\n[safety]\nmax_revocation_fraction = 1.0\n{ADMIN_POLICY}",
        yearly()
    );
    let config = write(
        dir.path(),
        &daemon_config(
            &org,
            dir.path(),
            "enforce",
            "shutdown_timeout = \"1s\"",
            &extra,
        ),
    );
    let mut daemon = Running::start(&config).await;
    org.until_hung(1).await;
    daemon.signal("TERM").await;
    let status = daemon.wait_exit(PATIENCE).await;
    assert_eq!(status.code(), Some(0), "{}", daemon.dump());
    let left = pending(&daemon.pool).await;
    assert!(left >= 1, "the cut sweep left its intent pending");

    org.clear_faults();
    let mut again = Running::start(&config).await;
    let left = pending(&again.pool).await;
    assert_eq!(
        left,
        0,
        "resolved at start, before anything else: {}",
        again.dump()
    );
    let (state,): (String,) = sqlx::query_as(
        "SELECT state FROM v_revocation_state WHERE token_id = ? ORDER BY id DESC LIMIT 1",
    )
    .bind(&victim.id)
    .fetch_one(&again.pool)
    .await
    .unwrap();
    assert_eq!(state, "done");
    // Counted from what the org received (a repeated DELETE would be answered 404 and never
    // show in `org.revoked()`): the parked DELETE, never answered, was sent again once after
    // the restart, and every other token of the sweep got one DELETE.
    let deletes = crate::helpers::token_deletes(&org);
    let parked: Vec<_> = deletes
        .iter()
        .filter(|(_, d)| d.contains(&(0, false)))
        .map(|(t, _)| t.clone())
        .collect();
    assert_eq!(parked.len(), 1, "{deletes:?}");
    for (token, received) in &deletes {
        if *token == parked[0] {
            assert_eq!(received, &[(0, false), (204, true)], "{token}");
        } else {
            assert_eq!(received, &[(204, true)], "{token}");
        }
    }
    stop(&mut again).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_lets_an_in_flight_sweep_finish_within_the_timeout() {
    let (org, dir) = setup().await;
    slow(&org, Duration::from_millis(1500));
    let mut daemon = start_sweeping_once(&org, dir.path(), "dry-run", "").await;
    wait_for_sweeps(&daemon.pool, "a running sweep", |r| {
        r.iter().any(|s| s.status == "running")
    })
    .await;

    stop(&mut daemon).await;

    let rows = harness::sweeps(&daemon.pool).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].status, "ok", "{rows:?}");
}

/// Revocations left `pending` (an intent with no outcome).
async fn pending(pool: &sqlx::SqlitePool) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM v_revocation_state WHERE state = 'pending'")
        .fetch_one(pool)
        .await
        .expect("count pending revocations")
}
