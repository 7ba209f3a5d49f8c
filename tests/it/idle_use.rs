//! `idle_for` against each way Okta may move what it lists of a token when its client uses it
//! ([`OnUse`]): Okta does not publish which, so the product is run against all of them. The
//! policies page says what each means for an `idle_for` rule.

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use revokd::config::{Mode, PolicyConfig};
use revokd::sim::{OnUse, SimToken};

use crate::audit_changes::log_states;
use crate::helpers::{TestApp, small_org, spawn_app_with};

fn idle_30d() -> PolicyConfig {
    PolicyConfig {
        name: "idle-30d".into(),
        idle_for: Some(Duration::from_secs(30 * 86_400)),
        ..PolicyConfig::default()
    }
}

/// A dry-run sweep under the idle rule, one token it planned used as `how` says, and a second
/// dry-run sweep: the token used and the token ACTIVE after the use.
async fn used_between_sweeps(how: OnUse) -> (TestApp, SimToken, SimToken) {
    let app = spawn_app_with(small_org(), |c| {
        c.policies = vec![idle_30d()];
        // Most seeded tokens are idle for months: the guard would keep every plan.
        c.safety.max_revocations_per_sweep = 100_000;
        c.safety.max_revocation_fraction = 1.0;
    })
    .await;
    app.sweep(Mode::DryRun).await;
    let used = (app.org.all_tokens().into_iter())
        .find(|t| app.now - t.last_updated > TimeDelta::days(31))
        .expect("an idle token");
    assert_eq!(log_states(&app, &used.id).await, ["planned"]);
    let at = Utc::now();
    let after = (app.org)
        .use_token(&used.user_id, &used.client_id, &used.id, how, at)
        .expect("the token is used");
    app.sweep(Mode::DryRun).await;
    (app, used, after)
}

/// What the database holds of token `id`.
async fn row(app: &TestApp, id: &str) -> revokd::store::TokenRow {
    let row = app.store.token(id).await.expect("the token reads");
    row.unwrap_or_else(|| panic!("{id} is stored"))
}

#[tokio::test]
async fn a_use_that_moves_last_updated_withdraws_the_idle_plan() {
    let (app, used, after) = used_between_sweeps(OnUse::Touch).await;

    assert_eq!(after.id, used.id);
    assert_eq!(log_states(&app, &used.id).await, ["withdrawn"]);
    let row = row(&app, &used.id).await;
    assert_eq!(
        row.last_updated_at,
        Some(revokd::store::ts(after.last_updated))
    );
    assert_eq!(row.gone_at, None);
}

#[tokio::test]
async fn a_use_that_leaves_last_updated_keeps_the_token_planned_as_idle() {
    // What the policies page warns of: on such an org, idle_for selects as older_than would.
    let (app, used, after) = used_between_sweeps(OnUse::Keep).await;

    assert_eq!(after, used);
    assert_eq!(
        log_states(&app, &used.id).await,
        ["planned"],
        "still planned, once"
    );
    let idle: i64 = sqlx::query_scalar("SELECT idle_days FROM v_active_tokens WHERE token_id = ?")
        .bind(&used.id)
        .fetch_one(app.store.pool())
        .await
        .expect("still active");
    assert!(idle >= 30, "{idle} days idle");
}

#[tokio::test]
async fn a_rotated_token_is_gone_and_its_successor_is_not_idle() {
    let (app, used, after) = used_between_sweeps(OnUse::Rotate).await;

    assert_ne!(after.id, used.id);
    assert_eq!(log_states(&app, &used.id).await, ["withdrawn"]);
    let old = row(&app, &used.id).await;
    assert!(old.gone_at.is_some(), "the used token is gone");
    let new = row(&app, &after.id).await;
    assert_eq!(new.gone_at, None);
    assert_eq!(new.created_at, Some(revokd::store::ts(after.created)));
    assert_eq!(
        log_states(&app, &after.id).await,
        Vec::<String>::new(),
        "not planned"
    );
}
