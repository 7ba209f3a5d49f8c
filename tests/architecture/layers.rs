//! The top-level modules of `src/` and the `crate::` references between them: no cycle, and
//! no arrow up the layers.

use std::collections::{BTreeMap, BTreeSet};

use crate::source::{Source, blank, find_all, lex, production_sources, test_items};

/// The layers, lowest first: a module may use its own layer's modules and those below. Every
/// top-level module of `src/` must appear here, so a new one is placed on purpose.
const LAYERS: &[&[&str]] = &[
    // Plain settings, Okta's id types and process facts: what everything else is told.
    &["config", "ids", "runner", "telemetry"],
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
        "top-level modules missing from LAYERS in tests/architecture/layers.rs (and from the \
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
