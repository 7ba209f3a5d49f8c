//! The offboarding worker's retry of failed revocations, against the simulated org: an idle
//! worker reads the open intents once, not at every pass, and an intent the clock alone makes
//! due is still retried from that reading.

use chrono::{Duration, Utc};

use super::retry_due_at;
use crate::config::Mode;
use crate::daemon::context::Context;
use crate::sim::{SimConfig, SimOrg};
use crate::store::{self, NewRevocation, RevocationState, RevocationTrigger, Store};

const TOKEN: &str = "00test-retry-token";

#[sqlx::test(migrations = "./migrations")]
async fn an_idle_worker_reads_the_open_intents_once_and_retries_one_the_clock_makes_due(
    pool: sqlx::SqlitePool,
) {
    let org = SimOrg::start(SimConfig {
        seed: 5,
        users: 2,
        clients: 1,
        pairs: 2,
        big_pairs: 0,
        api_token: TOKEN.into(),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let (user, client) = org.pairs()[0].clone();
    let token = org.tokens(&user, &client)[0].id.clone();
    let store = Store::from_pool(pool).await.unwrap();
    let toml = format!(
        "mode = \"enforce\"\n[okta]\norg_url = \"{}\"\napi_token = \"{TOKEN}\"\n\
         [[targets]]\nuser = \"{user}\"\nclient = \"{client}\"\n",
        org.base_url()
    );
    let ctx = Context::for_test(store.clone(), &toml);

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
