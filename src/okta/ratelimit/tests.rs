//! Tests of the pacing rules: the floor, the share, probes and windows on Okta's clock.

use std::time::SystemTime;

use super::*;

fn epoch(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs()
}

fn headers(limit: u64, remaining: u64, reset_in: u64) -> RateLimitHeaders {
    let now = SystemTime::now();
    RateLimitHeaders {
        limit: Some(limit),
        remaining: Some(remaining),
        reset: Some(epoch(now) + reset_in),
        date: Some(now),
    }
}

fn goes(budget: &Budget, key: &str) -> bool {
    matches!(budget.step(key, Instant::now()), Step::Go(..))
}

/// How many requests to `key` may go now, before the next is refused.
fn allowance(budget: &Budget, key: &str) -> usize {
    (0..10_000).take_while(|_| goes(budget, key)).count()
}

#[test]
fn buckets_are_keyed_by_method_and_path_template() {
    assert_eq!(
        bucket_of(&Method::GET, "/api/v1/users/00u1/clients/0oa2/tokens"),
        "GET /api/v1/users/{id}/clients/{id}/tokens"
    );
    assert_eq!(
        bucket_of(
            &Method::DELETE,
            "/api/v1/users/00u1/clients/0oa2/tokens/oar3"
        ),
        "DELETE /api/v1/users/{id}/clients/{id}/tokens/{id}"
    );
    assert_eq!(
        bucket_of(&Method::GET, "/api/v1/users/00u1/clients"),
        "GET /api/v1/users/{id}/clients"
    );
}

#[tokio::test(start_paused = true)]
async fn a_window_ends_reset_minus_date_after_its_answer_even_when_our_clock_is_a_little_ahead() {
    let budget = Budget::new(BudgetSettings::default());
    // Okta's clock is a second behind ours: too little for the skew to be obvious.
    let okta_now = SystemTime::now() - Duration::from_secs(1);
    let date = SystemTime::UNIX_EPOCH + Duration::from_secs(epoch(okta_now));
    let rl = RateLimitHeaders {
        limit: Some(100),
        remaining: Some(99),
        reset: Some(epoch(okta_now) + 10),
        date: Some(date),
    };
    budget.acquire("b").await.complete(&rl, 200);
    // On our clock the reset is 8 to 9 s away; on Okta's, 10 s. At 9.5 s the window is
    // still open: two requests go without a probe between them.
    tokio::time::advance(Duration::from_millis(9500)).await;
    assert!(goes(&budget, "b") && goes(&budget, "b"));
    tokio::time::advance(Duration::from_millis(600)).await;
    assert!(goes(&budget, "b"), "a new window starts with a probe");
    assert!(!goes(&budget, "b"), "the rest wait for its answer");
}

#[tokio::test(start_paused = true)]
async fn the_first_request_probes_and_the_rest_wait_for_its_answer() {
    let budget = Budget::new(BudgetSettings::default());
    let probe = budget.acquire("b").await;
    assert!(!goes(&budget, "b"));
    probe.complete(&headers(100, 99, 60), 200);
    assert!(goes(&budget, "b"));
}

#[tokio::test(start_paused = true)]
async fn a_window_allows_the_share_spread_evenly_and_no_more() {
    let budget = Budget::new(BudgetSettings::default());
    budget
        .acquire("b")
        .await
        .complete(&headers(100, 99, 10), 200);
    // Share is 50 of 100; the probe used one, 49 remain for about 10 s: ~200 ms apart.
    let mut waits = Vec::new();
    for _ in 0..49 {
        match budget.step("b", Instant::now()) {
            Step::Go(w, _) => waits.push(w),
            Step::Retry(_) => panic!("refused within the share"),
        }
    }
    assert!(
        waits[1] > Duration::from_millis(150) && waits[1] < Duration::from_millis(250),
        "{:?}",
        waits[1]
    );
    assert!(waits[48] < Duration::from_secs(10));
    assert!(
        !goes(&budget, "b"),
        "the 51st must wait for the next window"
    );
}

#[tokio::test(start_paused = true)]
async fn revokd_never_takes_a_bucket_below_the_part_it_leaves_to_others() {
    let budget = Budget::new(BudgetSettings::default());
    // Others took 40 of 100: revokd may take the bucket down to 50, not to 50 of its own.
    budget
        .acquire("b")
        .await
        .complete(&headers(100, 60, 10), 200);
    assert_eq!(allowance(&budget, "b"), 10);
}

#[tokio::test(start_paused = true)]
async fn requests_to_other_buckets_count_until_an_answer_shows_them() {
    let budget = Budget::new(BudgetSettings::default());
    budget
        .acquire("get")
        .await
        .complete(&headers(100, 55, 10), 200);
    // A DELETE bucket may be the same bucket as Okta counts it: while its probe is
    // unanswered, the GET bucket has one request less.
    let delete = budget.acquire("delete").await;
    assert_eq!(allowance(&budget, "get"), 4);
    drop(delete);
    // The lowest Remaining counts, less what was in flight when its request went out.
    let budget = Budget::new(BudgetSettings::default());
    budget
        .acquire("get")
        .await
        .complete(&headers(100, 60, 10), 200);
    let first = budget.acquire("get").await;
    let second = budget.acquire("get").await;
    second.complete(&headers(100, 57, 10), 200);
    first.complete(&headers(100, 58, 10), 200);
    assert_eq!(allowance(&budget, "get"), 6);
}

#[tokio::test(start_paused = true)]
async fn a_bucket_never_used_waits_while_a_known_bucket_is_at_its_floor() {
    let budget = Budget::new(BudgetSettings::default());
    budget
        .acquire("get")
        .await
        .complete(&headers(100, 50, 10), 200);
    assert!(!goes(&budget, "delete"), "it may be the same bucket");
    tokio::time::advance(Duration::from_secs(11)).await;
    assert!(goes(&budget, "delete"));
}

#[tokio::test(start_paused = true)]
async fn a_429_closes_the_bucket_until_its_reset() {
    let budget = Budget::new(BudgetSettings::default());
    budget.acquire("b").await.complete(&headers(100, 0, 5), 429);
    assert!(!goes(&budget, "b"));
    tokio::time::advance(Duration::from_secs(6)).await;
    assert!(
        matches!(
            budget.step("b", Instant::now()),
            Step::Go(Duration::ZERO, _)
        ),
        "a new window starts with a probe"
    );
}

#[tokio::test(start_paused = true)]
async fn an_unanswered_probe_releases_its_claim() {
    let budget = Budget::new(BudgetSettings::default());
    drop(budget.acquire("b").await);
    assert!(goes(&budget, "b"));
}

#[tokio::test(start_paused = true)]
async fn requests_per_minute_spaces_requests_evenly() {
    let budget = Budget::new(BudgetSettings {
        requests_per_minute: Some(120),
        ..BudgetSettings::default()
    });
    let waits: Vec<_> = (0..3).map(|_| budget.rpm_wait()).collect();
    assert_eq!(
        waits,
        vec![
            Duration::ZERO,
            Duration::from_millis(500),
            Duration::from_secs(1)
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_window_okta_opened_before_ours_ended_gives_the_whole_share_again() {
    let budget = Budget::new(BudgetSettings::default());
    budget
        .acquire("b")
        .await
        .complete(&headers(100, 99, 10), 200);
    for i in 1..40 {
        budget
            .acquire("b")
            .await
            .complete(&headers(100, 99 - i, 10), 200);
    }
    // Okta's window ended before revokd's estimate of it: the 41st request is the first of
    // the next window, and counts as its only one.
    budget
        .acquire("b")
        .await
        .complete(&headers(100, 99, 20), 200);
    assert_eq!(allowance(&budget, "b"), 49);
}

#[tokio::test(start_paused = true)]
async fn each_answer_narrows_the_end_of_the_window() {
    let budget = Budget::new(BudgetSettings::default());
    // `Date` has whole seconds: an answer just before a second ticks over puts the end up
    // to a second late; a later answer of the same window, just after one, puts it right.
    let second = SystemTime::UNIX_EPOCH + Duration::from_secs(epoch(SystemTime::now()));
    let answer = |date: SystemTime| RateLimitHeaders {
        limit: Some(100),
        remaining: Some(90),
        reset: Some(epoch(second) + 10),
        date: Some(date),
    };
    budget.acquire("b").await.complete(&answer(second), 200);
    let next = budget.acquire("b").await;
    tokio::time::advance(Duration::from_millis(100)).await;
    next.complete(&answer(second + Duration::from_secs(1)), 200);
    tokio::time::advance(Duration::from_millis(9100)).await;
    assert!(goes(&budget, "b"), "a new window starts with a probe");
    assert!(!goes(&budget, "b"), "the rest wait for its answer");
}

#[tokio::test(start_paused = true)]
async fn settings_put_in_force_apply_to_what_is_known_of_a_bucket() {
    let budget = Budget::new(BudgetSettings::default());
    budget
        .acquire("b")
        .await
        .complete(&headers(100, 99, 10), 200);
    budget.put_in_force(BudgetSettings {
        max_share: 0.2,
        ..BudgetSettings::default()
    });
    // A fifth of 100, less the probe already sent in this window.
    assert_eq!(allowance(&budget, "b"), 19);
}
