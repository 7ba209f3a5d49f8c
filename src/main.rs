//! The `revokd` binary: parse the command line, set up logging, hand over to the library.

use std::process::ExitCode;

use clap::Parser;
use revokd::cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    revokd::telemetry::init(cli.log_format, cli.verbosity());
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
