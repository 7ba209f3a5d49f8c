//! A reload while an enforce sweep is going: the sweep planned under the old configuration,
//! and the revocation gate checks each DELETE against the new one.

use std::path::Path;
use std::time::Duration;

use super::harness::{Running, daemon_config, wait_for_sweeps, yearly};
use revokd::sim::{Fault, FaultKind, SimConfig, SimOrg};

use super::{stop, write};
use crate::helpers::small_org;

const EVERYTHING: &str = "[safety]\nmax_revocation_fraction = 1.0\nmax_revocations_per_sweep = 100000\n\
    [[policies]]\nname = \"everything\"\nolder_than = \"1s\"\n";

/// A daemon in enforce mode whose start-up sweep revokes everything, with `slow`'s listing
/// taking 3 s, once that sweep is running; and the `[schedule]` and policy its config holds.
async fn sweeping(org: &SimOrg, dir: &Path, slow: (String, String)) -> (Running, String) {
    org.inject(Fault {
        user: Some(slow.0),
        client: Some(slow.1),
        kind: FaultKind::Latency(Duration::from_secs(3)),
        times: None,
    });
    let schedule = format!(
        "[schedule]\nsweep = \"{}\"\nsweep_on_start = true\n{EVERYTHING}",
        yearly()
    );
    let config = write(dir, &daemon_config(org, dir, "enforce", "", &schedule));
    let daemon = Running::start(&config).await;
    wait_for_sweeps(&daemon.pool, "a running sweep", |r| {
        r.iter().any(|s| s.status == "running")
    })
    .await;
    (daemon, schedule)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_exemption_added_by_a_reload_mid_sweep_stops_the_sweeps_revocations_of_it() {
    // No big pair: a few dozen revocations, so the sweep is quick on a loaded machine.
    let org = SimOrg::start(SimConfig {
        big_pairs: 0,
        ..small_org()
    })
    .await
    .expect("org starts");
    let dir = tempfile::tempdir().expect("temp dir");
    // The user of the pair with the fewest tokens: most of the org is revoked around it.
    let (victim, client) = org
        .pairs()
        .into_iter()
        .filter(|(u, c)| !org.tokens(u, c).is_empty())
        .min_by_key(|(u, c)| org.tokens(u, c).len())
        .expect("a pair with tokens");
    let victims_tokens: Vec<String> = org
        .all_tokens()
        .into_iter()
        .filter(|t| t.user_id == victim)
        .map(|t| t.id)
        .collect();
    assert!(!victims_tokens.is_empty());
    // One of the victim's pairs is listed slowly: the sweep is still listing when the reload
    // lands, and revokes only after every listing is in.
    let (mut daemon, schedule) = sweeping(&org, dir.path(), (victim.clone(), client)).await;

    let exemption = format!("[[exemptions]]\nname = \"added-by-reload\"\nusers = [\"{victim}\"]\n");
    write(
        dir.path(),
        &daemon_config(
            &org,
            dir.path(),
            "enforce",
            "",
            &format!("{schedule}{exemption}"),
        ),
    );
    daemon.signal("HUP").await;
    daemon.wait_for_log("configuration reloaded").await;
    let rows = wait_for_sweeps(&daemon.pool, "the sweep to finish", |r| {
        r.iter().any(|s| s.finished_at.is_some())
    })
    .await;
    assert_eq!(rows.len(), 1, "{rows:?}");

    let left: Vec<String> = org.all_tokens().into_iter().map(|t| t.id).collect();
    assert_eq!(
        left.len(),
        victims_tokens.len(),
        "every other token revoked, every one of the victim's kept"
    );
    assert!(victims_tokens.iter().all(|t| left.contains(t)));
    let outcomes: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT state, error FROM revocations WHERE user_id = ? AND state <> 'pending'",
    )
    .bind(&victim)
    .fetch_all(&daemon.pool)
    .await
    .expect("revocations");
    assert_eq!(outcomes.len(), victims_tokens.len(), "{outcomes:?}");
    for (state, error) in &outcomes {
        assert_eq!(state, "withdrawn", "{outcomes:?}");
        assert!(
            error.as_deref().unwrap_or("").contains("added-by-reload"),
            "{outcomes:?}"
        );
    }
    stop(&mut daemon).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reload_to_dry_run_mid_sweep_stops_every_revocation_still_to_be_sent() {
    let org = SimOrg::start(SimConfig {
        big_pairs: 0,
        ..small_org()
    })
    .await
    .expect("org starts");
    let dir = tempfile::tempdir().expect("temp dir");
    let before = org.all_tokens().len();
    let (user, client) = org
        .pairs()
        .into_iter()
        .find(|(u, c)| !org.tokens(u, c).is_empty())
        .expect("a pair with tokens");
    // A slow listing: the sweep is still listing when the reload lands.
    let (mut daemon, schedule) = sweeping(&org, dir.path(), (user, client)).await;

    write(
        dir.path(),
        &daemon_config(&org, dir.path(), "dry-run", "", &schedule),
    );
    daemon.signal("HUP").await;
    daemon.wait_for_log("configuration reloaded").await;
    wait_for_sweeps(&daemon.pool, "the sweep to finish", |r| {
        r.iter().any(|s| s.finished_at.is_some())
    })
    .await;

    assert_eq!(org.all_tokens().len(), before, "nothing revoked");
    assert_eq!(crate::gate::deletes(&org), vec![], "no DELETE sent");
    let outcomes: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT state, error FROM revocations WHERE state <> 'pending'")
            .fetch_all(&daemon.pool)
            .await
            .expect("revocations");
    assert!(!outcomes.is_empty());
    for (state, error) in &outcomes {
        assert_eq!(state, "withdrawn", "{outcomes:?}");
        assert!(
            error.as_deref().unwrap_or("").contains("dry-run"),
            "{outcomes:?}"
        );
    }
    stop(&mut daemon).await;
}

/// A SIGHUP while the daemon starts (here: waiting for the enforcer lease another process
/// holds) does not end it: the handler is installed first, and the reload runs once the
/// daemon does.
#[tokio::test(flavor = "multi_thread")]
async fn a_sighup_during_start_up_is_a_reload_once_running_not_the_end() {
    let org = SimOrg::start(small_org()).await.expect("org starts");
    let dir = tempfile::tempdir().expect("temp dir");
    let extra = format!(
        "[schedule]\nsweep = \"{}\"\n[safety]\nenforcer_wait = \"1m\"\n",
        yearly()
    );
    let config = write(
        dir.path(),
        &daemon_config(&org, dir.path(), "enforce", "", &extra),
    );
    let url = format!("sqlite://{}", super::harness::db_path(dir.path()).display());
    let store = revokd::store::Store::connect(&url)
        .await
        .expect("the database");
    let other = revokd::gate::Lease::new(store.clone(), Duration::ZERO);
    let held = other
        .hold("a manual enforce sweep")
        .await
        .expect("the lease");

    let mut daemon = Running::spawn(&config, &[]);
    daemon.wait_for_log("waiting for the enforcer lease").await;
    daemon.signal("HUP").await;
    held.release().await;
    daemon.wait_running().await;
    daemon.wait_for_log("configuration reloaded").await;

    stop(&mut daemon).await;
}
