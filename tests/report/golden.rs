//! Golden files: every report kind in every format over the seeded database, compared with
//! `tests/golden/`. `UPDATE_GOLDEN=1 cargo test --test report` rewrites them.

use std::path::PathBuf;

use revokd::report::{self, Format, Kind, Request};

use crate::seed;

fn golden_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

/// Compares `actual` with the golden file `name`, or rewrites it under `UPDATE_GOLDEN=1`.
fn check(name: &str, actual: &str) {
    let path = golden_path(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1") {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with UPDATE_GOLDEN=1 to create it)",
            path.display()
        )
    });
    assert!(
        expected == actual,
        "{name} differs from its golden file; if the change is intended, rerun with \
         UPDATE_GOLDEN=1\n--- expected\n{expected}\n--- actual\n{actual}"
    );
}

const KINDS: [Kind; 5] = [
    Kind::Inventory,
    Kind::Revocations,
    Kind::Policies,
    Kind::Sweeps,
    Kind::Exposure,
];
const FORMATS: [Format; 3] = [Format::Table, Format::Csv, Format::Json];

#[sqlx::test(migrations = "./migrations")]
async fn every_report_kind_in_every_format_matches_its_golden_file(pool: sqlx::SqlitePool) {
    let store = seed::seeded(pool).await;
    let config = seed::config();
    for kind in KINDS {
        let table = report::build(&store, &config, &Request::all(kind), seed::now())
            .await
            .unwrap();
        for format in FORMATS {
            let text = report::render(&table, format, report::DEFAULT_SCOPE_DELIMITER);
            check(&format!("{}.{}", kind.as_str(), format.extension()), &text);
        }
    }
}

#[sqlx::test(migrations = "./migrations")]
async fn windows_and_past_instants_match_their_golden_files(pool: sqlx::SqlitePool) {
    let store = seed::seeded(pool).await;
    let config = seed::config();
    let cases = [
        (
            "inventory-at-2026-10-01.csv",
            Request {
                at: Some(seed::at("2026-10-01T00:00:00Z")),
                ..Request::all(Kind::Inventory)
            },
        ),
        (
            "exposure-at-2026-10-01.csv",
            Request {
                at: Some(seed::at("2026-10-01T00:00:00Z")),
                ..Request::all(Kind::Exposure)
            },
        ),
        (
            "revocations-since-2026-11-01.csv",
            Request {
                since: Some(seed::at("2026-11-01T00:00:00Z")),
                until: Some(seed::at("2026-11-29T00:00:00Z")),
                ..Request::all(Kind::Revocations)
            },
        ),
        (
            "policies-until-2026-10-01.csv",
            Request {
                until: Some(seed::at("2026-10-01T00:00:00Z")),
                ..Request::all(Kind::Policies)
            },
        ),
    ];
    for (name, request) in cases {
        let table = report::build(&store, &config, &request, seed::now())
            .await
            .unwrap();
        check(name, &report::render(&table, Format::Csv, "|"));
    }
}

#[sqlx::test(migrations = "./migrations")]
async fn an_instant_for_a_window_report_is_refused(pool: sqlx::SqlitePool) {
    let store = seed::seeded(pool).await;
    let request = Request {
        at: Some(seed::now()),
        ..Request::all(Kind::Sweeps)
    };
    let err = report::build(&store, &seed::config(), &request, seed::now())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("--since/--until"), "{err}");
}

#[sqlx::test(migrations = "./migrations")]
async fn the_exposure_detail_joins_its_rule_names_with_the_scope_delimiter(pool: sqlx::SqlitePool) {
    let store = seed::seeded(pool).await;
    let mut config = seed::config();
    // A second age rule that oarB (120 days old) breaks as well.
    config.policies.push(revokd::config::PolicyConfig {
        name: "older-90d".into(),
        older_than: Some(std::time::Duration::from_secs(90 * 86_400)),
        ..revokd::config::PolicyConfig::default()
    });
    let table = report::build(&store, &config, &Request::all(Kind::Exposure), seed::now())
        .await
        .unwrap();
    let csv = report::render(&table, Format::Csv, "/");
    let line = csv
        .lines()
        .find(|l| l.contains(",oarB,"))
        .expect("oarB's finding");
    assert!(
        line.ends_with(",revoke: admin-scopes-7d/older-90d"),
        "{line}"
    );
    // JSON keeps the one string it has always been, joined by the default delimiter.
    let json = report::render(&table, Format::Json, "/");
    assert!(
        json.contains(r#""detail": "revoke: admin-scopes-7d;older-90d""#),
        "{json}"
    );
}
