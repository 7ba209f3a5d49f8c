//! An offboarding's revoke-all (`DELETE …/clients/{clientId}/tokens`) is a revocation of the
//! pair in its own right, recorded as one: an intent with no token id committed before the
//! DELETE and closed with Okta's answer. It covers a token no listing showed (issued while the
//! DELETE was on its way), and an intent a failed revoke-all or an interrupted try left open is
//! closed, so nothing stays pending for ever.

use std::collections::BTreeSet;

use chrono::Utc;
use revokd::config::Mode;
use revokd::offboard::{Offboarding, VerifySettings, offboard_user};
use revokd::okta::UserId;
use revokd::sim::{Fault, FaultKind, RevokeHow, RouteKind, SimConfig};
use revokd::store::{NewRevocation, RevocationState, RevocationTrigger, ts};
use sqlx::SqlitePool;

use crate::helpers::{TestApp, small_org, spawn_app};
use crate::offboard::user_with_two_clients;

/// A pair-level row: `(id, intent_id, state, attempts, http_status, okta_request_id, error,
/// requested_at, completed_at, verified)`.
type PairRow = (
    i64,
    Option<i64>,
    String,
    i64,
    Option<i64>,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
    bool,
);

/// Every row with no token id of the pair, in chain order.
async fn pair_rows(pool: &SqlitePool, user: &str, client: &str) -> Vec<PairRow> {
    sqlx::query_as(
        "SELECT id, intent_id, state, attempts, http_status, okta_request_id, error,
                requested_at, completed_at, verified_at IS NOT NULL
         FROM revocations WHERE token_id IS NULL AND user_id = ? AND client_id = ? ORDER BY id",
    )
    .bind(user)
    .bind(client)
    .fetch_all(pool)
    .await
    .expect("pair rows")
}

/// Open intents (pending, failed, irrevocable) with no token id.
async fn open_pair_intents(pool: &SqlitePool) -> i64 {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM v_revocation_state
         WHERE token_id IS NULL AND state IN ('pending', 'failed', 'irrevocable')",
    )
    .fetch_one(pool)
    .await
    .expect("count")
}

/// The `X-Okta-Request-Id`s of the revoke-alls of the pair, in order.
fn revoke_all_request_ids(app: &TestApp, user: &str, client: &str) -> Vec<String> {
    let path = format!("/api/v1/users/{user}/clients/{client}/tokens");
    app.org
        .requests()
        .into_iter()
        .filter(|r| r.route == RouteKind::RevokeAll && r.path_and_query == path)
        .map(|r| r.request_id)
        .collect()
}

/// Runs (again) the offboarding of `user` as job `job_id`, enforced.
async fn run_job(app: &TestApp, user: &str, job_id: i64) -> revokd::offboard::OffboardReport {
    let offboarding = Offboarding {
        user: UserId::new(user).expect("a user id"),
        clients: Vec::new(),
        reason: "left".into(),
        job_id,
        dry_run: false,
    };
    offboard_user(&app.deps, &offboarding, VerifySettings::default())
        .await
        .expect("the database does not fail")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_revoke_all_is_recorded_for_the_pair_and_covers_a_token_no_listing_showed() {
    let app = spawn_app(small_org()).await;
    let (user, clients) = user_with_two_clients(&app.org);
    let client = clients[0].clone();
    let listed: BTreeSet<String> = app
        .org
        .tokens(&user, &client)
        .into_iter()
        .map(|t| t.id)
        .collect();
    app.org.inject(Fault {
        user: Some(user.clone()),
        client: Some(client.clone()),
        kind: FaultKind::IssuedFirst,
        times: Some(1),
    });

    let (_, report) = app.offboard(&user).await;
    assert!(report.succeeded(), "{report:?}");

    // The org revoked a token revokd never listed, with the revoke-all.
    let unseen: Vec<_> = app
        .org
        .revoked()
        .into_iter()
        .filter(|r| r.token.user_id == user && r.token.client_id == client)
        .filter(|r| !listed.contains(&r.token.id))
        .collect();
    assert_eq!(unseen.len(), 1, "{unseen:?}");
    assert_eq!(unseen[0].how, RevokeHow::AllForPair);
    let pool = app.store.pool();
    let named: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM revocations WHERE token_id = ?")
        .bind(&unseen[0].token.id)
        .fetch_one(pool)
        .await
        .expect("count");
    assert_eq!(named, 0, "no listing showed it, so no row names it");

    // The pair's own revocation: an intent before the DELETE, closed with Okta's answer.
    let rows = pair_rows(pool, &user, &client).await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    let (intent, closing) = (&rows[0], &rows[1]);
    assert_eq!((intent.1, intent.2.as_str()), (None, "pending"));
    assert_eq!(closing.1, Some(intent.0));
    assert_eq!(closing.2, "done");
    assert_eq!(closing.3, 1, "one DELETE sent");
    assert_eq!(closing.4, Some(204));
    assert!(
        closing.9,
        "the listing after it showed the pair's tokens gone"
    );
    assert_eq!(
        revoke_all_request_ids(&app, &user, &client),
        vec![closing.5.clone().expect("Okta's request id")]
    );
    let revoked_at = ts(unseen[0].at);
    assert!(intent.7 <= revoked_at, "the intent precedes the DELETE");
    assert!(closing.8.as_deref() >= Some(revoked_at.as_str()));
    // Every client of the user was revoked whole, and recorded so.
    for c in &clients {
        let rows = pair_rows(pool, &user, c).await;
        assert_eq!(
            rows.last().map(|r| r.2.as_str()),
            Some("done"),
            "{c}: {rows:?}"
        );
    }
    assert_eq!(open_pair_intents(pool).await, 0);
    assert!(app.store.verify_audit().await.expect("read").is_ok());
    // The overview counts tokens revoked, not the revoke-alls beside them.
    let tokens: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM v_revocation_log WHERE token_id IS NOT NULL AND state = 'done'",
    )
    .fetch_one(pool)
    .await
    .expect("count");
    assert!(tokens > 0);
    let config = revokd::config::Config::default();
    let overview = revokd::report::overview::build(&app.store, &config, None, Utc::now())
        .await
        .expect("the overview");
    assert_eq!(overview.tokens_revoked, tokens);
}

/// Offboards a user whose first revoke-all of one client meets `fault`: that attempt is
/// `failed` with Okta's answer (`status`), and the next round's revoke-all is the same intent's
/// next attempt, `done` once the tokens are seen gone.
async fn failed_then_done(fault: FaultKind, status: i64) {
    let app = spawn_app(small_org()).await;
    let (user, clients) = user_with_two_clients(&app.org);
    let client = clients[0].clone();
    app.org.inject(Fault {
        user: Some(user.clone()),
        client: Some(client.clone()),
        kind: fault,
        times: Some(1),
    });

    let (_, report) = app.offboard(&user).await;
    assert!(report.succeeded(), "{report:?}");
    assert!(app.org.tokens(&user, &client).is_empty());

    let rows = pair_rows(app.store.pool(), &user, &client).await;
    let first = rows[0].0;
    let states: Vec<_> = rows.iter().map(|r| (r.1, r.2.as_str(), r.3)).collect();
    // The next round's revoke-all is a retry of the intent, recorded `pending` before it.
    let want = [
        (None, "pending", 0),
        (Some(first), "failed", 1),
        (Some(first), "pending", 1),
        (Some(first), "done", 2),
    ];
    assert_eq!(states, want, "{rows:?}");
    let ids = revoke_all_request_ids(&app, &user, &client);
    assert_eq!(ids.len(), 2);
    assert_eq!(rows[1].4, Some(status));
    assert_eq!(rows[1].5.as_ref(), Some(&ids[0]));
    assert!(
        rows[1].6.as_deref().is_some_and(|e| !e.is_empty()),
        "{rows:?}"
    );
    assert_eq!((rows[3].4, rows[3].5.as_ref()), (Some(204), Some(&ids[1])));
    assert!(
        !rows[1].9 && !rows[2].9 && rows[3].9,
        "only the attempt after which they were gone is verified"
    );
    assert_eq!(open_pair_intents(app.store.pool()).await, 0);
    assert!(app.store.verify_audit().await.expect("read").is_ok());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_revoke_all_is_failed_and_the_next_rounds_attempt_closes_it() {
    failed_then_done(FaultKind::RevocationStatus(403), 403).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_revoke_all_answered_204_that_left_the_tokens_listed_is_not_done() {
    failed_then_done(FaultKind::IgnoreRevocation, 204).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_revoke_all_intent_an_interrupted_try_left_is_settled_when_the_job_is_tried_again() {
    let app = spawn_app(small_org()).await;
    let (user, clients) = user_with_two_clients(&app.org);
    let (held, emptied) = (clients[0].clone(), clients[1].clone());
    // The second client's tokens went before the try again: its interrupted revoke-all may
    // have taken effect.
    for t in app.org.tokens(&user, &emptied) {
        assert!(app.org.revoke_out_of_band(&user, &emptied, &t.id));
    }
    let job_id = app.start_cli_job(&user).await;
    let interrupted = |client: &str| NewRevocation {
        job_id: Some(job_id),
        reason: Some("left".into()),
        ..NewRevocation::new(
            None,
            user.as_str(),
            client,
            RevocationTrigger::Offboard,
            Mode::Enforce,
            RevocationState::Pending,
            ts(Utc::now()),
        )
    };
    let ids = app
        .store
        .append_revocations(&[interrupted(&held), interrupted(&emptied)])
        .await
        .expect("appended");

    let report = run_job(&app, &user, job_id).await;
    assert!(report.succeeded(), "{report:?}");

    let pool = app.store.pool();
    // Tokens were still listed: the interrupted attempt is failed, and this try's revoke-all
    // is the intent's next attempt, recorded `pending` before it.
    let held_rows = pair_rows(pool, &user, &held).await;
    let states: Vec<_> = held_rows.iter().map(|r| (r.1, r.2.as_str(), r.3)).collect();
    let want = [
        (None, "pending", 0),
        (Some(ids[0]), "failed", 1),
        (Some(ids[0]), "pending", 1),
        (Some(ids[0]), "done", 2),
    ];
    assert_eq!(states, want, "{held_rows:?}");
    let emptied_rows = pair_rows(pool, &user, &emptied).await;
    assert_eq!(emptied_rows.len(), 2, "{emptied_rows:?}");
    assert_eq!(emptied_rows[1].1, Some(ids[1]));
    assert_eq!(emptied_rows[1].2, "already_gone", "nothing was listed");
    assert!(emptied_rows[1].9, "verified by the listing");
    assert_eq!(open_pair_intents(pool).await, 0);
    assert!(app.store.verify_audit().await.expect("read").is_ok());
}

/// An earlier job of `user` that ended failed with its revoke-all of `client` failed: no
/// try of it is left. Returns the job and the intent.
async fn ended_job_with_a_failed_revoke_all(app: &TestApp, user: &str, client: &str) -> (i64, i64) {
    let earlier = app.start_cli_job(user).await;
    let intent = NewRevocation {
        job_id: Some(earlier),
        reason: Some("earlier".into()),
        ..NewRevocation::new(
            None,
            user,
            client,
            RevocationTrigger::Offboard,
            Mode::Enforce,
            RevocationState::Pending,
            ts(Utc::now()),
        )
    };
    let id = app
        .store
        .append_revocation(&intent)
        .await
        .expect("appended");
    let failed = NewRevocation {
        intent_id: Some(id),
        state: RevocationState::Failed,
        attempts: 1,
        http_status: Some(503),
        ..intent.clone()
    };
    app.store
        .append_revocation(&failed)
        .await
        .expect("appended");
    (app.store)
        .finish_job(
            earlier,
            revokd::store::JobState::Failed,
            Some("x"),
            Utc::now(),
        )
        .await
        .expect("finished");
    (earlier, id)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_revoke_all_of_a_finished_job_is_withdrawn_by_the_next_offboarding() {
    let app = spawn_app(small_org()).await;
    let (user, clients) = user_with_two_clients(&app.org);
    let client = clients[0].clone();
    let (earlier, id) = ended_job_with_a_failed_revoke_all(&app, &user, &client).await;

    let (later, report) = app.offboard(&user).await;
    assert!(report.succeeded(), "{report:?}");

    type Row = (Option<i64>, String, Option<i64>, Option<String>);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT intent_id, state, job_id, reason FROM revocations
         WHERE token_id IS NULL AND client_id = ? ORDER BY id",
    )
    .bind(&client)
    .fetch_all(app.store.pool())
    .await
    .expect("rows");
    let earlier_job = (Some(earlier), Some("earlier".to_owned()));
    assert_eq!(
        (rows[2].0, rows[2].1.as_str()),
        (Some(id), "withdrawn"),
        "{rows:?}"
    );
    assert_eq!(
        (rows[2].2, rows[2].3.clone()),
        earlier_job,
        "kept as the earlier job's"
    );
    assert_eq!(rows[3].2, Some(later));
    assert_eq!(rows.last().map(|r| r.1.as_str()), Some("done"));
    assert_eq!(open_pair_intents(app.store.pool()).await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pair_okta_no_longer_names_is_visited_to_settle_its_failed_revoke_all() {
    // Okta names a client only while the user holds a grant or token of it.
    let app = spawn_app(SimConfig {
        user_clients_held_only: true,
        ..small_org()
    })
    .await;
    let (user, clients) = user_with_two_clients(&app.org);
    let client = clients[0].clone();
    let (_, id) = ended_job_with_a_failed_revoke_all(&app, &user, &client).await;
    // Its tokens went since (no sweep recorded them): nothing but the intent names the pair.
    for t in app.org.tokens(&user, &client) {
        assert!(app.org.revoke_out_of_band(&user, &client, &t.id));
    }

    let (_, report) = app.offboard(&user).await;
    assert!(report.succeeded(), "{report:?}");

    let rows = pair_rows(app.store.pool(), &user, &client).await;
    let last = rows.last().expect("rows");
    assert_eq!(
        (last.1, last.2.as_str(), last.9),
        (Some(id), "already_gone", true),
        "{rows:?}"
    );
    assert_eq!(open_pair_intents(app.store.pool()).await, 0);
}
