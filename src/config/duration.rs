//! Human durations in config (`90d`, `15m`, `250ms`), parsed with humantime. Zero is refused:
//! every duration revokd reads means "some time", and a zero is always a mistake.

use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// Parses a human duration, refusing zero.
pub fn parse(text: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(text.trim())
        .map_err(|e| format!("`{text}` is not a duration like 90d, 15m or 500ms ({e})"))?;
    if d.is_zero() {
        return Err(format!("`{text}` must be greater than zero"));
    }
    Ok(d)
}

/// Formats a duration compactly so that [`parse`] reads it back: `90d`, `1h 30m`, `500ms`.
pub fn format(d: Duration) -> String {
    const UNITS: [(u128, &str); 5] = [
        (86_400_000, "d"),
        (3_600_000, "h"),
        (60_000, "m"),
        (1_000, "s"),
        (1, "ms"),
    ];
    let mut ms = d.as_millis();
    if ms == 0 {
        return format!("{}ns", d.as_nanos());
    }
    let mut parts = Vec::new();
    for (size, unit) in UNITS {
        if ms >= size {
            parts.push(format!("{}{unit}", ms / size));
            ms %= size;
        }
    }
    parts.join(" ")
}

/// `#[serde(with = "duration::human")]` for `Duration` fields.
pub mod human {
    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        parse(&text).map_err(serde::de::Error::custom)
    }
}

/// `#[serde(with = "duration::human_opt")]` for `Option<Duration>` fields.
pub mod human_opt {
    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(text) => parse(&text).map(Some).map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatted_durations_parse_back_to_the_same_value() {
        for text in ["90d", "15m", "500ms", "1h 30m", "400d", "1d 2h 3m 4s 5ms"] {
            let d = parse(text).unwrap();
            assert_eq!(format(d), text);
            assert_eq!(parse(&format(d)).unwrap(), d);
        }
    }

    #[test]
    fn zero_and_garbage_are_refused() {
        assert!(parse("0s").unwrap_err().contains("greater than zero"));
        assert!(parse("soon").unwrap_err().contains("not a duration"));
    }
}
