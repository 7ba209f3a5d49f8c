//! When and how long to wait before repeating an Okta request: one pure rule table
//! ([`retry_delay`]) and the loop that applies it ([`with_retries`]).
//!
//! | what happened                                   | retried?          | wait                                               |
//! |-------------------------------------------------|-------------------|----------------------------------------------------|
//! | 429, `X-Rate-Limit-Limit: 0` and `-Remaining: 0` | yes (concurrency) | exponential backoff, full jitter (Reset is a hint)   |
//! | 429 with `X-Rate-Limit-Reset` and `Date`         | yes (rate)        | `min(Reset) − Date + 1 s` + jitter, clamped to [min, max] |
//! | 429 without a usable Reset                      | yes (rate)        | exponential backoff, full jitter                   |
//! | 500, 502, 503, 504 on an idempotent request      | yes               | exponential backoff, full jitter                   |
//! | timeout, connect error, reset, on an idempotent request | yes        | exponential backoff, full jitter                   |
//! | any other status                                | no                |                                                    |
//! | attempts exhausted (`max_retries` after the first) | no             |                                                    |
//!
//! Repeated rate-limit headers (or comma-joined values) count by their minimum, as Okta's SDKs
//! do. A missing `Date` falls back to the local clock. Every wait is at least `min_backoff`
//! and at most `max_backoff`. A 429 waits as Okta's SDKs do, `Reset − Date + 1 s` (`Reset`
//! and `Date` are whole seconds; the extra second makes sure the new window has begun), plus
//! a random jitter of up to `rate_limit_jitter`, so workers do not retry in step. The pacing
//! budget reads window ends on the same clock ([`RateLimitHeaders::until_reset`]).

use std::future::Future;
use std::time::{Duration, SystemTime};

use reqwest::header::{DATE, HeaderMap};

/// Added to `Reset − Date` before a 429 is retried, as Okta's SDKs do.
pub const PAST_RESET: Duration = Duration::from_secs(1);

/// Retry settings, from `[okta]`.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    /// The largest random addition to a 429 wait.
    pub rate_limit_jitter: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 4,
            min_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(90),
            rate_limit_jitter: Duration::from_secs(1),
        }
    }
}

/// What one attempt produced, as far as retrying is concerned.
#[derive(Debug, Clone, Copy)]
pub enum Outcome<'a> {
    /// A response arrived.
    Response { status: u16, headers: &'a HeaderMap },
    /// No response: connect error, timeout, reset.
    Transport,
}

/// Why a wait happens, for counters and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitKind {
    /// 429 on a time-based bucket.
    RateLimit,
    /// 429 signalling Okta's concurrency limit.
    Concurrency,
    /// 5xx.
    ServerError,
    /// No response at all.
    Transport,
}

impl WaitKind {
    /// Lowercase name used in logs and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            WaitKind::RateLimit => "rate",
            WaitKind::Concurrency => "concurrency",
            WaitKind::ServerError => "server_error",
            WaitKind::Transport => "transport",
        }
    }
}

/// A decided wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delay {
    pub wait: Duration,
    pub kind: WaitKind,
}

/// The rate-limit headers of one response; repeated values reduced to their minimum.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateLimitHeaders {
    pub limit: Option<u64>,
    pub remaining: Option<u64>,
    /// UTC epoch seconds.
    pub reset: Option<u64>,
    /// The response's `Date`, if present and valid.
    pub date: Option<SystemTime>,
}

impl RateLimitHeaders {
    /// Reads the headers without failing: anything unparseable is absent.
    pub fn parse(headers: &HeaderMap) -> Self {
        RateLimitHeaders {
            limit: min_header(headers, "x-rate-limit-limit"),
            remaining: min_header(headers, "x-rate-limit-remaining"),
            reset: min_header(headers, "x-rate-limit-reset"),
            date: headers
                .get(DATE)
                .and_then(|v| v.to_str().ok())
                .and_then(|s| httpdate::parse_http_date(s).ok()),
        }
    }

    /// Okta's concurrency signal: limit and remaining both 0.
    pub fn is_concurrency_signal(&self) -> bool {
        self.limit == Some(0) && self.remaining == Some(0)
    }

    /// Time until the window resets, `Reset − Date`: measured on Okta's clock, the response's
    /// `Date`, and on `local_now` only when `Date` is missing. The one clock rule of both the
    /// 429 wait and the pacing budget.
    pub fn until_reset(&self, local_now: SystemTime) -> Option<Duration> {
        let reset = SystemTime::UNIX_EPOCH + Duration::from_secs(self.reset?);
        let now = self.date.unwrap_or(local_now);
        Some(reset.duration_since(now).unwrap_or(Duration::ZERO))
    }
}

fn min_header(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|v| v.trim().parse::<u64>().ok())
        .min()
}

/// Decides whether attempt number `attempt` (1 for the first) is followed by another, and
/// after how long. `jitter` is a uniform draw in [0, 1), passed in to keep this function pure.
pub fn retry_delay(
    outcome: Outcome<'_>,
    attempt: u32,
    idempotent: bool,
    policy: &RetryPolicy,
    local_now: SystemTime,
    jitter: f64,
) -> Option<Delay> {
    if attempt > policy.max_retries {
        return None;
    }
    let kind = match outcome {
        Outcome::Response {
            status: 429,
            headers,
        } => {
            let rl = RateLimitHeaders::parse(headers);
            if rl.is_concurrency_signal() {
                WaitKind::Concurrency
            } else if let Some(until) = rl.until_reset(local_now) {
                let extra = policy.rate_limit_jitter.mul_f64(jitter.clamp(0.0, 1.0));
                let wait =
                    (until + PAST_RESET + extra).clamp(policy.min_backoff, policy.max_backoff);
                return Some(Delay {
                    wait,
                    kind: WaitKind::RateLimit,
                });
            } else {
                WaitKind::RateLimit
            }
        }
        Outcome::Response {
            status: 500 | 502 | 503 | 504,
            ..
        } if idempotent => WaitKind::ServerError,
        Outcome::Transport if idempotent => WaitKind::Transport,
        _ => return None,
    };
    Some(Delay {
        wait: full_jitter(policy, attempt, jitter),
        kind,
    })
}

/// Exponential backoff with full jitter: uniform in [min, min(max, min · 2^(attempt−1))].
fn full_jitter(policy: &RetryPolicy, attempt: u32, jitter: f64) -> Duration {
    let exp = 2u32.saturating_pow(attempt.saturating_sub(1).min(30));
    let cap = policy
        .min_backoff
        .saturating_mul(exp)
        .min(policy.max_backoff);
    let span = cap.saturating_sub(policy.min_backoff);
    policy.min_backoff + span.mul_f64(jitter.clamp(0.0, 1.0))
}

/// An HTTP response as the retry loop needs to see it.
pub trait Attempt {
    fn status(&self) -> u16;
    fn headers(&self) -> &HeaderMap;
    /// `X-Okta-Request-Id`, sent back as `X-Okta-Retry-For` on the retry.
    fn request_id(&self) -> Option<String> {
        self.headers()
            .get("x-okta-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }
}

impl Attempt for reqwest::Response {
    fn status(&self) -> u16 {
        self.status().as_u16()
    }
    fn headers(&self) -> &HeaderMap {
        self.headers()
    }
}

/// What the loop tells the sender about the attempt it is about to make.
#[derive(Debug, Clone, Default)]
pub struct RetryInfo {
    /// 0 on the first attempt, then 1, 2, …: sent as `X-Okta-Retry-Count`.
    pub retry_count: u32,
    /// The failed attempt's request id: sent as `X-Okta-Retry-For`.
    pub retry_for: Option<String>,
}

/// Runs `send` until it succeeds, fails for good, or the rules say stop. `on_wait` observes
/// each wait (counters, logs) before it is slept. Returns the last attempt's result and the
/// number of attempts made.
pub async fn with_retries<R, E, F, Fut, W>(
    policy: &RetryPolicy,
    idempotent: bool,
    send: F,
    on_wait: W,
) -> (Result<R, E>, u32)
where
    R: Attempt,
    F: FnMut(RetryInfo) -> Fut,
    Fut: Future<Output = Result<R, E>>,
    W: FnMut(&Delay, u32, Option<u16>),
{
    with_retries_unless(policy, idempotent, send, on_wait, |_| false).await
}

/// [`with_retries`], except that a failure `is_final` says is not retried, whatever the
/// table says (a connect error before Okta has ever answered: the org is out of reach, and
/// waiting on it would only delay saying so).
pub async fn with_retries_unless<R, E, F, Fut, W, G>(
    policy: &RetryPolicy,
    idempotent: bool,
    mut send: F,
    mut on_wait: W,
    is_final: G,
) -> (Result<R, E>, u32)
where
    R: Attempt,
    F: FnMut(RetryInfo) -> Fut,
    Fut: Future<Output = Result<R, E>>,
    W: FnMut(&Delay, u32, Option<u16>),
    G: Fn(&E) -> bool,
{
    let mut info = RetryInfo::default();
    let mut attempt = 1;
    loop {
        let result = send(info.clone()).await;
        let (delay, status, request_id) = match &result {
            Ok(resp) => {
                let outcome = Outcome::Response {
                    status: resp.status(),
                    headers: resp.headers(),
                };
                let d = retry_delay(
                    outcome,
                    attempt,
                    idempotent,
                    policy,
                    SystemTime::now(),
                    rand::random(),
                );
                (d, Some(resp.status()), resp.request_id())
            }
            Err(e) if is_final(e) => (None, None, None),
            Err(_) => {
                let d = retry_delay(
                    Outcome::Transport,
                    attempt,
                    idempotent,
                    policy,
                    SystemTime::now(),
                    rand::random(),
                );
                (d, None, None)
            }
        };
        let Some(delay) = delay else {
            return (result, attempt);
        };
        on_wait(&delay, attempt, status);
        drop(result);
        tokio::time::sleep(delay.wait).await;
        info = RetryInfo {
            retry_count: attempt,
            retry_for: request_id,
        };
        attempt += 1;
    }
}

#[cfg(test)]
mod tests {
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
}
