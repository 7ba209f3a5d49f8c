//! The `revokd` binary: parse the command line, set up logging, hand over to the library.

use std::process::ExitCode;

use clap::Parser;
use revokd::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return command_line(&e),
    };
    // The demo prints its own summary; its log lines would only bury it unless asked for.
    let quiet_demo = matches!(cli.command, Command::Demo(_)) && cli.verbose == 0;
    let verbosity = if quiet_demo { -1 } else { cli.verbosity() };
    revokd::telemetry::init(cli.log_format, verbosity);
    // tokio-cron-scheduler needs the multi-thread runtime.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("revokd: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(revokd::commands::run(cli))
}

/// What clap could not run: `--help` and `--version` print to stdout and succeed; a mistake on
/// the command line (an unknown option, a bad value, options that conflict) prints clap's
/// message to stderr and exits 64 (EX_USAGE). A closed stdout ends quietly, as everywhere.
fn command_line(e: &clap::Error) -> ExitCode {
    let _ = e.print();
    if e.use_stderr() {
        ExitCode::from(revokd::commands::EXIT_USAGE)
    } else {
        ExitCode::SUCCESS
    }
}
