//! The offboarding worker's retry of failed revocations, against the simulated org: an idle
//! worker reads the open intents once, not at every pass, and an intent the clock alone makes
//! due is still retried from that reading; it retries the intents of ended jobs only. And a
//! stopped job's interrupted revocations are settled by reconciliation without a DELETE.

use chrono::{Duration, Utc};

use super::retry_due_at;
use crate::config::Mode;
use crate::daemon::context::Context;
use crate::sim::{SimConfig, SimOrg};
use crate::store::{
    self, JobSource, JobState, NewJob, NewRevocation, RevocationState, RevocationTrigger, Store,
};

const TOKEN: &str = "00test-retry-token";

#[sqlx::test(migrations = "./migrations")]
async fn an_idle_worker_reads_the_open_intents_once_and_retries_one_the_clock_makes_due(
    pool: sqlx::SqlitePool,
) {
    let (org, store, ctx) = org_and_context(pool).await;
    let (user, client) = org.pairs()[0].clone();
    let token = org.tokens(&user, &client)[0].id.clone();

    // An offboarding revocation that failed, its next attempt an hour away.
    let at = Utc::now();
    let row = |state| {
        NewRevocation::new(
            Some(token.clone()),
            &user,
            &client,
            RevocationTrigger::Offboard,
            Mode::Enforce,
            state,
            store::ts(at),
        )
    };
    let intent = store
        .append_revocation(&row(RevocationState::Pending))
        .await
        .unwrap();
    let failed = NewRevocation {
        intent_id: Some(intent),
        attempts: 1,
        http_status: Some(500),
        next_attempt_at: Some(store::ts(at + Duration::hours(1))),
        ..row(RevocationState::Failed)
    };
    store.append_revocation(&failed).await.unwrap();

    for _ in 0..3 {
        assert_eq!(retry_due_at(&ctx, at).await.unwrap(), 0);
    }
    assert_eq!(
        ctx.open_intents.reads(),
        1,
        "nothing committed: one reading"
    );
    assert!(org.revoked().is_empty());

    // Two hours on, nothing committed in between: the same reading says it is due.
    let later = at + Duration::hours(2);
    assert_eq!(retry_due_at(&ctx, later).await.unwrap(), 1);
    assert_eq!(ctx.open_intents.reads(), 1);
    assert!(org.revoked().iter().any(|r| r.token.id == token));
    let last = store.revocations().await.unwrap().pop().unwrap();
    assert_eq!(last.intent_id, Some(intent));
    assert_eq!(last.state(), Some(RevocationState::Done));

    // The retry committed its outcome: the next pass reads again and finds nothing open.
    assert_eq!(retry_due_at(&ctx, later).await.unwrap(), 0);
    assert_eq!(ctx.open_intents.reads(), 2);
}

/// A simulated org of four pairs and a daemon context over it, enforcing.
async fn org_and_context(pool: sqlx::SqlitePool) -> (SimOrg, Store, Context) {
    let org = SimOrg::start(SimConfig {
        seed: 5,
        users: 2,
        clients: 2,
        pairs: 4,
        big_pairs: 0,
        api_token: TOKEN.into(),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let store = Store::from_pool(pool).await.unwrap();
    let (user, client) = org.pairs()[0].clone();
    let toml = format!(
        "mode = \"enforce\"\n[okta]\norg_url = \"{}\"\napi_token = \"{TOKEN}\"\n\
         [[targets]]\nuser = \"{user}\"\nclient = \"{client}\"\n",
        org.base_url()
    );
    let ctx = Context::for_test(store.clone(), &toml);
    (org, store, ctx)
}

/// A job of `user` in `state`.
async fn job_in(store: &Store, user: &str, n: usize, state: JobState) -> i64 {
    let job = NewJob {
        user_id: user.into(),
        source: JobSource::EventHook,
        event_id: Some(format!("e{n}")),
        event_type: Some("user.lifecycle.deactivate".into()),
        reason: Some("deactivated".into()),
    };
    let id = store.start_job(&job, "h:1:0", Utc::now()).await.unwrap();
    match state {
        JobState::Running => {}
        JobState::Held => store.hold_job(id, "held").await.unwrap(),
        ended => store.finish_job(id, ended, None, Utc::now()).await.unwrap(),
    }
    id
}

/// An offboarding intent of job `job` for `token` (`None`: the pair's revoke-all), `pending`,
/// and, when `failed`, failed and due an hour ago.
async fn intent_of(store: &Store, job: i64, t: (&str, &str, Option<&str>), failed: bool) -> i64 {
    let at = Utc::now() - Duration::hours(2);
    let row = |state| NewRevocation {
        job_id: Some(job),
        ..NewRevocation::new(
            t.2.map(str::to_owned),
            t.0,
            t.1,
            RevocationTrigger::Offboard,
            Mode::Enforce,
            state,
            store::ts(at),
        )
    };
    let first = row(RevocationState::Pending);
    let intent = store.append_revocation(&first).await.unwrap();
    if failed {
        let failed = NewRevocation {
            intent_id: Some(intent),
            attempts: 1,
            next_attempt_at: Some(store::ts(at + Duration::hours(1))),
            ..row(RevocationState::Failed)
        };
        store.append_revocation(&failed).await.unwrap();
    }
    intent
}

/// The latest state and error of intent `id`.
async fn latest(store: &Store, id: i64) -> (String, Option<String>) {
    sqlx::query_as("SELECT state, error FROM v_revocation_state WHERE COALESCE(intent_id, id) = ?")
        .bind(id)
        .fetch_one(store.pool())
        .await
        .unwrap()
}

/// Failed intents of a running, a held and a stopped job are not the retry's (the first two
/// carry theirs into their next try, after asking whether the event still stands; the third's
/// user is back); a done job's is retried.
#[sqlx::test(migrations = "./migrations")]
async fn the_retry_takes_the_intents_of_ended_jobs_only(pool: sqlx::SqlitePool) {
    let (org, store, ctx) = org_and_context(pool).await;
    let tokens = org.all_tokens();
    assert!(tokens.len() >= 4, "{}", tokens.len());
    let states = [
        JobState::Running,
        JobState::Held,
        JobState::Skipped,
        JobState::Done,
    ];
    for (n, (state, t)) in states.into_iter().zip(&tokens).enumerate() {
        let job = job_in(&store, &t.user_id, n, state).await;
        intent_of(&store, job, (&t.user_id, &t.client_id, Some(&t.id)), true).await;
    }

    assert_eq!(retry_due_at(&ctx, Utc::now()).await.unwrap(), 1);
    let revoked: Vec<String> = org.revoked().into_iter().map(|r| r.token.id).collect();
    assert_eq!(revoked, [tokens[3].id.clone()]);
}

/// A stopped job's interrupted revocations (`pending`) are settled against Okta without a
/// DELETE: a token still active and the pair's revoke-all are withdrawn, saying why; a token
/// gone is recorded gone.
#[sqlx::test(migrations = "./migrations")]
async fn a_stopped_jobs_interrupted_revocations_are_settled_without_a_delete(
    pool: sqlx::SqlitePool,
) {
    let (org, store, ctx) = org_and_context(pool).await;
    let (user, client) = org.pairs()[0].clone();
    let held = org.tokens(&user, &client);
    assert!(held.len() >= 2, "{}", held.len());
    assert!(org.revoke_out_of_band(&user, &client, &held[1].id));
    let job = job_in(&store, &user, 0, JobState::Skipped).await;
    let pair = (user.as_str(), client.as_str());
    let active = intent_of(&store, job, (pair.0, pair.1, Some(&held[0].id)), false).await;
    let gone = intent_of(&store, job, (pair.0, pair.1, Some(&held[1].id)), false).await;
    let whole = intent_of(&store, job, (pair.0, pair.1, None), false).await;

    let current = ctx.current();
    let lease = current.deps.gate.hold("test").await.unwrap();
    crate::sweep::reconcile(&current.deps, &current.deps.okta)
        .await
        .unwrap();
    lease.release().await;

    let deletes = org
        .requests()
        .iter()
        .filter(|r| r.method == "DELETE")
        .count();
    assert_eq!(deletes, 0);
    let (state, why) = latest(&store, active).await;
    assert_eq!(state, "withdrawn");
    let why = why.unwrap_or_default();
    assert!(
        why.contains("Okta lists it ACTIVE") && why.contains("not sent again"),
        "{why}"
    );
    assert_eq!(latest(&store, gone).await.0, "already_gone");
    // Each row settled by a GET names it: the request whose answer it records.
    let gets: Vec<String> = (org.requests().into_iter())
        .filter(|r| r.method == "GET" && r.path_and_query.contains("/tokens/"))
        .map(|r| r.request_id)
        .collect();
    for intent in [active, gone] {
        let named: Option<String> = sqlx::query_scalar(
            "SELECT okta_request_id FROM v_revocation_state WHERE COALESCE(intent_id, id) = ?",
        )
        .bind(intent)
        .fetch_one(store.pool())
        .await
        .unwrap();
        assert!(named.is_some_and(|id| gets.contains(&id)), "{gets:?}");
    }
    let (state, why) = latest(&store, whole).await;
    assert_eq!(state, "withdrawn");
    assert!(
        why.unwrap_or_default()
            .contains("its offboarding job stopped")
    );
    assert!(
        org.tokens(&user, &client)
            .iter()
            .any(|t| t.id == held[0].id)
    );
}
