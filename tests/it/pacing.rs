//! Pacing holds whichever way Okta counts its buckets: an enforce sweep with revocations (the
//! listings, then each DELETE followed by its verifying GET) against an org whose GETs and
//! DELETEs under `/api/v1/users/{id}/clients` draw on one bucket, against one with a bucket
//! per method and path template, and against one with a bucket for those GETs (listings and
//! verifying GETs alike) and a smaller one for those DELETEs. In each, no window the org
//! counted received more than `max_share` of its limit, and no 429 was served.

use std::time::Duration;

use revokd::config::Mode;
use revokd::sim::{BucketModel, RouteKind, SimBucket, SimConfig};

use crate::helpers::{admin_policy, admin_policy_selects, small_org, spawn_app_with};

const LIMIT: u32 = 40;

async fn enforce_sweep_stays_within_the_share(model: BucketModel) {
    let sim = SimConfig {
        users: 10,
        clients: 5,
        pairs: 40,
        big_pairs: 1,
        rate_limit_per_window: LIMIT,
        window: Duration::from_secs(1),
        bucket_model: model,
        ..small_org()
    };
    let app = spawn_app_with(sim, |c| {
        c.okta.rate_limit.max_share = 0.5;
        c.policies = vec![admin_policy()];
        c.safety.max_revocation_fraction = 1.0;
    })
    .await;
    let selected = admin_policy_selects(&app.org, app.now).len();
    assert!(selected >= 5, "the seed selects enough tokens: {selected}");
    let report = app.sweep(Mode::Enforce).await;
    assert_eq!(report.counts.targets_failed, 0, "{:?}", report.failures);
    assert_eq!(report.counts.revocations_done, selected as u64);
    let stats = app.org.stats();
    assert_eq!(
        (stats.rate_limited, stats.concurrency_limited),
        (0, 0),
        "{stats:?}"
    );
    assert_eq!(stats.route(RouteKind::RevokeToken), selected as u64);

    let windows = app.org.windows();
    for w in &windows {
        assert!(
            w.received() <= w.limit / 2,
            "{model:?}: a window received more than max_share of its limit: {w:?}\n{windows:#?}"
        );
    }
    let busy: Vec<_> = windows.iter().filter(|w| w.received() > 0).collect();
    assert!(busy.len() >= 3, "the sweep spans several windows: {busy:?}");
    if model == BucketModel::SharedUserClients {
        assert!(
            busy.iter().all(|w| w.bucket == SimBucket::UserClients),
            "every request drew on the shared bucket: {busy:?}"
        );
    }
    if model == BucketModel::UsersByMethod {
        let limit_of = |bucket| busy.iter().find(|w| w.bucket == bucket).map(|w| w.limit);
        assert_eq!(limit_of(SimBucket::UserReads), Some(LIMIT), "{busy:?}");
        assert_eq!(
            limit_of(SimBucket::UserWrites),
            Some(LIMIT * 3 / 10),
            "{busy:?}"
        );
    }
}

#[tokio::test]
async fn on_a_bucket_shared_by_gets_and_deletes_no_window_gets_more_than_max_share() {
    enforce_sweep_stays_within_the_share(BucketModel::SharedUserClients).await;
}

#[tokio::test]
async fn on_a_bucket_per_method_and_path_no_window_gets_more_than_max_share() {
    enforce_sweep_stays_within_the_share(BucketModel::PerRoute).await;
}

#[tokio::test]
async fn on_buckets_by_method_of_different_sizes_no_window_gets_more_than_max_share() {
    enforce_sweep_stays_within_the_share(BucketModel::UsersByMethod).await;
}
