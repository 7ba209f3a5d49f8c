//! The audit watch: a chain broken when the daemon starts is notified at its first check, and
//! an edit made while it runs is notified once the whole walk that sees it is done, once.

use tokio::time::Instant;

use super::check_at;
use crate::daemon::audit_check::RECHECK;
use crate::daemon::audit_check::tests::row;
use crate::daemon::context::Context;
use crate::store::Store;

fn context(store: &Store) -> Context {
    Context::for_test(
        store.clone(),
        "[okta]\norg_url = \"http://127.0.0.1:9\"\napi_token = \"watch-test\"\n\
         [[targets]]\nuser = \"00u1\"\nclient = \"0oa1\"\n",
    )
}

async fn append(store: &Store, token: &str) {
    store.append_revocation(&row(token)).await.unwrap();
}

async fn run(store: &Store, sql: &str) {
    sqlx::query(sql).execute(store.pool()).await.unwrap();
}

/// The `audit_broken` events in the outbox, by subject.
async fn notified(store: &Store) -> Vec<String> {
    let outbox = store.outbox().await.unwrap();
    outbox
        .into_iter()
        .filter(|e| e.kind == "audit_broken")
        .map(|e| e.subject)
        .collect()
}

#[sqlx::test(migrations = "./migrations")]
async fn a_chain_broken_at_start_is_notified_at_the_first_check(pool: sqlx::SqlitePool) {
    let store = Store::from_pool(pool).await.unwrap();
    append(&store, "oar1").await;
    append(&store, "oar2").await;
    run(&store, "DROP TRIGGER revocations_are_append_only_update").await;
    run(&store, "UPDATE revocations SET reason = 'x' WHERE id = 2").await;
    let ctx = context(&store);
    let mut reported = None;
    check_at(&ctx, Instant::now(), &mut reported).await;
    let subjects = notified(&store).await;
    assert!(
        subjects.len() == 1 && subjects[0].starts_with("audit:2:"),
        "{subjects:?}"
    );
    assert_eq!(reported, Some(2));
}

#[sqlx::test(migrations = "./migrations")]
async fn an_edit_while_running_is_notified_once_after_the_walk_that_sees_it(
    pool: sqlx::SqlitePool,
) {
    let store = Store::from_pool(pool).await.unwrap();
    append(&store, "oar1").await;
    let ctx = context(&store);
    let (t0, mut reported) = (Instant::now(), None);
    check_at(&ctx, t0, &mut reported).await;
    assert!(notified(&store).await.is_empty());

    run(&store, "DROP TRIGGER revocations_are_append_only_update").await;
    run(&store, "UPDATE revocations SET reason = 'x' WHERE id = 1").await;
    // A minute on the whole walk starts; its verdict is for the next check.
    check_at(&ctx, t0 + RECHECK, &mut reported).await;
    ctx.audit_check.wait_for_walk().await;
    assert!(notified(&store).await.is_empty());
    for _ in 0..3 {
        check_at(&ctx, t0 + RECHECK, &mut reported).await;
    }
    let subjects = notified(&store).await;
    assert!(
        subjects.len() == 1 && subjects[0].starts_with("audit:1:"),
        "{subjects:?}"
    );
    assert_eq!(reported, Some(1));
}

/// Checks at `at` until the whole walk due then has ended and its verdict is read.
async fn settle(ctx: &Context, at: Instant, reported: &mut Option<i64>) {
    check_at(ctx, at, reported).await;
    ctx.audit_check.wait_for_walk().await;
    for _ in 0..3 {
        check_at(ctx, at, reported).await;
    }
}

/// A record edited, put back (the chain verifies again), then edited again is a second break:
/// notified again, though at the same record.
#[sqlx::test(migrations = "./migrations")]
async fn a_record_broken_again_after_a_repair_is_notified_again(pool: sqlx::SqlitePool) {
    let store = Store::from_pool(pool).await.unwrap();
    append(&store, "oar1").await;
    let ctx = context(&store);
    let (t0, mut reported) = (Instant::now(), None);
    check_at(&ctx, t0, &mut reported).await;
    run(&store, "DROP TRIGGER revocations_are_append_only_update").await;
    run(
        &store,
        "UPDATE revocations SET user_id = '00u9' WHERE id = 1",
    )
    .await;
    settle(&ctx, t0 + RECHECK, &mut reported).await;
    assert_eq!(notified(&store).await.len(), 1);

    run(
        &store,
        "UPDATE revocations SET user_id = '00u1' WHERE id = 1",
    )
    .await;
    settle(&ctx, t0 + RECHECK * 2, &mut reported).await;
    assert_eq!(reported, None, "the chain verifies again");
    run(
        &store,
        "UPDATE revocations SET user_id = '00u8' WHERE id = 1",
    )
    .await;
    settle(&ctx, t0 + RECHECK * 3, &mut reported).await;
    let subjects = notified(&store).await;
    assert_eq!(subjects.len(), 2, "{subjects:?}");
    assert_eq!(reported, Some(1));
    // A break already notified, seen again after a restart (a new watch), is not sent again.
    let (ctx, mut fresh) = (context(&store), None);
    settle(&ctx, t0 + RECHECK * 4, &mut fresh).await;
    assert_eq!(notified(&store).await.len(), 2);
    // Put back while no daemon runs: the next one sees the chain verify, then the record
    // edited anew, a break of its own though the outbox holds events of that record.
    run(
        &store,
        "UPDATE revocations SET user_id = '00u1' WHERE id = 1",
    )
    .await;
    let (ctx, mut fresh) = (context(&store), None);
    settle(&ctx, t0 + RECHECK * 5, &mut fresh).await;
    assert_eq!(fresh, None, "the chain verifies again");
    run(
        &store,
        "UPDATE revocations SET user_id = '00u7' WHERE id = 1",
    )
    .await;
    settle(&ctx, t0 + RECHECK * 6, &mut fresh).await;
    assert_eq!(notified(&store).await.len(), 3);
}
