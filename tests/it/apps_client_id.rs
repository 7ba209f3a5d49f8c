//! An app listing must show that its tokens are the app's client's: the user+client route
//! that revokes takes only the `client_id`, so revoking a token under an app id that is not
//! its client id would be answered 404 and taken for "already gone" while the token stays
//! ACTIVE. An app whose `client_id` was set by hand (an instance id of its own), and tokens
//! sent without `clientId` (every field of Okta's schema is optional), fail the listing
//! loudly instead, and nothing is sent or recorded gone.

use revokd::config::Mode;
use revokd::sim::SimConfig;

use crate::apps::{apps, org, sweep};
use crate::helpers::{TestApp, admin_policy, admin_policy_selects, spawn_app_with};

fn app_tokens(app: &TestApp, client: &str) -> Vec<String> {
    (app.org.all_tokens().into_iter())
        .filter(|t| t.client_id == client)
        .map(|t| t.id)
        .collect()
}

/// Sweeps, in enforce mode, the app whose instance id differs from its client id in an org
/// that sends `clientId` unless `omit_client_id`; returns the failure's text and the ids.
async fn sweep_the_distinct_app(omit_client_id: bool) -> (String, String, String) {
    let sim = SimConfig {
        distinct_app_ids: 1,
        omit_client_id,
        ..org()
    };
    let app = spawn_app_with(sim, |c| c.policies = vec![admin_policy()]).await;
    let (client, app_id) = (app.org.pairs().into_iter())
        .find_map(|(_, c)| app.org.app_id(&c).filter(|a| *a != c).map(|a| (c, a)))
        .expect("an app with an id of its own");
    let selected = admin_policy_selects(&app.org, app.now);
    assert!(selected.iter().any(|t| t.client_id == client));
    let before = app_tokens(&app, &client);

    let report = sweep(&app, Mode::Enforce, Vec::new(), apps(&[&app_id])).await;

    assert_eq!(crate::gate::deletes(&app.org), vec![], "nothing sent");
    assert_eq!(app_tokens(&app, &client), before);
    assert_eq!(report.counts.targets_failed, 1, "{:?}", report.failures);
    let gone: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM revocations WHERE state IN ('already_gone', 'done')",
    )
    .fetch_one(app.store.pool())
    .await
    .expect("the audit");
    assert_eq!(gone, 0);
    (report.failures[0].error.clone(), client, app_id)
}

#[tokio::test]
async fn an_app_whose_client_id_differs_from_its_app_id_fails_loudly_and_sends_nothing() {
    let (error, client, app_id) = sweep_the_distinct_app(false).await;
    assert!(
        error.contains(&client) && error.contains(&app_id) && error.contains("client_id"),
        "{error}"
    );
}

#[tokio::test]
async fn app_tokens_without_a_client_id_fail_the_listing_and_send_nothing() {
    let (error, client, app_id) = sweep_the_distinct_app(true).await;
    assert!(
        error.contains(&app_id) && error.contains("no clientId") && !error.contains(&client),
        "{error}"
    );
}
