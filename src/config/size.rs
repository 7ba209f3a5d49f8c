//! Human sizes in config (`512MiB`, `2GiB`, `300KiB`): a whole number followed by a binary
//! unit. Decimal units (`MB`, `GB`) are refused rather than guessed at, because SQLite counts in
//! 4 KiB pages and a silent factor of 1.024 would move a limit by tens of megabytes.

use serde::{Deserialize, Deserializer};

const UNITS: [(&str, u64); 4] = [
    ("TiB", 1 << 40),
    ("GiB", 1 << 30),
    ("MiB", 1 << 20),
    ("KiB", 1 << 10),
];

/// Parses a size such as `512MiB` into bytes, refusing zero.
pub fn parse(text: &str) -> Result<u64, String> {
    let hint = "is not a size like 300KiB, 512MiB or 2GiB (binary units KiB, MiB, GiB, TiB)";
    let trimmed = text.trim();
    let (number, factor) = UNITS
        .iter()
        .find_map(|(unit, factor)| trimmed.strip_suffix(unit).map(|n| (n.trim(), *factor)))
        .ok_or_else(|| format!("`{text}` {hint}"))?;
    let n: u64 = number.parse().map_err(|_| format!("`{text}` {hint}"))?;
    let bytes = n
        .checked_mul(factor)
        .ok_or_else(|| format!("`{text}` is too large"))?;
    if bytes == 0 {
        return Err(format!("`{text}` must be greater than zero"));
    }
    Ok(bytes)
}

/// Formats a byte count with the largest unit that divides it, so [`parse`] reads it back.
/// Counts that are not a whole number of KiB cannot come from [`parse`] and are shown in KiB,
/// rounded down.
pub fn format(bytes: u64) -> String {
    UNITS
        .iter()
        .find(|(_, factor)| bytes.is_multiple_of(*factor))
        .map_or_else(
            || format!("{}KiB", bytes >> 10),
            |(unit, factor)| format!("{}{unit}", bytes / factor),
        )
}

/// `#[serde(with = "size::human_opt")]` for `Option<u64>` byte counts.
pub mod human_opt {
    use super::*;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
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
    fn sizes_parse_in_binary_units_and_format_back() {
        let cases = [
            ("300KiB", 300 << 10),
            ("512MiB", 512 << 20),
            ("2GiB", 2 << 30),
            ("1 TiB", 1 << 40),
            ("1536MiB", 1536 << 20),
        ];
        for (text, bytes) in cases {
            assert_eq!(parse(text), Ok(bytes), "{text}");
            assert_eq!(parse(&format(bytes)), Ok(bytes), "{text}");
        }
        assert_eq!(format(1536 << 20), "1536MiB");
        assert_eq!(format(2 << 30), "2GiB");
    }

    #[test]
    fn decimal_units_bare_numbers_zero_and_overflow_are_refused() {
        for text in ["512MB", "512", "MiB", "-1MiB", "1.5GiB", "soon"] {
            assert!(parse(text).unwrap_err().contains("not a size"), "{text}");
        }
        assert!(parse("0MiB").unwrap_err().contains("greater than zero"));
        assert!(parse("99999999999TiB").unwrap_err().contains("too large"));
    }
}
