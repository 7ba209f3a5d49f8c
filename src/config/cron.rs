//! The `[schedule]` cron expressions read the one way tokio-cron-scheduler 0.15 reads them
//! (six fields, seconds first, UTC, day-of-month and day-of-week both required to match), for
//! the checks of the configuration, the daemon's interval gauge and `revokd status`.

use chrono::{DateTime, TimeDelta, Utc};
use croner::Cron;
use croner::errors::CronError;

/// How many coming runs a schedule's interval is measured over (enough to see a weekend in a
/// weekday schedule).
const INTERVAL_RUNS: usize = 16;

/// `text` parsed as the scheduler parses it.
pub fn parse(text: &str) -> Result<Cron, CronError> {
    croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Required)
        .dom_and_dow(true)
        .build()
        .parse(text)
}

/// The next instant after `now` that `text` names; `None` when it does not parse or never
/// fires.
pub fn next_fire(text: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    parse(text).ok()?.find_next_occurrence(&now, false).ok()
}

/// The longest gap between two of the coming runs after `now`: how long the schedule may
/// rightly leave between two sweeps. `None` when `text` does not parse or fires fewer than
/// twice.
pub fn longest_gap(text: &str, now: DateTime<Utc>) -> Option<TimeDelta> {
    let runs: Vec<DateTime<Utc>> = parse(text)
        .ok()?
        .iter_after(now)
        .take(INTERVAL_RUNS + 1)
        .collect();
    runs.windows(2).map(|w| w[1] - w[0]).max()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn the_gap_is_the_longest_of_the_coming_runs() {
        let now = at("2026-12-03T10:30:00Z");
        assert_eq!(longest_gap("0 0 * * * *", now), Some(TimeDelta::hours(1)));
        // Weekdays at 06:00: Friday to Monday is the longest gap.
        assert_eq!(
            longest_gap("0 0 6 * * Mon-Fri", now),
            Some(TimeDelta::days(3))
        );
        assert_eq!(longest_gap("not cron", now), None);
        assert_eq!(
            next_fire("0 0 * * * *", now),
            Some(at("2026-12-03T11:00:00Z"))
        );
    }
}
