//! The shape of the house, read from `src/`: the top-level modules depend on each other only
//! downwards (no cycle, and no reference to a module of a higher layer than the referring
//! one's), and no state, trigger, source or mode is spelled as a string literal outside the
//! enum that owns it. Test code (`#[cfg(test)]` items and the files they declare) is exempt;
//! so are comments and `migrations/`. Reads files only; builds nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The layers, lowest first: a module may use its own layer's modules and those below. Every
/// top-level module of `src/` must appear here, so a new one is placed on purpose.
const LAYERS: &[&[&str]] = &[
    // Plain settings and process facts: what everything else is told.
    &["config", "runner", "telemetry"],
    // The edges (HTTP to Okta, SQL, webhooks) and the pure decisions.
    &["okta", "policy", "notify"],
    &["store", "sim"],
    // The one place a revocation is cleared.
    &["gate"],
    // The orchestrators.
    &["sweep"],
    &["offboard", "report"],
    // What runs them: the daemon, the demo, the command line's arguments.
    &["daemon", "demo", "cli"],
    &["commands"],
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).expect("readable source dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Blanks `v[from..to]` (clamped to its length), keeping line breaks.
fn blank(v: &mut [u8], from: usize, to: usize) {
    let to = to.min(v.len());
    for c in &mut v[from.min(to)..to] {
        if *c != b'\n' {
            *c = b' ';
        }
    }
}

/// Every position at which `needle` starts in `hay`.
fn find_all<'a>(hay: &'a [u8], needle: &'a [u8]) -> impl Iterator<Item = usize> + 'a {
    (0..hay.len()).filter(move |&i| hay[i..].starts_with(needle))
}

/// The source with comments blanked, and the same with string and char literals blanked too.
/// Both keep every byte's position (and so every line number).
struct Lexed {
    without_comments: Vec<u8>,
    code_only: Vec<u8>,
}

fn lex(text: &str) -> Lexed {
    let b = text.as_bytes();
    let mut without_comments = b.to_vec();
    let mut code_only = b.to_vec();
    let mut i = 0;
    while i < b.len() {
        let rest = &b[i..];
        if rest.starts_with(b"//") {
            let end = rest
                .iter()
                .position(|&c| c == b'\n')
                .map_or(b.len(), |p| i + p);
            blank(&mut without_comments, i, end);
            blank(&mut code_only, i, end);
            i = end;
        } else if rest.starts_with(b"/*") {
            let mut depth = 0;
            let mut j = i;
            while j < b.len() {
                if b[j..].starts_with(b"/*") {
                    depth += 1;
                    j += 2;
                } else if b[j..].starts_with(b"*/") {
                    depth -= 1;
                    j += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    j += 1;
                }
            }
            blank(&mut without_comments, i, j);
            blank(&mut code_only, i, j);
            i = j;
        } else if rest.starts_with(b"r\"") || rest.starts_with(b"r#") || rest.starts_with(b"br") {
            let start = i + usize::from(rest[0] == b'b') + 1;
            let hashes = b[start..].iter().take_while(|&&c| c == b'#').count();
            if b.get(start + hashes) != Some(&b'"') {
                i += 1;
                continue;
            }
            let mut close = vec![b'"'];
            close.extend(std::iter::repeat_n(b'#', hashes));
            let body = start + hashes + 1;
            let end = b[body..]
                .windows(close.len())
                .position(|w| w == close.as_slice())
                .map_or(b.len(), |p| body + p);
            blank(&mut code_only, body, end);
            i = end + close.len();
        } else if rest[0] == b'"' {
            let mut j = i + 1;
            while j < b.len() && b[j] != b'"' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            blank(&mut code_only, i + 1, j);
            i = j + 1;
        } else if rest[0] == b'\'' {
            // A char literal ('x', '\n', '\u{..}'), not a lifetime ('a).
            let len = if rest.get(1) == Some(&b'\\') {
                rest.get(3..)
                    .and_then(|r| r.iter().position(|&c| c == b'\''))
                    .map(|p| p + 4)
            } else {
                let ch = text[i + 1..].chars().next().map_or(1, char::len_utf8);
                (rest.get(1 + ch) == Some(&b'\'')).then_some(ch + 2)
            };
            match len {
                Some(n) => {
                    blank(&mut code_only, i + 1, i + n - 1);
                    i += n;
                }
                None => i += 1,
            }
        } else if rest[0].is_ascii_alphanumeric() || rest[0] == b'_' {
            // Skip the identifier whole, so `br` or `r` inside one starts no raw string.
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
        } else {
            i += 1;
        }
    }
    Lexed {
        without_comments,
        code_only,
    }
}

/// The byte ranges of `#[cfg(test)]` items in `code` (comments and literals already blank):
/// from the attribute to the item's `;` or closing brace (or, for a field, its `,`).
fn test_items(code: &[u8]) -> Vec<(usize, usize)> {
    let attr = b"#[cfg(test)]";
    let mut out = Vec::new();
    let mut next = 0;
    for start in find_all(code, attr) {
        if start < next {
            // Inside the previous test item.
            continue;
        }
        let mut j = start + attr.len();
        let mut depth = 0i32;
        while j < code.len() {
            match code[j] {
                b';' | b',' if depth == 0 => break,
                b'{' => depth += 1,
                b'}' => {
                    depth -= 1;
                    if depth <= 0 {
                        break;
                    }
                }
                _ => {}
            }
            j += 1;
        }
        // A field's item ends before its struct's closing brace.
        let end = if depth < 0 {
            j
        } else {
            (j + 1).min(code.len())
        };
        out.push((start, end));
        next = end;
    }
    out
}

/// The files that `#[cfg(test)] mod name;` declarations bring in (a file or a folder, or the
/// file a `#[path = "…"]` names).
fn test_only_paths(files: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for file in files {
        let text = fs::read_to_string(file).expect("readable source");
        let lexed = lex(&text);
        let code = lexed.code_only;
        let dir = file.parent().expect("in a folder");
        let stem = file
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("utf-8 name");
        let own = if matches!(stem, "mod" | "lib" | "main") {
            dir.to_path_buf()
        } else {
            dir.join(stem)
        };
        for (from, to) in test_items(&code) {
            let with_strings = String::from_utf8_lossy(&lexed.without_comments[from..to]);
            if let Some(rest) = with_strings.split("#[path = \"").nth(1) {
                out.push(dir.join(rest.split('"').next().expect("a path")));
            }
            let item = String::from_utf8_lossy(&code[from..to]);
            let item = item.trim_start_matches("#[cfg(test)]").trim();
            let item = item.strip_prefix("pub ").unwrap_or(item).trim();
            if let Some(name) = item.strip_prefix("mod ").and_then(|m| m.strip_suffix(';')) {
                out.push(own.join(format!("{}.rs", name.trim())));
                out.push(own.join(name.trim()));
            }
        }
    }
    out
}

/// One production source file: its path from the root, its top-level module, and its text
/// with test items and comments blanked (`text`) and literals blanked too (`code`).
struct Source {
    path: String,
    module: String,
    text: Vec<u8>,
    code: Vec<u8>,
}

impl Source {
    fn line_of(&self, at: usize) -> usize {
        1 + self.text[..at].iter().filter(|&&c| c == b'\n').count()
    }
}

/// Every file of `src/` that is compiled outside tests, with its test items blanked.
fn production_sources() -> Vec<Source> {
    let src = root().join("src");
    let files = rust_files(&src);
    let test_only = test_only_paths(&files);
    files
        .iter()
        .filter(|f| !test_only.iter().any(|t| f.starts_with(t)))
        .filter_map(|f| {
            let rel = f.strip_prefix(&src).expect("under src");
            let first = rel.components().next()?.as_os_str().to_str()?.to_owned();
            let module = first.strip_suffix(".rs").unwrap_or(&first).to_owned();
            if matches!(module.as_str(), "lib" | "main") {
                return None;
            }
            let lexed = lex(&fs::read_to_string(f).expect("readable source"));
            let (mut text, mut code) = (lexed.without_comments, lexed.code_only);
            for (from, to) in test_items(&code) {
                blank(&mut text, from, to);
                blank(&mut code, from, to);
            }
            Some(Source {
                path: format!("src/{}", rel.display()),
                module,
                text,
                code,
            })
        })
        .collect()
}

fn ident_at(code: &[u8], at: usize) -> String {
    code[at..]
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
        .map(|&c| char::from(c))
        .collect()
}

/// The top-level modules `code` names after `crate::`, with where: `crate::a::…` and each
/// entry of `crate::{a, b::c}`.
fn crate_references(code: &[u8]) -> Vec<(String, usize)> {
    let needle = b"crate::";
    let mut out = Vec::new();
    for at in find_all(code, needle) {
        let i = at + needle.len();
        let preceded_by_path =
            at > 0 && (code[at - 1].is_ascii_alphanumeric() || code[at - 1] == b'_');
        if preceded_by_path {
            continue;
        }
        if code.get(i) == Some(&b'{') {
            let mut depth = 0;
            let mut j = i;
            let mut entry_start = true;
            while j < code.len() {
                match code[j] {
                    b'{' => {
                        depth += 1;
                        entry_start = depth == 1;
                    }
                    b'}' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    b',' if depth == 1 => entry_start = true,
                    c if entry_start && (c.is_ascii_alphabetic() || c == b'_') => {
                        out.push((ident_at(code, j), j));
                        entry_start = false;
                    }
                    _ => {}
                }
                j += 1;
            }
        } else {
            out.push((ident_at(code, i), at));
        }
    }
    out
}

/// The references between top-level modules: (from, to) → the first place it is made.
fn module_graph(sources: &[Source]) -> BTreeMap<(String, String), String> {
    let modules: BTreeSet<&str> = sources.iter().map(|s| s.module.as_str()).collect();
    let mut edges = BTreeMap::new();
    for s in sources {
        for (to, at) in crate_references(&s.code) {
            if to != s.module && modules.contains(to.as_str()) {
                edges
                    .entry((s.module.clone(), to))
                    .or_insert_with(|| format!("{}:{}", s.path, s.line_of(at)));
            }
        }
    }
    edges
}

/// A cycle of the graph, as its modules in order with the first repeated at the end.
fn find_cycle(edges: &BTreeMap<(String, String), String>) -> Option<Vec<String>> {
    let mut next: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (from, to) in edges.keys() {
        next.entry(from).or_default().push(to);
    }
    // 0 unvisited, 1 on the current path, 2 done.
    fn visit<'a>(
        m: &'a str,
        next: &BTreeMap<&'a str, Vec<&'a str>>,
        mark: &mut BTreeMap<&'a str, u8>,
        path: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        mark.insert(m, 1);
        path.push(m);
        for &n in next.get(m).map_or(&[][..], Vec::as_slice) {
            match mark.get(n).copied().unwrap_or(0) {
                1 => {
                    let from = path.iter().position(|&p| p == n).expect("on the path");
                    let mut cycle: Vec<String> =
                        path[from..].iter().map(|s| (*s).to_owned()).collect();
                    cycle.push(n.to_owned());
                    return Some(cycle);
                }
                0 => {
                    if let Some(c) = visit(n, next, mark, path) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        path.pop();
        mark.insert(m, 2);
        None
    }
    let mut mark = BTreeMap::new();
    let starts: Vec<&str> = next.keys().copied().collect();
    for m in starts {
        if mark.get(m).copied().unwrap_or(0) == 0
            && let Some(c) = visit(m, &next, &mut mark, &mut Vec::new())
        {
            return Some(c);
        }
    }
    None
}

#[test]
fn the_top_level_modules_depend_on_each_other_without_a_cycle() {
    let edges = module_graph(&production_sources());
    assert!(edges.len() > 20, "too few references found: {edges:?}");
    if let Some(cycle) = find_cycle(&edges) {
        let steps: Vec<String> = cycle
            .windows(2)
            .map(|w| {
                let at = &edges[&(w[0].clone(), w[1].clone())];
                format!("  {} -> {} ({at})", w[0], w[1])
            })
            .collect();
        panic!("the modules of src/ form a cycle:\n{}", steps.join("\n"));
    }
}

#[test]
fn no_module_uses_a_module_of_a_higher_layer() {
    let layer_of: BTreeMap<&str, usize> = LAYERS
        .iter()
        .enumerate()
        .flat_map(|(i, layer)| layer.iter().map(move |m| (*m, i)))
        .collect();
    let sources = production_sources();
    let unplaced: BTreeSet<&str> = sources
        .iter()
        .map(|s| s.module.as_str())
        .filter(|m| !layer_of.contains_key(m))
        .collect();
    assert!(
        unplaced.is_empty(),
        "top-level modules missing from LAYERS in tests/architecture.rs (and from the \
         architecture section of docs/development.md): {unplaced:?}"
    );
    let upward: Vec<String> = module_graph(&sources)
        .iter()
        .filter(|((from, to), _)| layer_of[from.as_str()] < layer_of[to.as_str()])
        .map(|((from, to), at)| format!("  {from} -> {to} ({at})"))
        .collect();
    assert!(
        upward.is_empty(),
        "references from a lower layer to a higher one:\n{}",
        upward.join("\n")
    );
}

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

#[test]
fn the_scanner_sees_grouped_references_and_skips_tests_comments_and_strings() {
    let text = "use crate::{config::Mode, store::{self, Store}};\n\
                // crate::daemon in a comment\n\
                const S: &str = \"crate::report in a string\";\n\
                fn f() -> crate::okta::UserId { let c = '{'; todo!() }\n\
                #[cfg(test)]\n\
                mod tests { use crate::sim; fn g() { let _ = crate::demo::run; } }\n\
                #[cfg(test)]\n\
                use crate::commands;\n";
    let lexed = lex(text);
    let mut code = lexed.code_only;
    for (from, to) in test_items(&code) {
        blank(&mut code, from, to);
    }
    let names: Vec<String> = crate_references(&code)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["config", "store", "okta"]);
}
