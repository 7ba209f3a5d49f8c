//! `revokd demo`: run the built-in demonstration and print what it did.

use super::output::say;
use std::fmt::Write;
use std::io::IsTerminal;
use std::path::PathBuf;

use super::{Exit, Failure, output, progress};

use crate::cli::{Cli, DemoArgs};
use crate::demo::{DemoOutcome, run as run_demo};

pub(super) async fn run(cli: &Cli, args: &DemoArgs) -> Result<Exit, Failure> {
    let db = demo_path(cli.db.as_deref());
    if crate::demo::config_path(&db) == db {
        // The configuration written after the sweeps would replace the database they wrote.
        return Err(Failure::Usage(format!(
            "--db {}: the demo writes its configuration beside the database, as the \
             database's name with the extension .toml; name the database otherwise (e.g. \
             revokd-demo.db)",
            db.display()
        )));
    }
    say(format_args!(
        "revokd demo: starting a simulated Okta org on 127.0.0.1 and sweeping it twice (dry-run, then enforce)…"
    ));
    let counters = std::sync::Arc::new(crate::sweep::Progress::default());
    let line = progress::show(std::sync::Arc::clone(&counters));
    // On a terminal the progress line tells the story; elsewhere, one line per phase.
    let tell = !std::io::stderr().is_terminal();
    let phase = |text: String| {
        if tell {
            say(format_args!("revokd demo: {text}"));
        }
    };
    let outcome = run_demo(&db, args.force, counters, phase).await;
    line.finish().await;
    let outcome = outcome?;
    let clean = outcome.dry_run.is_clean() && outcome.enforce.is_clean();
    let exit = if clean { Exit::Success } else { Exit::Failures };
    output::print(summary(&outcome, &db.display().to_string()), exit)
}

fn summary(outcome: &DemoOutcome, db: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n== dry-run pass: records what policy selects, revokes nothing"
    );
    out.push_str(&output::sweep_summary(&outcome.dry_run));
    let _ = writeln!(out, "\n== enforce pass: revokes what policy selects");
    out.push_str(&output::sweep_summary(&outcome.enforce));
    let _ = writeln!(
        out,
        "\nSafety guard for the demo: at most {} revocations and {:.0} % of active tokens per sweep.",
        outcome.safety.max_revocations_per_sweep,
        outcome.safety.max_revocation_fraction * 100.0
    );
    let config = outcome.config_path.display();
    let _ = writeln!(out, "Database: {db} ({})", outcome.database_url);
    let _ = writeln!(
        out,
        "Configuration it used (policies, exemptions, guard): {config}"
    );
    let _ = writeln!(
        out,
        "Overview: {} (open it in a browser)",
        outcome.overview.display()
    );
    let _ = writeln!(out, "Look inside:");
    let _ = writeln!(
        out,
        "  sqlite3 {db} \"SELECT state, policy, COUNT(*) FROM v_revocation_state GROUP BY state, policy ORDER BY 3 DESC;\""
    );
    for command in ["report inventory", "status", "audit verify"] {
        let _ = writeln!(out, "  revokd --config {config} {command}");
    }
    out
}

/// The demo database file: `--db` as a path (a `sqlite://` URL's path), else `revokd-demo.db`.
fn demo_path(db: Option<&str>) -> PathBuf {
    let Some(db) = db else {
        return PathBuf::from("revokd-demo.db");
    };
    let path = db
        .strip_prefix("sqlite://")
        .or_else(|| db.strip_prefix("sqlite:"))
        .unwrap_or(db);
    PathBuf::from(path.split('?').next().unwrap_or(path))
}
