//! A due retry is sent only for a pair the sweep listed whole, whatever else of its user
//! failed. While its pair cannot be listed, its token is not seen again: the guard, which
//! counts what the listings plan, would not count it, and the gate would decide it from an old
//! record. It waits for a sweep that lists it.

use chrono::TimeDelta;
use revokd::config::Mode;
use revokd::okta::UserId;
use revokd::sim::{Fault, FaultKind, RouteKind, SimConfig};
use revokd::store::Trigger;
use revokd::sweep::{SweepPlan, WideTargets, run_once};

use crate::helpers::{TestApp, admin_policy, first_admin_selected, small_org, spawn_app_with};

/// DELETEs the sim received for `user`'s tokens of `client`.
fn deletes_of(org: &revokd::sim::SimOrg, user: &str, client: &str) -> usize {
    let path = format!("/api/v1/users/{user}/clients/{client}/tokens");
    (org.requests().iter())
        .filter(|r| r.method == "DELETE" && r.path_and_query.starts_with(&path))
        .count()
}

/// An org of small pairs whose admin policy selects some tokens, every one let through.
async fn admin_app() -> TestApp {
    let org = SimConfig {
        users: 10,
        clients: 5,
        pairs: 40,
        big_pairs: 0,
        ..small_org()
    };
    spawn_app_with(org, |c| {
        c.policies = vec![admin_policy()];
        c.safety.max_revocation_fraction = 1.0;
    })
    .await
}

/// A first sweep of `plan` whose revocations of the pair fail (Okta's 503, for good): their
/// intents stay open, to retry. Returns how many DELETEs the pair received.
async fn failed_revocations(app: &TestApp, plan: &SweepPlan, user: &str, client: &str) -> usize {
    app.org.inject(Fault {
        user: Some(user.to_owned()),
        client: Some(client.to_owned()),
        kind: FaultKind::RevocationStatus(503),
        times: None,
    });
    let first = run_once(&app.deps, plan, app.now).await.expect("a sweep");
    assert!(first.counts.revocations_failed >= 1, "{first:?}");
    deletes_of(&app.org, user, client)
}

#[tokio::test]
async fn a_due_retry_waits_while_its_pair_cannot_be_listed() {
    let app = admin_app().await;
    let victim = first_admin_selected(&app);
    let (user, client) = (victim.user_id.clone(), victim.client_id.clone());
    let plan = app.plan(Mode::Enforce);
    let sent = failed_revocations(&app, &plan, &user, &client).await;
    // Two days on every retry is due, but the pair's listing fails.
    app.org.inject(Fault {
        user: Some(user.clone()),
        client: Some(client.clone()),
        kind: FaultKind::Status(500),
        times: None,
    });

    let later = run_once(&app.deps, &plan, app.now + TimeDelta::days(2))
        .await
        .expect("a sweep");

    assert!(
        (later.failures.iter()).any(|f| f.user_id == user && f.client_id == client),
        "{later:?}"
    );
    assert_eq!(
        deletes_of(&app.org, &user, &client),
        sent,
        "no retry sent for a pair this sweep could not list"
    );
    assert_eq!(later.counts.revocations_retried, 0, "{later:?}");
    assert!(
        app.org
            .tokens(&user, &client)
            .iter()
            .any(|t| t.id == victim.id),
        "the token is still there"
    );
}

#[tokio::test]
async fn a_due_retry_of_a_listed_pair_is_sent_though_its_users_clients_could_not_be_discovered() {
    let app = admin_app().await;
    let victim = first_admin_selected(&app);
    let (user, client) = (victim.user_id.clone(), victim.client_id.clone());
    // The user is a target whole: every client Okta names for them, and those stored.
    let plan = SweepPlan {
        named_targets: false,
        trigger: Trigger::Cli,
        mode: Mode::Enforce,
        targets: Vec::new(),
        wide: WideTargets {
            apps: Vec::new(),
            users: vec![UserId::new(&user).expect("a user id")],
        },
    };
    let sent = failed_revocations(&app, &plan, &user, &client).await;
    // Two days on, the user's clients cannot be discovered; their stored pairs are listed.
    app.org.inject(Fault {
        user: Some(user.clone()),
        client: None,
        kind: FaultKind::GatewayStatus {
            route: RouteKind::ListClients,
            status: 502,
        },
        times: None,
    });

    let later = run_once(&app.deps, &plan, app.now + TimeDelta::days(2))
        .await
        .expect("a sweep");

    assert!(
        (later.failures.iter()).any(|f| f.user_id == user && f.client_id == "*"),
        "{later:?}"
    );
    assert!(
        deletes_of(&app.org, &user, &client) > sent,
        "the retry of a pair listed whole is sent: {later:?}"
    );
}
