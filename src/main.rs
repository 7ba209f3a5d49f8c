//! The `revokd` binary: parse the command line, set up logging, hand over to the library.

use std::process::ExitCode;

use clap::Parser;
use revokd::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
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
