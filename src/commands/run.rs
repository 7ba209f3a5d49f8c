//! `revokd run`: the daemon, until SIGTERM or SIGINT (exit 0).

use super::{Exit, Failure, load_config, overrides};
use crate::cli::Cli;
use crate::daemon::{self, Daemon};

pub(super) async fn run(cli: &Cli) -> Result<Exit, Failure> {
    // Handlers first: a SIGTERM during start-up then still means a clean stop, and a SIGHUP
    // (whose default action ends the process) a reload once the daemon runs.
    let shutdown = daemon::shutdown_signal().map_err(failure)?;
    let hangups = daemon::hangup_signal().map_err(failure)?;
    let config = load_config(cli)?;
    let daemon = Daemon::build(config, cli.config.clone(), overrides(cli))
        .await
        .map_err(failure)?;
    daemon.run(shutdown, hangups).await.map_err(failure)?;
    Ok(Exit::Success)
}

fn failure(e: daemon::Error) -> Failure {
    match e {
        daemon::Error::Config(e) => Failure::Config(e),
        e => Failure::Other(anyhow::Error::new(e).context("revokd run")),
    }
}
