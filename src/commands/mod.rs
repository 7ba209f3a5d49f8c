//! The command layer: turns a parsed command line into calls on the library and an exit code
//! (0 ok, 3 finished with failures, 69 Okta unreachable, 77 credentials refused, 78 bad
//! configuration, 64 a command line clap cannot judge alone (options that conflict, an `--at`
//! before the history kept, a receiver the configuration does not name), 1 anything else; 64
//! for a command line clap refused is the binary's own). Fatal errors are reported once, here,
//! on stderr.

mod audit;
mod completions;
mod config_check;
mod db;
mod demo;
mod man;
mod notify;
mod offboard;
mod output;
mod progress;
mod report;
mod run;
mod status;
mod sweep;

use output::say;
use std::process::ExitCode;

use anyhow::Context;

use crate::cli::{AuditCommand, Cli, Command, ConfigCommand, DbCommand, NotifyCommand};
use crate::config::{self, Config};
use crate::policy::PolicySet;
use crate::store::Store;
use crate::sweep::Deps;

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Everything worked.
    Success,
    /// Finished, with failures the output names.
    Failures,
    /// Okta could not be reached at all (DNS, connect, TLS).
    Unreachable,
    /// Okta refused the credentials.
    CredentialsRefused,
}

/// Why a command could not finish.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error("configuration error: {0}")]
    Config(#[from] config::Error),
    /// A mistake on the command line clap cannot see (options that conflict for one report
    /// kind), found before anything is read.
    #[error("usage error: {0}")]
    Usage(String),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// Exit codes (docs/commands.md, "Exit codes"): finished with failures.
pub const EXIT_FAILURES: u8 = 3;
/// EX_USAGE (sysexits.h): a mistake on the command line.
pub const EXIT_USAGE: u8 = 64;
/// EX_UNAVAILABLE (sysexits.h): Okta could not be reached at all.
pub const EXIT_UNAVAILABLE: u8 = 69;
/// EX_NOPERM (sysexits.h): Okta refused the credentials.
pub const EXIT_NOPERM: u8 = 77;
/// EX_CONFIG (sysexits.h): bad configuration.
pub const EXIT_CONFIG: u8 = 78;

/// Runs the parsed command and maps its outcome to an exit code.
pub async fn run(cli: Cli) -> ExitCode {
    let outcome = match &cli.command {
        Command::Sweep(args) => sweep::run(&cli, args).await,
        Command::Offboard(args) => offboard::run(&cli, args).await,
        Command::Config(ConfigCommand::Check { example }) => config_check::run(&cli, *example),
        Command::Db(DbCommand::Migrate) => db::migrate(&cli).await,
        Command::Audit(AuditCommand::Verify { anchor }) => audit::verify(&cli, anchor).await,
        Command::Notify(NotifyCommand::Resend { receivers }) => {
            notify::resend(&cli, receivers).await
        }
        Command::Demo(args) => demo::run(&cli, args).await,
        Command::Report(args) => report::run(&cli, args).await,
        Command::Run => run::run(&cli).await,
        Command::Status(args) => status::run(&cli, args).await,
        Command::Completions { shell } => completions::run(*shell),
        Command::Man { dir } => man::run(dir.as_deref()),
    };
    match outcome {
        Ok(Exit::Success) => ExitCode::SUCCESS,
        Ok(Exit::Failures) => ExitCode::from(EXIT_FAILURES),
        Ok(Exit::Unreachable) => ExitCode::from(EXIT_UNAVAILABLE),
        Ok(Exit::CredentialsRefused) => ExitCode::from(EXIT_NOPERM),
        Err(Failure::Config(e)) => {
            say(format_args!("revokd: configuration error: {e}"));
            ExitCode::from(EXIT_CONFIG)
        }
        Err(e @ Failure::Usage(_)) => {
            say(format_args!("revokd: {e}"));
            ExitCode::from(EXIT_USAGE)
        }
        Err(Failure::Other(e)) => {
            say(format_args!("revokd: {e:#}"));
            ExitCode::FAILURE
        }
    }
}

/// Loads and validates the configuration named on the command line, all of it.
fn load_config(cli: &Cli) -> Result<Config, Failure> {
    load(cli, config::Needs::Everything)
}

/// Loads the configuration for a command that only reads or maintains the database: no Okta
/// settings needed.
fn load_database_config(cli: &Cli) -> Result<Config, Failure> {
    load(cli, config::Needs::Database)
}

fn load(cli: &Cli, needs: config::Needs) -> Result<Config, Failure> {
    let config = config::load_for(cli.config.as_deref(), &overrides(cli), needs)?;
    PolicySet::from_config(&config.policies, &config.exemptions)?;
    Ok(config)
}

/// What the command line puts over the configuration file and the environment (`--db`).
fn overrides(cli: &Cli) -> config::Overrides {
    config::Overrides {
        database_url: cli.db.clone(),
    }
}

/// Opens the configured database (applying migrations).
async fn open_store(config: &Config) -> Result<Store, Failure> {
    opened(config, Store::connect_configured(&config.database).await)
}

/// Opens the configured database, which must exist, its schema left as it is: for commands
/// that only read it.
async fn open_existing_store(config: &Config) -> Result<Store, Failure> {
    opened(
        config,
        Store::connect_existing_configured(&config.database).await,
    )
}

/// Opens the configured database, which must exist, applying migrations: for a command that
/// writes to it but must not create it (`offboard release`).
async fn open_existing_store_to_write(config: &Config) -> Result<Store, Failure> {
    opened(
        config,
        Store::connect_existing_to_write(&config.database).await,
    )
}

/// An opening's outcome, its failure naming the database.
fn opened(config: &Config, store: Result<Store, crate::store::Error>) -> Result<Store, Failure> {
    store
        .with_context(|| format!("cannot open the database {}", config.database.url))
        .map_err(Failure::Other)
}

/// Everything a sweep needs, from the configuration.
async fn deps(config: &Config) -> Result<Deps, Failure> {
    let store = open_store(config).await?;
    Ok(Deps::from_config(config, store)?)
}
