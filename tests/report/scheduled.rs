//! Scheduled report files: one timestamped CSV per kind in `reports.dir`, equal to the
//! on-demand CSV report.

use revokd::report::{self, Format, Kind, Request};

use crate::seed;

#[sqlx::test(migrations = "./migrations")]
async fn scheduled_reports_are_timestamped_csv_files_in_the_reports_dir(pool: sqlx::SqlitePool) {
    let store = seed::seeded(pool).await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = seed::config();
    config.reports.dir = dir.path().join("reports");
    let kinds = [Kind::Inventory, Kind::Sweeps];
    let paths = report::write_scheduled(&store, &config, &kinds, seed::now())
        .await
        .unwrap();
    let names: Vec<String> = paths
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "inventory-20261129T220000Z.csv",
            "sweeps-20261129T220000Z.csv"
        ]
    );
    for (path, kind) in paths.iter().zip(kinds) {
        assert_eq!(path.parent().unwrap(), config.reports.dir);
        let table = report::build(&store, &config, &Request::all(kind), seed::now())
            .await
            .unwrap();
        let want = report::render(&table, Format::Csv, report::DEFAULT_SCOPE_DELIMITER);
        assert_eq!(std::fs::read_to_string(path).unwrap(), want);
    }
    // Every kind by default; nothing but the reports in the directory (no temp files).
    let all = report::write_scheduled(&store, &config, report::SCHEDULED_KINDS, seed::now())
        .await
        .unwrap();
    let every = <Kind as clap::ValueEnum>::value_variants().len();
    assert_eq!(all.len(), every, "one file per kind, apps included");
    assert_eq!(
        std::fs::read_dir(&config.reports.dir).unwrap().count(),
        every
    );
}
