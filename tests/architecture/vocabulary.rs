//! The stored vocabularies (states, triggers, sources, modes) are spelled only by their enums.

use std::collections::BTreeSet;
use std::fs;

use crate::source::{Source, lex, production_sources, root};

/// The files that own a stored vocabulary: each enum spells its values here, and only here.
const ENUM_FILES: &[&str] = &[
    "src/config/mod.rs",          // config::Mode
    "src/config/notify_event.rs", // config::EventKind
    "src/store/audit_row.rs",     // store::RevocationState, store::RevocationTrigger
    "src/store/sources.rs",       // TargetSource, JobSource, JobState, DeliveryState
    "src/store/sweeps.rs",        // store::Trigger, store::SweepStatus
];

/// The columns whose values are a closed vocabulary.
const VOCABULARY_COLUMNS: &[&str] = &[
    "state",
    "status",
    "trigger",
    "source",
    "mode",
    "kind",
    "last_result",
];

/// Every value a `CHECK (column IN ('a', 'b', …))` of `migrations/` allows in one of the
/// [`VOCABULARY_COLUMNS`].
fn stored_vocabulary() -> BTreeSet<String> {
    let mut words = BTreeSet::new();
    for file in fs::read_dir(root().join("migrations")).expect("migrations/ exists") {
        let sql = fs::read_to_string(file.expect("entry").path()).expect("readable migration");
        let mut rest = sql.as_str();
        while let Some(at) = rest.find("CHECK (") {
            rest = &rest[at + "CHECK (".len()..];
            let body = &rest[..rest.find(')').unwrap_or(rest.len())];
            let Some((column, values)) = body.split_once(" IN (") else {
                continue;
            };
            if VOCABULARY_COLUMNS.contains(&column.trim()) {
                words.extend(
                    values
                        .split(',')
                        .map(|v| v.trim().trim_matches('\'').to_owned())
                        .filter(|v| !v.is_empty()),
                );
            }
        }
    }
    words
}

/// Where `source` spells a vocabulary word as a literal: compared (`== "pending"`), matched
/// (`"offboard" =>`), written to a field of a vocabulary column (`source: "config"`), or
/// quoted in SQL text (`state = 'queued'`).
fn spelled_states(source: &Source, words: &BTreeSet<String>) -> Vec<String> {
    let (text, code) = (&source.text, &source.code);
    let mut found = Vec::new();
    let mut p = 0;
    while p < code.len() {
        if code[p] == b'"' && text[p] == b'"' {
            let Some(close) = code[p + 1..]
                .iter()
                .position(|&c| c == b'"')
                .map(|e| p + 1 + e)
            else {
                break;
            };
            let body = String::from_utf8_lossy(&text[p + 1..close]).into_owned();
            if words.contains(&body) && literal_in_state_position(code, p, close) {
                found.push(format!("{}:{}: \"{body}\"", source.path, source.line_of(p)));
            }
            // SQL text: a vocabulary word between single quotes.
            for (i, quoted) in body.split('\'').enumerate().skip(1).step_by(2) {
                if words.contains(quoted) {
                    let before: usize = body.split('\'').take(i).map(|s| s.len() + 1).sum();
                    let line = source.line_of(p + 1 + before);
                    found.push(format!("{}:{line}: SQL spells '{quoted}'", source.path));
                }
            }
            p = close + 1;
            continue;
        }
        p += 1;
    }
    found
}

/// Whether the string literal at `open..=close` is compared, matched or written to a
/// vocabulary column's field.
fn literal_in_state_position(code: &[u8], open: usize, close: usize) -> bool {
    let before: Vec<u8> = code[..open]
        .iter()
        .rev()
        .skip_while(|c| c.is_ascii_whitespace())
        .take(40)
        .copied()
        .collect();
    let after: Vec<u8> = code[close + 1..]
        .iter()
        .skip_while(|c| c.is_ascii_whitespace())
        .take(2)
        .copied()
        .collect();
    let compared_before = before.starts_with(b"==") || before.starts_with(b"=!");
    let compared_after =
        after.starts_with(b"==") || after.starts_with(b"!=") || after.starts_with(b"=>");
    let alternative = after.first() == Some(&b'|') && after.get(1) != Some(&b'|');
    let field = match before.first() {
        Some(b':') if before.get(1) != Some(&b':') => true,
        Some(b'=') => !matches!(before.get(1), Some(b'=' | b'!' | b'<' | b'>')),
        _ => false,
    } && {
        let name: Vec<u8> = before[1..]
            .iter()
            .skip_while(|c| c.is_ascii_whitespace())
            .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
            .copied()
            .collect();
        let name: String = name.iter().rev().map(|&c| char::from(c)).collect();
        VOCABULARY_COLUMNS.contains(&name.as_str())
    };
    (compared_before || compared_after || alternative || field) && !in_metric_macro(code, open)
}

/// Whether position `at` is inside a `counter!`, `gauge!` or `histogram!` invocation, where
/// `"name" => value` is a label, not a match arm.
fn in_metric_macro(code: &[u8], at: usize) -> bool {
    let mut depth = 0usize;
    for i in (0..at).rev() {
        match code[i] {
            b')' => depth += 1,
            b'(' if depth > 0 => depth -= 1,
            b'(' => {
                let name: Vec<u8> = code[..i]
                    .strip_suffix(b"!")
                    .unwrap_or_default()
                    .iter()
                    .rev()
                    .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
                    .copied()
                    .collect();
                return [&b"rettnuoc"[..], b"eguag", b"margotsih"].contains(&name.as_slice());
            }
            b';' | b'{' | b'}' => return false,
            _ => {}
        }
    }
    false
}

#[test]
fn no_state_trigger_source_or_mode_is_spelled_outside_its_enum() {
    let words = stored_vocabulary();
    for expected in ["pending", "running", "offboard", "dry-run", "event_hook"] {
        assert!(
            words.contains(expected),
            "{expected} not read from migrations/: {words:?}"
        );
    }
    let spelled: Vec<String> = production_sources()
        .iter()
        .filter(|s| !ENUM_FILES.contains(&s.path.as_str()))
        .flat_map(|s| spelled_states(s, &words))
        .collect();
    assert!(
        spelled.is_empty(),
        "stored states, triggers, sources or modes spelled as literals outside their enums \
         (use the enum, and bind it in SQL):\n  {}",
        spelled.join("\n  ")
    );
}

#[test]
fn the_state_scanner_flags_comparisons_fields_arms_and_sql_but_not_labels() {
    let words: BTreeSet<String> = ["pending", "done", "cli"].map(str::to_owned).into();
    let text = "fn f(r: &Row) {\n\
                if r.state != \"pending\" {}\n\
                let j = Job { source: \"cli\" };\n\
                match t { \"done\" => 1, _ => 2 };\n\
                let q = \"UPDATE jobs SET state = 'done'\";\n\
                metric(\"done\", LABELS);\n\
                gauge!(G, \"done\" => n.to_string()).set(1.0);\n\
                let columns = [\"pending\", \"done\"];\n\
                }\n";
    let lexed = lex(text);
    let source = Source {
        path: "src/x.rs".to_owned(),
        module: "x".to_owned(),
        text: lexed.without_comments,
        code: lexed.code_only,
    };
    let lines: Vec<String> = spelled_states(&source, &words)
        .iter()
        .map(|f| f.split(':').nth(1).expect("a line").to_owned())
        .collect();
    assert_eq!(lines, ["2", "3", "4", "5"]);
}
