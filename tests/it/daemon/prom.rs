//! A small strict parser for the Prometheus text exposition format (0.0.4): `# HELP` and
//! `# TYPE` lines, and samples `name{label="value",…} value [timestamp]` with escaped label
//! values. Anything else is a test failure naming the line.

use std::collections::{BTreeMap, HashMap};

/// One sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// A parsed scrape.
#[derive(Debug, Default)]
pub struct Scrape {
    pub samples: Vec<Sample>,
    pub types: HashMap<String, String>,
}

impl Scrape {
    /// Samples named `name` whose labels include every `(key, value)` of `labels`.
    pub fn find<'a>(
        &'a self,
        name: &'a str,
        labels: &'a [(&str, &str)],
    ) -> impl Iterator<Item = &'a Sample> {
        self.samples.iter().filter(move |s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
    }

    /// The one sample named `name` with exactly these labels' values; panics if absent.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let found: Vec<_> = self.find(name, labels).collect();
        assert_eq!(found.len(), 1, "{name} {labels:?}: {found:?}");
        found[0].value
    }

    /// The sum of every sample named `name`.
    pub fn sum(&self, name: &str) -> f64 {
        self.find(name, &[]).map(|s| s.value).sum()
    }
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn family(name: &str) -> &str {
    ["_bucket", "_sum", "_count"]
        .iter()
        .find_map(|suffix| name.strip_suffix(suffix))
        .unwrap_or(name)
}

fn parse_value(text: &str) -> Option<f64> {
    match text {
        "+Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        _ => text.parse().ok(),
    }
}

/// Parses `{k="v",…}`; returns the labels and the rest of the line.
fn parse_labels(line: &str) -> Result<(BTreeMap<String, String>, &str), String> {
    let mut labels = BTreeMap::new();
    let mut rest = line;
    loop {
        rest = rest.trim_start_matches(',');
        if let Some(after) = rest.strip_prefix('}') {
            return Ok((labels, after));
        }
        let eq = rest.find('=').ok_or("label without =")?;
        let key = &rest[..eq];
        if !is_name(key) {
            return Err(format!("bad label name `{key}`"));
        }
        let mut chars = rest[eq + 1..].char_indices();
        if chars.next().map(|(_, c)| c) != Some('"') {
            return Err("label value not quoted".into());
        }
        let mut value = String::new();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next().map(|(_, c)| c) {
                    Some('\\') => value.push('\\'),
                    Some('"') => value.push('"'),
                    Some('n') => value.push('\n'),
                    other => return Err(format!("bad escape {other:?}")),
                },
                '"' => {
                    end = Some(eq + 1 + i + 1);
                    break;
                }
                '\n' => return Err("newline in label value".into()),
                c => value.push(c),
            }
        }
        let end = end.ok_or("unterminated label value")?;
        if labels.insert(key.to_owned(), value).is_some() {
            return Err(format!("duplicate label `{key}`"));
        }
        rest = &rest[end..];
        if !(rest.starts_with(',') || rest.starts_with('}')) {
            return Err("expected , or } after a label".into());
        }
    }
}

fn parse_sample(line: &str) -> Result<Sample, String> {
    let name_end = line.find(['{', ' ']).ok_or("no value")?;
    let name = &line[..name_end];
    if !is_name(name) {
        return Err(format!("bad metric name `{name}`"));
    }
    let (labels, rest) = match line[name_end..].strip_prefix('{') {
        Some(after) => parse_labels(after)?,
        None => (BTreeMap::new(), &line[name_end..]),
    };
    let mut fields = rest.split(' ').filter(|f| !f.is_empty());
    let value = fields
        .next()
        .and_then(parse_value)
        .ok_or("missing or bad value")?;
    if let Some(ts) = fields.next() {
        ts.parse::<i64>()
            .map_err(|_| format!("bad timestamp `{ts}`"))?;
    }
    if fields.next().is_some() {
        return Err("trailing text".into());
    }
    Ok(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

/// Parses a whole scrape; panics naming the first bad line.
pub fn parse(text: &str) -> Scrape {
    let mut scrape = Scrape::default();
    for (n, line) in text.lines().enumerate() {
        let fail = |why: &str| panic!("line {}: {why}: {line}\n---\n{text}", n + 1);
        if line.trim().is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            let parts: Vec<&str> = comment.trim_start().splitn(3, ' ').collect();
            match parts.as_slice() {
                ["TYPE", name, kind] => {
                    if !["counter", "gauge", "histogram", "summary", "untyped"].contains(kind) {
                        fail("unknown type");
                    }
                    if scrape
                        .types
                        .insert((*name).to_owned(), (*kind).to_owned())
                        .is_some()
                    {
                        fail("second TYPE line for one family");
                    }
                }
                ["HELP", name, _] if is_name(name) => {}
                ["HELP", ..] | ["TYPE", ..] => fail("malformed HELP/TYPE"),
                _ => {}
            }
            continue;
        }
        match parse_sample(line) {
            Ok(sample) => {
                if !scrape.types.contains_key(family(&sample.name))
                    && !scrape.types.contains_key(&sample.name)
                {
                    fail("sample before its TYPE line");
                }
                scrape.samples.push(sample);
            }
            Err(why) => fail(&why),
        }
    }
    scrape
}

#[test]
fn the_parser_refuses_malformed_lines_and_reads_escapes() {
    let ok =
        "# HELP a_total A.\n# TYPE a_total counter\na_total{op=\"GET /x/{id}\",q=\"a\\\"b\"} 3\n";
    let scrape = parse(ok);
    assert_eq!(
        scrape.value("a_total", &[("op", "GET /x/{id}"), ("q", "a\"b")]),
        3.0
    );
    for bad in [
        "# TYPE a gauge\na{x=1} 1\n",
        "# TYPE a gauge\na 1 2 3\n",
        "a 1\n",
        "# TYPE a gauge\na{x=\"1\" 1\n",
        "# TYPE a gauge\na one\n",
    ] {
        assert!(std::panic::catch_unwind(|| parse(bad)).is_err(), "{bad}");
    }
}
