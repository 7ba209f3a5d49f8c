//! `revokd demo`: run the built-in demonstration and print what it did.

use std::fmt::Write;

use super::{Exit, Failure, output, progress};
use crate::cli::DemoArgs;
use crate::demo::{DemoOutcome, run as run_demo};

pub(super) async fn run(args: &DemoArgs) -> Result<Exit, Failure> {
    eprintln!(
        "revokd demo: starting a simulated Okta org on 127.0.0.1 and sweeping it twice (dry-run, then enforce)…"
    );
    let counters = std::sync::Arc::new(crate::sweep::Progress::default());
    let line = progress::show(std::sync::Arc::clone(&counters));
    let outcome = run_demo(&args.db, counters).await;
    line.finish().await;
    let outcome = outcome?;
    print!("{}", summary(&outcome, &args.db.display().to_string()));
    let clean = outcome.dry_run.is_clean() && outcome.enforce.is_clean();
    Ok(if clean { Exit::Success } else { Exit::Failures })
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
    let _ = writeln!(out, "Database: {db} ({})", outcome.database_url);
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
    out
}
