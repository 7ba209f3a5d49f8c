//! Parsing the instants `--since`, `--until` and `--at` take: an RFC 3339 timestamp, a date
//! (`2026-07-01`, meaning 00:00 UTC), or a duration back from now (`30d`, `12h`). Pure: the
//! caller supplies `now`.

use std::str::FromStr;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

use crate::config::duration;

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
            TimeArg::Ago(d) => now - d,
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
        let d = TimeDelta::from_std(d).map_err(|_| format!("`{text}` is too long ago"))?;
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
    fn anything_else_is_refused_with_the_accepted_forms_named() {
        for text in ["yesterday", "2026-13-01", "0d", ""] {
            let err = text.parse::<TimeArg>().unwrap_err();
            assert!(err.contains("RFC 3339"), "{text}: {err}");
        }
    }
}
