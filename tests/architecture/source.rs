//! Reading `src/` as the architecture tests need it: every production file with its comments
//! and test items blanked (and a copy with its literals blanked too), positions kept so every
//! finding names its line.

use std::fs;
use std::path::{Path, PathBuf};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file under `dir`, sorted.
pub fn rust_files(dir: &Path) -> Vec<PathBuf> {
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
pub fn blank(v: &mut [u8], from: usize, to: usize) {
    let to = to.min(v.len());
    for c in &mut v[from.min(to)..to] {
        if *c != b'\n' {
            *c = b' ';
        }
    }
}

/// Every position at which `needle` starts in `hay`.
pub fn find_all<'a>(hay: &'a [u8], needle: &'a [u8]) -> impl Iterator<Item = usize> + 'a {
    (0..hay.len()).filter(move |&i| hay[i..].starts_with(needle))
}

/// The source with comments blanked, and the same with string and char literals blanked too.
/// Both keep every byte's position (and so every line number).
pub struct Lexed {
    pub without_comments: Vec<u8>,
    pub code_only: Vec<u8>,
}

pub fn lex(text: &str) -> Lexed {
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
pub fn test_items(code: &[u8]) -> Vec<(usize, usize)> {
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
pub fn test_only_paths(files: &[PathBuf]) -> Vec<PathBuf> {
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
pub struct Source {
    pub path: String,
    pub module: String,
    pub text: Vec<u8>,
    pub code: Vec<u8>,
}

impl Source {
    pub fn line_of(&self, at: usize) -> usize {
        1 + self.text[..at].iter().filter(|&&c| c == b'\n').count()
    }
}

/// Every file of `src/` that is compiled outside tests, with its test items blanked.
pub fn production_sources() -> Vec<Source> {
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
