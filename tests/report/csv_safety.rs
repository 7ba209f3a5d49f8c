//! CSV output parsed back with the `csv` crate: commas, quotes, newlines and formula prefixes
//! survive, and formula-looking cells (and items of list cells) come back with exactly one `'`
//! in front.

use revokd::report::{self, Cell, Format, Kind, Request, Table};

use crate::seed;

fn expected(cell: &Cell, delimiter: &str) -> String {
    match cell {
        Cell::Null => String::new(),
        Cell::Int(n) => n.to_string(),
        Cell::Text(s) => report::neutralise(s),
        Cell::List(items) => each(items.iter().map(String::as_str), delimiter),
        Cell::StoredNames(names) => each(names.split(','), delimiter),
        Cell::Labelled(label, names) => report::neutralise(&format!(
            "{label}: {}",
            each(names.iter().map(String::as_str), delimiter)
        )),
    }
}

/// Each item neutralised, then joined.
fn each<'a>(items: impl Iterator<Item = &'a str>, delimiter: &str) -> String {
    let items: Vec<String> = items.map(report::neutralise).collect();
    items.join(delimiter)
}

fn parse(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let header = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    let rows = reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect();
    (header, rows)
}

fn assert_round_trip(table: &Table, delimiter: &str) -> Vec<Vec<String>> {
    let text = report::render(table, Format::Csv, delimiter);
    let (header, rows) = parse(&text);
    assert_eq!(header, table.columns);
    assert_eq!(rows.len(), table.rows.len());
    for (parsed, source) in rows.iter().zip(&table.rows) {
        let want: Vec<String> = source.iter().map(|c| expected(c, delimiter)).collect();
        assert_eq!(parsed, &want);
    }
    rows
}

#[sqlx::test(migrations = "./migrations")]
async fn csv_survives_commas_quotes_newlines_and_formula_prefixes(pool: sqlx::SqlitePool) {
    let store = seed::seeded(pool).await;
    let config = seed::config();
    for kind in [
        Kind::Inventory,
        Kind::Revocations,
        Kind::Policies,
        Kind::Sweeps,
        Kind::Exposure,
    ] {
        let table = report::build(&store, &config, &Request::all(kind), seed::now())
            .await
            .unwrap();
        for delimiter in [";", ",", " | "] {
            assert_round_trip(&table, delimiter);
        }
    }

    let inventory = report::build(&store, &config, &Request::all(Kind::Inventory), seed::now())
        .await
        .unwrap();
    let rows = assert_round_trip(&inventory, ";");
    let carol = rows.iter().find(|r| r[2] == "oarC").unwrap();
    assert_eq!(carol[5], format!("'{};offline_access", seed::EVIL_SCOPE));

    let revocations = report::build(
        &store,
        &config,
        &Request::all(Kind::Revocations),
        seed::now(),
    )
    .await
    .unwrap();
    let rows = assert_round_trip(&revocations, ";");
    let failed = rows
        .iter()
        .find(|r| r[10] == "failed" && r[3] == "oarC")
        .unwrap();
    assert_eq!(failed[13], format!("'{}", seed::EVIL_REQUEST_ID));
    assert_eq!(failed[14], seed::EVIL_ERROR);

    let sweeps = report::build(&store, &config, &Request::all(Kind::Sweeps), seed::now())
        .await
        .unwrap();
    let rows = assert_round_trip(&sweeps, ";");
    assert_eq!(rows[1][14], format!("'{}", seed::EVIL_SWEEP_ERROR));
}

/// A spreadsheet that splits cells on the list delimiter (Excel in locales whose list separator
/// is `;`) sees each item of a list cell, and each `;`-separated part of any cell, as a cell of
/// its own: every one is neutralised, not only the cell's first character.
#[test]
fn every_item_of_a_list_cell_is_neutralised() {
    let evil = "=cmd|'/C calc'!A0";
    let mut table = Table::new(&["scopes", "names", "labelled", "error"]);
    table.push(vec![
        Cell::List(vec!["offline_access".into(), evil.into(), "a;+1".into()]),
        Cell::StoredNames(format!("stale-90d,{evil}")),
        Cell::Labelled("exempt".into(), vec!["a".into(), "@SUM(1)".into()]),
        Cell::Text(format!("Okta said: no;{evil}")),
    ]);
    for delimiter in [";", ","] {
        let text = report::render(&table, Format::Csv, delimiter);
        let (_, rows) = parse(&text);
        for cell in &rows[0] {
            let items = cell.split(delimiter).flat_map(|i| i.split(": "));
            for item in items.flat_map(|i| i.split(';')) {
                assert!(
                    !item.starts_with(['=', '+', '-', '@']),
                    "{item:?} in {cell:?} ({delimiter:?})"
                );
            }
        }
        assert_eq!(
            rows[0][0],
            format!("offline_access{delimiter}'{evil}{delimiter}a;'+1")
        );
        assert_eq!(rows[0][3], format!("Okta said: no;'{evil}"));
    }
}
