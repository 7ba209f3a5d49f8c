//! Two passes listing one app at once (a `revokd sweep --dry-run` while the daemon's sweep
//! lists it): the listing under way stays the running sweep's, and the other pass lists the
//! app whole on its own, without advancing, counting into or completing that listing.

use chrono::Utc;
use revokd::config::Mode;
use revokd::sim::{Fault, FaultKind, RouteKind};
use revokd::store::{SweepStatus, Trigger};
use revokd::sweep::{SweepPlan, run_once};

use crate::apps::{apps, biggest_app, spawn, sweep};

#[tokio::test(flavor = "multi_thread")]
async fn a_second_pass_leaves_the_running_sweeps_app_listing_alone() {
    let app = spawn(20).await;
    let (client, n) = biggest_app(&app.org);
    // The running sweep's second page is never answered: it stays in flight.
    app.org.inject(Fault {
        times: Some(1),
        ..Fault::always(FaultKind::HangBeforeNth {
            route: RouteKind::AppListTokens,
            after: 1,
        })
    });
    let plan = SweepPlan {
        named_targets: false,
        trigger: Trigger::Schedule,
        mode: Mode::DryRun,
        targets: Vec::new(),
        wide: apps(&[&client]),
    };
    let (deps, now) = (app.deps.clone(), app.now);
    let running = tokio::spawn(async move { run_once(&deps, &plan, now).await });
    app.org.until_hung(1).await;
    let owner = app.store.app_listing(&client).await.unwrap().unwrap();
    assert_eq!((owner.pages, owner.tokens), (1, 20));

    let second = sweep(&app, Mode::DryRun, Vec::new(), apps(&[&client])).await;

    let tally = &second.apps[0];
    assert!(tally.complete && !tally.resumed, "{tally:?}");
    assert_eq!(
        tally.tokens, n as u64,
        "the second pass listed the app whole"
    );
    let after = app.store.app_listing(&client).await.unwrap().unwrap();
    assert_eq!(after, owner, "the running sweep's listing is untouched");
    let gone: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tokens WHERE gone_at IS NOT NULL")
        .fetch_one(app.store.pool())
        .await
        .unwrap();
    assert_eq!(gone, 0);

    // The running sweep ends (its process stopped): the next pass continues its listing.
    running.abort();
    let (schedule, aborted) = (Trigger::Schedule, SweepStatus::Aborted);
    let since = Utc::now() - chrono::Duration::hours(1);
    let closed = app
        .store
        .close_running_sweeps(schedule, since, aborted, "stopped", Utc::now());
    assert_eq!(closed.await.unwrap(), 1);
    let third = sweep(&app, Mode::DryRun, Vec::new(), apps(&[&client])).await;
    assert!(
        third.apps[0].resumed && third.apps[0].complete,
        "{:?}",
        third.apps
    );
    let done = app.store.app_listing(&client).await.unwrap().unwrap();
    assert!(
        done.completed_at.is_some() && done.next_url.is_none(),
        "{done:?}"
    );
    assert_eq!(done.tokens, n as i64, "each token counted once");
}
