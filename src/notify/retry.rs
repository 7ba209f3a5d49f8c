//! Whether and when a failed delivery is tried again: after the receiver's backoff (doubling,
//! jittered), no sooner than a 429's or 503's `Retry-After` asks, or never, when the receiver
//! refused the request itself (a 4xx other than 408, 425 and 429: a removed Slack webhook
//! answers 404 or 410, a wrong secret 401), which the same request sent again cannot change.

use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use crate::okta::retry::retry_after;

/// What a failed attempt says of the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// After the receiver's backoff.
    Backoff,
    /// No sooner than this (a 429's or 503's `Retry-After`), nor later than `max_backoff`.
    After(Duration),
    /// Never: the receiver refused the request as made.
    Refused,
}

impl Retry {
    /// What an answer of `status` (not 2xx) with `headers`, received at `now`, says.
    pub fn of(status: StatusCode, headers: &HeaderMap, now: SystemTime) -> Retry {
        match status.as_u16() {
            429 | 503 => retry_after(headers, now).map_or(Retry::Backoff, Retry::After),
            408 | 425 => Retry::Backoff,
            _ if status.is_client_error() => Retry::Refused,
            _ => Retry::Backoff,
        }
    }

    /// The wait before attempt `attempt + 1` (see [`retry_delay`]), or `None` when refused.
    pub fn wait(self, attempt: i64, min: Duration, max: Duration, jitter: f64) -> Option<Duration> {
        let backoff = retry_delay(attempt, min, max, jitter);
        match self {
            Retry::Backoff => Some(backoff),
            Retry::After(asked) => Some(asked.min(max).max(backoff)),
            Retry::Refused => None,
        }
    }
}

/// The wait before attempt `attempt + 1`, after `attempt` failed: `min` doubling per attempt,
/// capped at `max`, the upper half jittered by `jitter` in [0, 1) so receivers that failed
/// together are not all retried at one instant.
pub fn retry_delay(attempt: i64, min: Duration, max: Duration, jitter: f64) -> Duration {
    let exp = u32::try_from(attempt.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
    let full = min.saturating_mul(2u32.saturating_pow(exp)).min(max);
    full / 2 + full.mul_f64(jitter.clamp(0.0, 1.0) / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderValue, RETRY_AFTER};

    #[test]
    fn retries_double_from_the_minimum_and_stop_at_the_maximum() {
        let (min, max) = (Duration::from_secs(5), Duration::from_secs(60));
        assert_eq!(retry_delay(1, min, max, 1.0), Duration::from_secs(5));
        assert_eq!(retry_delay(2, min, max, 1.0), Duration::from_secs(10));
        assert_eq!(retry_delay(3, min, max, 1.0), Duration::from_secs(20));
        assert_eq!(retry_delay(9, min, max, 1.0), max);
        assert_eq!(retry_delay(99, min, max, 0.0), max / 2);
        assert_eq!(retry_delay(2, min, max, 0.0), Duration::from_secs(5));
    }

    fn with_retry_after(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from_str(value).expect("a header value"),
        );
        headers
    }

    #[test]
    fn a_refusal_is_never_retried_and_a_slow_down_waits_what_it_asks_within_the_maximum() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000);
        let none = HeaderMap::new();
        let of = |code: u16, headers: &HeaderMap| {
            Retry::of(StatusCode::from_u16(code).expect("a status"), headers, now)
        };
        for refused in [400, 401, 403, 404, 410, 413, 422] {
            assert_eq!(of(refused, &none), Retry::Refused, "{refused}");
        }
        for again in [408, 425, 429, 500, 502, 503, 504, 302] {
            assert_eq!(of(again, &none), Retry::Backoff, "{again}");
        }
        let seconds = with_retry_after(" 120 ");
        assert_eq!(of(429, &seconds), Retry::After(Duration::from_secs(120)));
        assert_eq!(of(503, &seconds), Retry::After(Duration::from_secs(120)));
        assert_eq!(
            of(500, &seconds),
            Retry::Backoff,
            "only 429 and 503 say when"
        );
        let date = httpdate::fmt_http_date(now + Duration::from_secs(90));
        assert_eq!(
            of(429, &with_retry_after(&date)),
            Retry::After(Duration::from_secs(90))
        );
        let past = httpdate::fmt_http_date(now - Duration::from_secs(90));
        assert_eq!(
            of(429, &with_retry_after(&past)),
            Retry::After(Duration::ZERO)
        );
        assert_eq!(of(429, &with_retry_after("soon")), Retry::Backoff);

        let (min, max) = (Duration::from_secs(5), Duration::from_secs(60));
        let after = |secs| Retry::After(Duration::from_secs(secs)).wait(1, min, max, 1.0);
        assert_eq!(after(30), Some(Duration::from_secs(30)));
        assert_eq!(after(1), Some(min), "never sooner than the backoff");
        assert_eq!(after(7200), Some(max), "never later than max_backoff");
        assert_eq!(Retry::Refused.wait(1, min, max, 1.0), None);
        assert_eq!(
            Retry::Backoff.wait(2, min, max, 1.0),
            Some(Duration::from_secs(10))
        );
    }
}
