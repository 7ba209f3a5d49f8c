//! The revocation gate just before each DELETE is sent, not only when a revocation is first
//! cleared: a sweep's retry and an offboarding's revoke-all, each held back by Okta (the
//! request parked unanswered until the client's timeout), while the configuration put in
//! force changes under them. Each test counts what the simulated org RECEIVED.

use std::sync::Arc;
use std::time::Duration;

use revokd::config::{ExemptionConfig, Mode, PolicyConfig};
use revokd::policy::PolicySet;
use revokd::sim::{Fault, FaultKind, RouteKind, SimOrg};

use crate::gate::deletes;
use crate::helpers::{TestApp, admin_policy, admin_policy_selects, small_org, spawn_app_with};

/// Parks the first request of `route` (of the pair `only`, if given) unanswered.
fn park_first(org: &SimOrg, route: RouteKind, only: Option<(&str, &str)>) {
    org.inject(Fault {
        user: only.map(|(u, _)| u.to_owned()),
        client: only.map(|(_, c)| c.to_owned()),
        kind: FaultKind::HangBefore(route),
        times: Some(1),
    });
}

/// The policies in force once `exemption` is added to `policies`.
fn with_exemption(policies: &[PolicyConfig], exemption: ExemptionConfig) -> Arc<PolicySet> {
    Arc::new(PolicySet::from_config(policies, &[exemption]).expect("valid"))
}

/// The token id a DELETE path ends with.
fn token_of(path: &str) -> String {
    path.rsplit('/').next().unwrap_or_default().to_owned()
}

/// Once the first DELETE is parked, exempts its token (as a daemon's reload would, keeping the
/// admin policy); returns the DELETE's path and the token.
async fn exempt_the_parked_delete(app: &TestApp) -> (String, String) {
    app.org.until_hung(1).await;
    let (path, _) = deletes(&app.org).into_iter().next().expect("a DELETE");
    let token = token_of(&path);
    app.deps
        .gate
        .put_in_force(with_exemption(&[admin_policy()], late(&token)));
    (path, token)
}

/// The exemption of `token` put in force while the run goes.
fn late(token: &str) -> ExemptionConfig {
    ExemptionConfig {
        name: Some("late".into()),
        tokens: vec![token.to_owned()],
        ..ExemptionConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_exempted_while_its_delete_waits_for_a_retry_is_withdrawn_not_resent() {
    let app = spawn_app_with(small_org(), |c| {
        c.policies = vec![admin_policy()];
        c.okta.timeout = Duration::from_secs(1);
        c.okta.max_retries = 3;
    })
    .await;
    let selected = admin_policy_selects(&app.org, app.now);
    assert!(selected.len() >= 2, "the policy selects several tokens");
    park_first(&app.org, RouteKind::RevokeToken, None);

    // While the first DELETE hangs, the operator exempts its token (a daemon's reload).
    let exempt = exempt_the_parked_delete(&app);
    let (report, (path, token)) = tokio::join!(app.sweep(Mode::Enforce), exempt);

    let sent: Vec<_> = deletes(&app.org)
        .into_iter()
        .filter(|(p, _)| *p == path)
        .collect();
    assert_eq!(
        sent.len(),
        1,
        "only the parked DELETE reached Okta: {sent:?}"
    );
    assert!(
        app.org.all_tokens().iter().any(|t| t.id == token),
        "the exempt token is still in the org"
    );
    let rows: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT state, error FROM revocations WHERE token_id = ? AND intent_id IS NOT NULL",
    )
    .bind(&token)
    .fetch_all(app.store.pool())
    .await
    .unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].0, "withdrawn", "{rows:?}");
    let why = rows[0].1.as_deref().unwrap_or_default();
    assert!(why.contains("exempt now"), "{why}");
    assert!(why.contains("may have taken effect"), "{why}");
    assert_eq!(
        report.counts.revocations_done,
        selected.len() as u64 - 1,
        "the rest are revoked"
    );
}

/// The parked DELETE took effect in Okta, only its answer never came: the retry the gate
/// withdraws finds the token gone, and the revocation is `done` by that earlier attempt.
#[tokio::test(flavor = "multi_thread")]
async fn a_withdrawn_retry_after_an_attempt_that_took_effect_is_done_not_withdrawn() {
    for lists_revoked in [false, true] {
        a_withdrawn_retry_after_an_attempt_that_took_effect(lists_revoked).await;
    }
}

/// The test above, with an org that drops a revoked token (Okta answers the check 404) or
/// keeps listing it (200, `REVOKED`).
async fn a_withdrawn_retry_after_an_attempt_that_took_effect(lists_revoked: bool) {
    let sim = revokd::sim::SimConfig {
        lists_revoked,
        ..small_org()
    };
    let app = spawn_app_with(sim, |c| {
        c.policies = vec![admin_policy()];
        c.okta.timeout = Duration::from_secs(1);
        c.okta.max_retries = 3;
    })
    .await;
    let selected = admin_policy_selects(&app.org, app.now);
    app.org.inject(Fault {
        user: None,
        client: None,
        kind: FaultKind::HangAfter(RouteKind::RevokeToken),
        times: Some(1),
    });
    let exempt = exempt_the_parked_delete(&app);
    let (report, (path, token)) = tokio::join!(app.sweep(Mode::Enforce), exempt);

    let sent = deletes(&app.org)
        .into_iter()
        .filter(|(p, _)| *p == path)
        .count();
    assert_eq!(sent, 1, "the retry was not sent");
    assert!(app.org.revoked().iter().any(|r| r.token.id == token));
    let rows: Vec<(String, Option<String>, Option<i64>)> = sqlx::query_as(
        "SELECT state, error, http_status FROM revocations
         WHERE token_id = ? AND intent_id IS NOT NULL",
    )
    .bind(&token)
    .fetch_all(app.store.pool())
    .await
    .expect("the token's rows");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].0, "done", "{rows:?}");
    let note = rows[0].1.as_deref().unwrap_or_default();
    assert!(note.contains("earlier attempt took effect"), "{note}");
    // What Okta answered the check: gone (404), or listed as REVOKED (200).
    let (status, says) = match lists_revoked {
        false => (404, "Okta no longer has the token"),
        true => (200, "Okta lists the token REVOKED"),
    };
    assert_eq!(rows[0].2, Some(status), "{note}");
    assert!(note.contains(says), "{note}");
    assert_eq!(report.counts.revocations_done, selected.len() as u64);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_exempted_while_an_offboardings_revoke_all_waits_stays_and_the_rest_go() {
    let app = spawn_app_with(small_org(), |c| {
        c.okta.timeout = Duration::from_secs(1);
        c.okta.max_retries = 3;
    })
    .await;
    let (user, client, tokens) = app
        .org
        .pairs()
        .into_iter()
        .map(|(u, c)| {
            let tokens = app.org.tokens(&u, &c);
            (u, c, tokens)
        })
        .find(|(_, _, t)| t.len() >= 2)
        .expect("a pair with two tokens");
    let kept = tokens[0].id.clone();
    park_first(&app.org, RouteKind::RevokeAll, Some((&user, &client)));
    let job_id = app.start_cli_job(&user).await;
    let offboarding = revokd::offboard::Offboarding {
        user: revokd::okta::UserId::new(&user).unwrap(),
        clients: vec![revokd::sweep::Target {
            user: revokd::okta::UserId::new(&user).unwrap(),
            client: revokd::okta::ClientId::new(&client).unwrap(),
            source: revokd::store::TargetSource::Offboard,
        }],
        reason: "left".into(),
        job_id,
        dry_run: false,
    };
    let exempt = async {
        app.org.until_hung(1).await;
        app.deps.gate.put_in_force(with_exemption(&[], late(&kept)));
    };
    let verify = revokd::offboard::VerifySettings {
        rounds: 3,
        backoff: Duration::from_millis(10),
    };
    let (report, ()) = tokio::join!(
        revokd::offboard::offboard_user(&app.deps, &offboarding, verify),
        exempt
    );
    let report = report.unwrap();

    let whole = format!("/api/v1/users/{user}/clients/{client}/tokens");
    let all: Vec<_> = deletes(&app.org)
        .into_iter()
        .filter(|(p, _)| *p == whole)
        .collect();
    assert_eq!(
        all.len(),
        1,
        "only the parked revoke-all reached Okta: {all:?}"
    );
    let left: Vec<String> = app
        .org
        .tokens(&user, &client)
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(
        left,
        vec![kept.clone()],
        "the exempt token stays, the rest go"
    );
    assert!(
        report.stayed().iter().any(|(_, token, _)| *token == kept),
        "{:?}",
        report.stayed()
    );
    let note: Option<String> =
        sqlx::query_scalar("SELECT last_error FROM targets WHERE user_id = ? AND client_id = ?")
            .bind(&user)
            .bind(&client)
            .fetch_one(app.store.pool())
            .await
            .unwrap();
    let note = note.unwrap_or_default();
    assert!(
        note.contains("1 token(s) stayed") && note.contains("late"),
        "{note}"
    );
}
