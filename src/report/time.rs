//! Parsing the instants `--since`, `--until` and `--at` take: an RFC 3339 timestamp, a date
//! (`2026-07-01`, meaning 00:00 UTC), or a duration back from now (`30d`, `12h`). Pure: the
//! caller supplies `now`.

use std::str::FromStr;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

use crate::config::duration;

/// The furthest back a duration may reach: 10,000 years, well inside the instants a
/// timestamp can name.
const MAX_DAYS_AGO: i64 = 10_000 * 366;

/// An instant as written on the command line, resolved against "now" later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeArg {
    /// An RFC 3339 timestamp or a date.
    At(DateTime<Utc>),
    /// This long before now.
    Ago(TimeDelta),
}

impl TimeArg {
    /// The instant this argument names, given the current time.
    pub fn resolve(self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            TimeArg::At(at) => at,
            TimeArg::Ago(d) => now
                .checked_sub_signed(d)
                .unwrap_or(DateTime::<Utc>::MIN_UTC),
        }
    }
}

impl FromStr for TimeArg {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if let Ok(at) = DateTime::parse_from_rfc3339(text) {
            return Ok(TimeArg::At(at.with_timezone(&Utc)));
        }
        if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            return Ok(TimeArg::At(date.and_time(chrono::NaiveTime::MIN).and_utc()));
        }
        let d = duration::parse(text).map_err(|_| {
            format!(
                "`{text}` is not an RFC 3339 time (2026-07-01T00:00:00Z), a date (2026-07-01) \
                 or a duration back from now (30d)"
            )
        })?;
        let d = TimeDelta::from_std(d)
            .ok()
            .filter(|d| *d <= TimeDelta::days(MAX_DAYS_AGO))
            .ok_or_else(|| format!("`{text}` is too long ago (10,000 years at most)"))?;
        Ok(TimeArg::Ago(d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn rfc3339_dates_and_durations_all_resolve_to_instants() {
        let now = at("2026-11-29T22:00:00Z");
        let cases = [
            ("2026-07-01T12:30:00+02:00", "2026-07-01T10:30:00Z"),
            ("2026-07-01", "2026-07-01T00:00:00Z"),
            ("30d", "2026-10-30T22:00:00Z"),
            ("12h", "2026-11-29T10:00:00Z"),
        ];
        for (text, want) in cases {
            let got: TimeArg = text.parse().unwrap();
            assert_eq!(got.resolve(now), at(want), "{text}");
        }
    }

    #[test]
    fn a_duration_further_back_than_any_instant_is_refused_not_a_panic() {
        for text in ["270000y", "99999999d"] {
            let err = text.parse::<TimeArg>().unwrap_err();
            assert!(err.contains("too long ago"), "{text}: {err}");
        }
        let far: TimeArg = "9000y".parse().unwrap();
        let year = chrono::Datelike::year(&far.resolve(at("2026-11-29T22:00:00Z")));
        assert!(year < -6000, "{year}");
    }

    #[test]
    fn anything_else_is_refused_with_the_accepted_forms_named() {
        for text in ["yesterday", "2026-13-01", "0d", ""] {
            let err = text.parse::<TimeArg>().unwrap_err();
            assert!(err.contains("RFC 3339"), "{text}: {err}");
        }
    }
}
