//! Throttling and transient failures are waited out: nothing is lost, and retries wait as
//! long as Okta asks and say what they retry.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use revokd::config::Mode;
use revokd::sim::{Fault, FaultKind, RouteKind};
use revokd::store::SweepStatus;

use crate::helpers::{small_org, spawn_app, spawn_app_with};

/// The first whole second at or after `t`.
fn ceil_second(t: DateTime<Utc>) -> DateTime<Utc> {
    let floor = DateTime::from_timestamp(t.timestamp(), 0).expect("in range");
    if floor == t {
        floor
    } else {
        floor + TimeDelta::seconds(1)
    }
}

#[tokio::test]
async fn a_429_is_retried_no_earlier_than_a_second_past_its_reset_and_says_what_it_retries() {
    // The wait is clamped to max_backoff, so leave room for a 2 s reset.
    let app = spawn_app_with(small_org(), |c| c.okta.max_backoff = Duration::from_secs(5)).await;

    let (report, first, retry) = a_pair_throttled_once(&app).await;

    assert_eq!(report.status, SweepStatus::Ok, "{:?}", report.failures);
    let (first, retry) = (&first, &retry);
    assert_eq!((first.status, retry.status), (429, 200));
    // The sim sets Reset = receipt + 2 s rounded up to a whole second; Okta's SDKs, and
    // revokd, wait until a second past it.
    let reset = ceil_second(first.received_at_utc + TimeDelta::seconds(2));
    assert!(
        retry.received_at_utc >= reset + TimeDelta::seconds(1),
        "retried at {}, before a second past the reset {reset}",
        retry.received_at_utc
    );
    assert_eq!(retry.retry_count.as_deref(), Some("1"));
    assert_eq!(retry.retry_for.as_deref(), Some(first.request_id.as_str()));
    assert_eq!(first.retry_count, None);
    assert_eq!(report.counts.http_429, 1);
    app.assert_pairs_stored(None).await;
}

#[tokio::test]
async fn concurrency_429s_are_waited_out_and_every_token_is_stored() {
    let app = spawn_app(small_org()).await;
    app.org
        .inject(Fault::times(FaultKind::ConcurrencyLimited, 2));

    let report = app.sweep(Mode::DryRun).await;

    assert_eq!(report.status, SweepStatus::Ok, "{:?}", report.failures);
    assert_eq!(app.org.stats().concurrency_limited, 2, "the faults fired");
    assert_eq!(report.counts.http_429_concurrency, 2);
    app.assert_pairs_stored(None).await;
}

#[tokio::test]
async fn a_burst_of_503s_is_retried_and_every_token_is_stored() {
    let app = spawn_app(small_org()).await;
    app.org.inject(Fault::times(FaultKind::Status(503), 2));

    let report = app.sweep(Mode::DryRun).await;

    assert_eq!(report.status, SweepStatus::Ok, "{:?}", report.failures);
    assert_eq!(app.org.stats().server_errors, 2, "the faults fired");
    let retried = app
        .org
        .requests()
        .into_iter()
        .filter(|r| r.route == RouteKind::ListTokens && r.retry_count.is_some())
        .count();
    assert_eq!(retried, 2, "each 503 is followed by a retry");
    app.assert_pairs_stored(None).await;
}

#[tokio::test]
async fn a_429_without_okta_rate_headers_is_retried_after_its_retry_after() {
    // An edge or a proxy in front of Okta throttles: no X-Rate-Limit-*, only Retry-After.
    let app = spawn_app_with(small_org(), |c| c.okta.max_backoff = Duration::from_secs(5)).await;
    let (user, client) = app.small_pair();
    app.org.inject(Fault {
        user: Some(user.clone()),
        client: Some(client.clone()),
        kind: FaultKind::RateLimitedBare {
            retry_after: Some(2),
        },
        times: Some(1),
    });

    let report = app.sweep(Mode::DryRun).await;

    assert_eq!(report.status, SweepStatus::Ok, "{:?}", report.failures);
    let path = format!("/api/v1/users/{user}/clients/{client}/tokens");
    let requests: Vec<_> = (app.org.requests().into_iter())
        .filter(|r| r.path_and_query.starts_with(&path))
        .collect();
    let (first, retry) = (&requests[0], &requests[1]);
    assert_eq!((first.status, retry.status), (429, 200), "{requests:#?}");
    assert!(
        retry.received_at - first.received_at >= Duration::from_secs(2),
        "retried {:?} after the 429 that asked for 2 s",
        retry.received_at - first.received_at
    );
    assert_eq!(report.counts.http_429, 1);
    app.assert_pairs_stored(None).await;
}

/// Okta's clock may differ from this host's: a 429 is waited out by `Reset − Date`, both on
/// Okta's clock, so the retry comes a second past the reset whichever way the clocks differ,
/// neither at once (Okta behind) nor after an hour's wait cut to `max_backoff` (Okta ahead).
#[tokio::test]
async fn a_429_is_waited_out_on_oktas_clock_when_it_differs_from_this_hosts() {
    for skew in [-3_600, 3_600] {
        let sim = revokd::sim::SimConfig {
            clock_skew_secs: skew,
            ..small_org()
        };
        let app = spawn_app_with(sim, |c| c.okta.max_backoff = Duration::from_secs(60)).await;

        let (report, first, retry) = a_pair_throttled_once(&app).await;

        assert_eq!(
            report.status,
            SweepStatus::Ok,
            "{skew}: {:?}",
            report.failures
        );
        let reset = ceil_second(first.received_at_utc + TimeDelta::seconds(2));
        assert!(
            retry.received_at_utc >= reset + TimeDelta::seconds(1),
            "{skew}: early"
        );
        let waited = retry.received_at_utc - first.received_at_utc;
        assert!(waited < TimeDelta::seconds(30), "{skew}: waited {waited}");
    }
}

/// Throttles the first listing request of `app`'s small pair with a 429 whose reset is 2 s
/// away, sweeps, and returns the sweep and the pair's two requests (the 429, the retry).
async fn a_pair_throttled_once(
    app: &crate::helpers::TestApp,
) -> (
    revokd::sweep::SweepReport,
    revokd::sim::RequestRecord,
    revokd::sim::RequestRecord,
) {
    let (user, client) = app.small_pair();
    app.org.inject(Fault {
        user: Some(user.clone()),
        client: Some(client.clone()),
        kind: FaultKind::RateLimited {
            reset_in: Duration::from_secs(2),
        },
        times: Some(1),
    });
    let report = app.sweep(Mode::DryRun).await;
    let path = format!("/api/v1/users/{user}/clients/{client}/tokens");
    let mut requests: Vec<_> = (app.org.requests().into_iter())
        .filter(|r| r.path_and_query.starts_with(&path))
        .collect();
    assert_eq!(requests.len(), 2, "{requests:#?}");
    let retry = requests.pop().expect("two");
    (report, requests.pop().expect("two"), retry)
}
