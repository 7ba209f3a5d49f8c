//! Rendering a [`Table`] as aligned text for a terminal, RFC 4180 CSV, or JSON. Pure text: no
//! IO. CSV cells that a spreadsheet would read as a formula are neutralised.

use std::fmt::Write;

use super::table::{Cell, Table};

/// Output format of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Columns aligned for a terminal.
    Table,
    /// RFC 4180 CSV (CRLF line ends, header row), spreadsheet-safe.
    Csv,
    /// A JSON array of objects with snake_case keys.
    Json,
}

impl Format {
    /// The file extension for this format.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Table => "txt",
            Format::Csv => "csv",
            Format::Json => "json",
        }
    }
}

/// How lists (scopes, rule names) are joined in table and CSV output. JSON uses arrays.
pub const DEFAULT_SCOPE_DELIMITER: &str = ";";

/// Renders `table` in `format`, joining lists with `delimiter` (table and CSV).
pub fn render(table: &Table, format: Format, delimiter: &str) -> String {
    match format {
        Format::Table => text(table, delimiter),
        Format::Csv => csv(table, delimiter),
        Format::Json => json(table),
    }
}

fn plain(cell: &Cell, delimiter: &str) -> String {
    match cell {
        Cell::Null => String::new(),
        Cell::Int(n) => n.to_string(),
        Cell::Text(s) => s.clone(),
        Cell::List(items) => items.join(delimiter),
        Cell::StoredNames(names) => names.split(',').collect::<Vec<_>>().join(delimiter),
        Cell::Labelled(label, names) => format!("{label}: {}", names.join(delimiter)),
    }
}

/// Aligned columns through `comfy-table`, borderless: two spaces between columns, numbers
/// right-aligned, no trailing blanks, never wrapped to the terminal's width. Control characters
/// are shown escaped so one row stays on one line.
fn text(table: &Table, delimiter: &str) -> String {
    let mut out = comfy_table::Table::new();
    out.load_preset(comfy_table::presets::NOTHING)
        .set_header(table.columns.iter().copied());
    for row in &table.rows {
        out.add_row(row.iter().map(|cell| text_cell(cell, delimiter)));
    }
    // Each cell is padded by one space on either side, except the first column's left edge.
    if let Some(first) = out.column_mut(0) {
        first.set_padding((0, 1));
    }
    let mut text = out.trim_fmt();
    text.push('\n');
    text
}

fn text_cell(cell: &Cell, delimiter: &str) -> comfy_table::Cell {
    match cell {
        Cell::Null => comfy_table::Cell::new("-"),
        Cell::Int(n) => comfy_table::Cell::new(n).set_alignment(comfy_table::CellAlignment::Right),
        other => comfy_table::Cell::new(controls_escaped(&plain(other, delimiter))),
    }
}

/// `text` with its control characters escaped (`\n`, `\t`, `\u{1b}`), and the invisible
/// characters that could reorder, break or hide what a row shows (Unicode's format
/// characters: bidi overrides and isolates, zero-width characters, the soft hyphen, tags;
/// and the line and paragraph separators); everything else, quotes and backslashes too, as
/// it is.
fn controls_escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let invisible = matches!(c,
            '\u{ad}' | '\u{600}'..='\u{605}' | '\u{61c}' | '\u{6dd}' | '\u{70f}' | '\u{8e2}'
            | '\u{180e}' | '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206f}' | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}' | '\u{e0001}' | '\u{e0020}'..='\u{e007f}');
        if c.is_control() || invisible {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Neutralises a CSV cell a spreadsheet would evaluate (OWASP "CSV injection"): a leading
/// `=`, `+`, `-`, `@`, tab or carriage return gets a `'` prefix, and so does each part after a
/// `;`, which a spreadsheet whose list separator is `;` (Excel in many locales) reads as a
/// cell of its own.
pub fn neutralise(value: &str) -> String {
    let part = |p: &str| {
        if p.starts_with(['=', '+', '-', '@', '\t', '\r']) {
            format!("'{p}")
        } else {
            p.to_owned()
        }
    };
    value.split(';').map(part).collect::<Vec<_>>().join(";")
}

/// A CSV cell: text neutralised, and each item of a list too, since a spreadsheet that splits
/// cells on the list delimiter (Excel where the list separator is `;`) reads every item as a
/// cell of its own. Numbers are never formulas.
fn csv_cell(cell: &Cell, delimiter: &str) -> String {
    let items = |items: &mut dyn Iterator<Item = &str>| {
        items.map(neutralise).collect::<Vec<_>>().join(delimiter)
    };
    match cell {
        Cell::Int(_) | Cell::Null => plain(cell, delimiter),
        Cell::Text(s) => neutralise(s),
        Cell::List(list) => items(&mut list.iter().map(String::as_str)),
        Cell::StoredNames(names) => items(&mut names.split(',')),
        Cell::Labelled(label, list) => neutralise(&format!(
            "{label}: {}",
            items(&mut list.iter().map(String::as_str))
        )),
    }
}

/// RFC 4180 through the `csv` crate: header row, CRLF line ends, fields quoted when they need
/// it, each cell as [`csv_cell`] writes it.
fn csv(table: &Table, delimiter: &str) -> String {
    let mut out = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    let rows = table.rows.iter().map(|row| {
        row.iter()
            .map(|cell| csv_cell(cell, delimiter))
            .collect::<Vec<_>>()
    });
    let written = out
        .write_record(&table.columns)
        .and_then(|()| rows.into_iter().try_for_each(|row| out.write_record(&row)));
    written.expect("writing CSV to memory cannot fail");
    let bytes = out
        .into_inner()
        .expect("flushing CSV to memory cannot fail");
    String::from_utf8(bytes).expect("CSV built from strings is UTF-8")
}

fn json_value(cell: &Cell) -> serde_json::Value {
    match cell {
        Cell::Null => serde_json::Value::Null,
        Cell::Int(n) => (*n).into(),
        Cell::Text(s) | Cell::StoredNames(s) => s.as_str().into(),
        Cell::List(items) => items.clone().into(),
        Cell::Labelled(..) => plain(cell, super::DEFAULT_SCOPE_DELIMITER).into(),
    }
}

/// A JSON array, one object per line, keys in column order.
fn json(table: &Table) -> String {
    if table.rows.is_empty() {
        return "[]\n".to_owned();
    }
    let mut out = String::from("[\n");
    for (n, row) in table.rows.iter().enumerate() {
        out.push_str("  {");
        for (i, (name, cell)) in table.columns.iter().zip(row).enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            let _ = write!(
                out,
                "{}: {}",
                serde_json::Value::from(*name),
                json_value(cell)
            );
        }
        out.push('}');
        if n + 1 < table.rows.len() {
            out.push(',');
        }
        out.push('\n');
    }
    out.push_str("]\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Table {
        let mut t = Table::new(&["name", "n", "scopes"]);
        t.push(vec![
            Cell::Text("=SUM(A1)".into()),
            Cell::Int(-3),
            Cell::List(vec!["a".into(), "b,c".into()]),
        ]);
        t.push(vec![
            Cell::Text("say \"hi\"\nbye".into()),
            Cell::Null,
            Cell::List(vec![]),
        ]);
        t
    }

    #[test]
    fn csv_quotes_and_neutralises_text_but_leaves_numbers_alone() {
        let out = render(&sample(), Format::Csv, ";");
        assert_eq!(
            out,
            "name,n,scopes\r\n'=SUM(A1),-3,\"a;b,c\"\r\n\"say \"\"hi\"\"\nbye\",,\r\n"
        );
    }

    #[test]
    fn json_keeps_column_order_types_and_nulls() {
        let out = render(&sample(), Format::Json, ";");
        let parsed: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(parsed[0]["scopes"], serde_json::json!(["a", "b,c"]));
        assert_eq!(parsed[0]["n"], serde_json::json!(-3));
        assert_eq!(parsed[1]["n"], serde_json::Value::Null);
        assert!(out.starts_with("[\n  {\"name\": "));
    }

    #[test]
    fn table_output_aligns_columns_and_keeps_each_row_on_one_line() {
        let out = render(&sample(), Format::Table, ",");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0].find("scopes"), lines[1].find("a,b,c"));
        assert!(lines[2].contains("\\n"));
        assert!(lines[2].starts_with("say \"hi\"\\nbye"), "{}", lines[2]);
    }

    #[test]
    fn table_output_shows_quotes_and_backslashes_as_they_are() {
        let mut t = Table::new(&["error"]);
        t.push(vec![Cell::Text("O'Brien: \"boom\" at C:\\okta\t!".into())]);
        let out = render(&t, Format::Table, ";");
        assert_eq!(
            out.lines().nth(1),
            Some("O'Brien: \"boom\" at C:\\okta\\t!")
        );
        let mut t = Table::new(&["reason"]);
        t.push(vec![Cell::Text(
            "ok\u{202e}lanigiro\u{200b}\u{2028}\u{e0041}".into(),
        )]);
        let out = render(&t, Format::Table, ";");
        let shown = "ok\\u{202e}lanigiro\\u{200b}\\u{2028}\\u{e0041}";
        assert_eq!(out.lines().nth(1), Some(shown));
    }

    #[test]
    fn every_formula_prefix_is_neutralised() {
        for p in ["=", "+", "-", "@", "\t", "\r"] {
            assert_eq!(neutralise(&format!("{p}x")), format!("'{p}x"));
        }
        assert_eq!(neutralise("x=1"), "x=1");
    }
}
