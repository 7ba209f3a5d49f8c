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
