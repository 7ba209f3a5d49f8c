//! Tests of the retry rules (pure, on raw headers) and of the loop (scripted closures in
//! paused time).

use super::*;
use reqwest::header::HeaderValue;

fn policy() -> RetryPolicy {
    RetryPolicy {
        max_retries: 3,
        min_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_secs(60),
        rate_limit_jitter: Duration::from_millis(1000),
    }
}

fn h(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut m = HeaderMap::new();
    for (k, v) in pairs {
        m.append(*k, HeaderValue::from_str(v).unwrap());
    }
    m
}

const DATE: &str = "Sun, 29 Nov 2026 12:00:00 GMT";
const DATE_EPOCH: u64 = 1_795_953_600;

fn at(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}

fn resp(status: u16, headers: &HeaderMap) -> Outcome<'_> {
    Outcome::Response { status, headers }
}

#[test]
fn the_test_date_matches_its_epoch() {
    assert_eq!(httpdate::parse_http_date(DATE).unwrap(), at(DATE_EPOCH));
}

#[test]
fn a_429_waits_one_second_past_reset_measured_on_oktas_clock() {
    let reset = (DATE_EPOCH + 7).to_string();
    let headers = h(&[
        ("x-rate-limit-reset", &reset),
        ("x-rate-limit-limit", "600"),
        ("x-rate-limit-remaining", "0"),
        ("date", DATE),
    ]);
    // The local clock is an hour off; Okta's Date wins: Reset − Date + 1 s.
    let d = retry_delay(
        resp(429, &headers),
        1,
        true,
        &policy(),
        at(DATE_EPOCH + 3600),
        0.0,
    )
    .unwrap();
    assert_eq!(
        d,
        Delay {
            wait: Duration::from_secs(8),
            kind: WaitKind::RateLimit
        }
    );
    // Jitter comes on top: half of the 1 s maximum.
    let d = retry_delay(resp(429, &headers), 1, true, &policy(), at(0), 0.5).unwrap();
    assert_eq!(d.wait, Duration::from_millis(8500));
}

#[test]
fn repeated_and_comma_joined_reset_headers_count_by_their_minimum() {
    let a = (DATE_EPOCH + 30).to_string();
    let b = (DATE_EPOCH + 5).to_string();
    let headers = h(&[
        ("x-rate-limit-reset", &a),
        ("x-rate-limit-reset", &b),
        ("date", DATE),
    ]);
    let d = retry_delay(resp(429, &headers), 1, true, &policy(), at(0), 0.0).unwrap();
    assert_eq!(d.wait, Duration::from_secs(6));
    let joined = format!("{a}, {b}");
    let headers = h(&[("x-rate-limit-reset", &joined), ("date", DATE)]);
    let d = retry_delay(resp(429, &headers), 1, true, &policy(), at(0), 0.0).unwrap();
    assert_eq!(d.wait, Duration::from_secs(6));
}

#[test]
fn a_missing_date_falls_back_to_the_local_clock() {
    let reset = (DATE_EPOCH + 4).to_string();
    let headers = h(&[("x-rate-limit-reset", &reset)]);
    let d = retry_delay(resp(429, &headers), 1, true, &policy(), at(DATE_EPOCH), 0.0).unwrap();
    assert_eq!(d.wait, Duration::from_secs(5));
}

#[test]
fn a_reset_in_the_past_waits_a_second_and_garbage_headers_at_least_the_minimum() {
    let reset = (DATE_EPOCH - 10).to_string();
    let headers = h(&[("x-rate-limit-reset", &reset), ("date", DATE)]);
    let d = retry_delay(resp(429, &headers), 1, true, &policy(), at(0), 0.0).unwrap();
    assert_eq!(d.wait, Duration::from_secs(1));
    let headers = h(&[("x-rate-limit-reset", "soon"), ("date", "yesterday")]);
    let d = retry_delay(resp(429, &headers), 2, true, &policy(), at(0), 1.0).unwrap();
    assert_eq!(
        d,
        Delay {
            wait: Duration::from_millis(200),
            kind: WaitKind::RateLimit
        }
    );
}

#[test]
fn a_429_without_reset_waits_its_retry_after_in_seconds_or_as_a_date() {
    let seconds = h(&[("retry-after", "7"), ("date", DATE)]);
    let d = retry_delay(resp(429, &seconds), 1, true, &policy(), at(0), 0.5).unwrap();
    assert_eq!(d.wait, Duration::from_millis(7_500));
    assert_eq!(d.kind, WaitKind::RateLimit);
    // A date is read against the response's own Date.
    let date = h(&[
        ("retry-after", "Sun, 29 Nov 2026 12:00:20 GMT"),
        ("date", DATE),
    ]);
    let d = retry_delay(resp(429, &date), 1, true, &policy(), at(0), 0.0).unwrap();
    assert_eq!(d.wait, Duration::from_secs(20));
    // Okta's Reset, when present, wins.
    let reset = (DATE_EPOCH + 4).to_string();
    let both = h(&[
        ("retry-after", "30"),
        ("x-rate-limit-reset", &reset),
        ("date", DATE),
    ]);
    let d = retry_delay(resp(429, &both), 1, true, &policy(), at(0), 0.0).unwrap();
    assert_eq!(d.wait, Duration::from_secs(5));
}

#[test]
fn a_far_reset_is_capped_at_max_backoff() {
    let reset = (DATE_EPOCH + 86_400).to_string();
    let headers = h(&[("x-rate-limit-reset", &reset), ("date", DATE)]);
    let d = retry_delay(resp(429, &headers), 1, true, &policy(), at(0), 0.0).unwrap();
    assert_eq!(d.wait, Duration::from_secs(60));
}

#[test]
fn a_concurrency_429_backs_off_exponentially_and_treats_reset_as_a_hint() {
    let reset = (DATE_EPOCH + 50).to_string();
    let headers = h(&[
        ("x-rate-limit-limit", "0"),
        ("x-rate-limit-remaining", "0"),
        ("x-rate-limit-reset", &reset),
        ("date", DATE),
    ]);
    let d = retry_delay(resp(429, &headers), 3, true, &policy(), at(0), 1.0).unwrap();
    assert_eq!(
        d,
        Delay {
            wait: Duration::from_millis(400),
            kind: WaitKind::Concurrency
        }
    );
    let d = retry_delay(resp(429, &headers), 3, true, &policy(), at(0), 0.0).unwrap();
    assert_eq!(d.wait, Duration::from_millis(100));
}

#[test]
fn server_errors_and_transport_faults_retry_only_idempotent_requests() {
    let none = HeaderMap::new();
    for status in [500, 502, 503, 504] {
        let d = retry_delay(resp(status, &none), 1, true, &policy(), at(0), 0.0).unwrap();
        assert_eq!(d.kind, WaitKind::ServerError);
        assert!(retry_delay(resp(status, &none), 1, false, &policy(), at(0), 0.0).is_none());
    }
    assert_eq!(
        retry_delay(Outcome::Transport, 1, true, &policy(), at(0), 0.0)
            .unwrap()
            .kind,
        WaitKind::Transport
    );
    assert!(retry_delay(Outcome::Transport, 1, false, &policy(), at(0), 0.0).is_none());
}

#[test]
fn other_statuses_are_final() {
    let none = HeaderMap::new();
    for status in [200, 204, 400, 401, 403, 404, 405, 501] {
        assert!(
            retry_delay(resp(status, &none), 1, true, &policy(), at(0), 0.5).is_none(),
            "{status}"
        );
    }
}

#[test]
fn attempts_are_bounded() {
    let none = HeaderMap::new();
    assert!(retry_delay(resp(503, &none), 3, true, &policy(), at(0), 0.0).is_some());
    assert!(retry_delay(resp(503, &none), 4, true, &policy(), at(0), 0.0).is_none());
}

#[test]
fn full_jitter_doubles_its_cap_and_respects_the_maximum() {
    let p = policy();
    assert_eq!(full_jitter(&p, 1, 1.0), Duration::from_millis(100));
    assert_eq!(full_jitter(&p, 4, 1.0), Duration::from_millis(800));
    assert_eq!(full_jitter(&p, 40, 1.0), Duration::from_secs(60));
    assert_eq!(full_jitter(&p, 40, 0.0), Duration::from_millis(100));
}

struct Scripted {
    status: u16,
    headers: HeaderMap,
}
impl Attempt for Scripted {
    fn status(&self) -> u16 {
        self.status
    }
    fn headers(&self) -> &HeaderMap {
        &self.headers
    }
}

#[tokio::test(start_paused = true)]
async fn the_loop_retries_429_429_200_and_sends_retry_headers() {
    let script = std::sync::Mutex::new(vec![(200, "r3"), (429, "r2"), (429, "r1")]);
    let mut seen = Vec::new();
    let started = tokio::time::Instant::now();
    let p = RetryPolicy {
        rate_limit_jitter: Duration::ZERO,
        ..policy()
    };
    let (result, attempts) = with_retries(
        &p,
        true,
        |info| {
            seen.push((info.retry_count, info.retry_for.clone()));
            let (status, id) = script.lock().unwrap().pop().unwrap();
            // Reset is 2 s after "now" on the response's clock.
            let now = SystemTime::now();
            let reset = (now + Duration::from_secs(2))
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_secs();
            let headers = h(&[
                ("x-okta-request-id", id),
                ("x-rate-limit-reset", &reset.to_string()),
                ("date", &httpdate::fmt_http_date(now)),
            ]);
            async move { Ok::<_, ()>(Scripted { status, headers }) }
        },
        |_, _, _| {},
    )
    .await;
    assert_eq!(result.unwrap().status, 200);
    assert_eq!(attempts, 3);
    assert_eq!(
        seen,
        vec![(0, None), (1, Some("r1".into())), (2, Some("r2".into()))]
    );
    // Two waits of Reset − Date + 1 s = 3 s each, in virtual time.
    assert_eq!(started.elapsed(), Duration::from_secs(6));
}

#[tokio::test(start_paused = true)]
async fn a_failure_said_to_be_final_is_not_retried() {
    let mut calls = 0;
    let (result, attempts) = with_retries_unless(
        &policy(),
        true,
        |_| {
            calls += 1;
            async { Err::<Scripted, _>("connect refused") }
        },
        |_, _, _| {},
        |e: &&str| e.starts_with("connect"),
    )
    .await;
    assert_eq!(result.err(), Some("connect refused"));
    assert_eq!((attempts, calls), (1, 1));
}

#[tokio::test(start_paused = true)]
async fn the_loop_gives_up_after_max_retries() {
    let mut calls = 0;
    let (result, attempts) = with_retries(
        &policy(),
        true,
        |_| {
            calls += 1;
            async {
                Ok::<_, ()>(Scripted {
                    status: 503,
                    headers: HeaderMap::new(),
                })
            }
        },
        |_, _, _| {},
    )
    .await;
    assert_eq!(result.unwrap().status, 503);
    assert_eq!((attempts, calls), (4, 4));
}
