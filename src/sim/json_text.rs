//! The sim's JSON writer: objects written as text straight into a buffer, keys as given (the
//! sim's own constants), strings escaped only where JSON needs it, times in Okta's form (see
//! [`super::render::TokenJson`] for why text, not values).

use chrono::{DateTime, Datelike, Timelike, Utc};

/// A time as [`Obj::time`] writes it, through `write!`: the form for a year outside four digits.
fn write_time(out: &mut Vec<u8>, t: DateTime<Utc>) {
    use std::io::Write;
    let _ = write!(
        out,
        "\"{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z\"",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.timestamp_subsec_millis().min(999)
    );
}

/// Whether JSON writes `s` inside quotes as it is (no quote, backslash or control character).
/// Every byte is looked at, with no early exit, so the loop runs on whole vectors.
fn plain(s: &str) -> bool {
    !s.bytes().fold(false, |escape, b| {
        escape | (b < 0x20) | (b == b'"') | (b == b'\\')
    })
}

/// A JSON object being written: keys are the sim's own constants; strings are escaped only
/// when they hold something JSON must escape.
pub(super) struct Obj<'o> {
    pub(super) out: &'o mut Vec<u8>,
    first: bool,
}

impl<'o> Obj<'o> {
    pub(super) fn open(out: &'o mut Vec<u8>) -> Obj<'o> {
        out.push(b'{');
        Obj { out, first: true }
    }

    pub(super) fn close(self) {
        self.out.push(b'}');
    }

    /// A member's key: one of the sim's own constants, which need no escaping.
    pub(super) fn key(&mut self, key: &str) -> &mut Self {
        debug_assert!(plain(key));
        if !std::mem::take(&mut self.first) {
            self.out.push(b',');
        }
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\":");
        self
    }

    pub(super) fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.out.extend_from_slice(bytes);
        self
    }

    pub(super) fn string(&mut self, s: &str) -> &mut Self {
        self.out.push(b'"');
        self.fragment(s);
        self.out.push(b'"');
        self
    }

    /// The inside of a JSON string: `s` as it is when nothing in it needs escaping.
    pub(super) fn fragment(&mut self, s: &str) -> &mut Self {
        if plain(s) {
            self.out.extend_from_slice(s.as_bytes());
        } else {
            // Serializing a string cannot fail; the quotes serde adds are dropped.
            let quoted = serde_json::to_string(s).unwrap_or_default();
            let inside = quoted.get(1..quoted.len().saturating_sub(1));
            self.out
                .extend_from_slice(inside.unwrap_or_default().as_bytes());
        }
        self
    }

    /// Okta's timestamp text: millisecond precision and a `Z` (`2026-11-29T22:00:00.000Z`).
    /// Written digit by digit: through `write!` it was an eighth of the sim's CPU.
    pub(super) fn time(&mut self, t: DateTime<Utc>) -> &mut Self {
        let year = t.year();
        if !(0..=9999).contains(&year) {
            write_time(self.out, t);
            return self;
        }
        let mut text = *b"\"0000-00-00T00:00:00.000Z\"";
        let mut put = |at: usize, width: usize, mut n: u32| {
            for i in (at..at + width).rev() {
                text[i] = b'0' + (n % 10) as u8;
                n /= 10;
            }
        };
        put(1, 4, year.unsigned_abs());
        put(6, 2, t.month());
        put(9, 2, t.day());
        put(12, 2, t.hour());
        put(15, 2, t.minute());
        put(18, 2, t.second());
        put(21, 3, t.timestamp_subsec_millis().min(999));
        self.out.extend_from_slice(&text);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::Obj;

    /// Text JSON must escape (quotes, backslashes, control characters) reads back unchanged;
    /// anything else is written as it is.
    #[test]
    fn strings_are_escaped_only_where_json_needs_it() {
        let tricky = "a \"quoted\" C:\\path\n\ttab \u{1} é ✓";
        let mut out = Vec::new();
        let mut o = Obj::open(&mut out);
        o.key("plain").string("oarABC/def");
        o.key("tricky").string(tricky);
        o.close();
        let text = String::from_utf8(out).expect("utf-8");
        assert!(text.starts_with(r#"{"plain":"oarABC/def","tricky":"a \"quoted\" C:\\path\n"#));
        let back: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(back["tricky"], tricky);
        assert_eq!(back["plain"], "oarABC/def");
    }

    /// Times written digit by digit read as `write!` writes them, whatever the digits
    /// (leading zeros, the last millisecond, a leap second), and Okta's form for an ordinary
    /// instant.
    #[test]
    fn times_are_written_as_okta_writes_them() {
        use chrono::{NaiveDate, TimeZone, Utc};
        let leap = NaiveDate::from_ymd_opt(2016, 12, 31)
            .and_then(|d| d.and_hms_milli_opt(23, 59, 59, 1_500))
            .unwrap()
            .and_utc();
        let instants = [
            Utc.with_ymd_and_hms(2026, 11, 29, 22, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(999, 1, 2, 3, 4, 5).unwrap() + chrono::Duration::milliseconds(7),
            Utc.with_ymd_and_hms(2099, 12, 31, 23, 59, 59).unwrap()
                + chrono::Duration::milliseconds(999),
            leap,
            Utc.with_ymd_and_hms(10_000, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(-1, 1, 1, 0, 0, 0).unwrap(),
        ];
        for t in instants {
            let mut out = Vec::new();
            Obj::open(&mut out).time(t);
            let mut want = b"{".to_vec();
            super::write_time(&mut want, t);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                String::from_utf8(want).unwrap(),
                "{t}"
            );
        }
        for (t, text) in [
            (instants[0], r#"{"2026-11-29T22:00:00.000Z""#),
            (instants[4], r#"{"10000-01-01T00:00:00.000Z""#),
            (instants[5], r#"{"-001-01-01T00:00:00.000Z""#),
        ] {
            let mut out = Vec::new();
            Obj::open(&mut out).time(t);
            assert_eq!(String::from_utf8(out).unwrap(), text);
        }
    }
}
