//! The command line (clap derive). Doc comments are the help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::ids::{ClientId, UserId};
use crate::report::{self, TimeArg};
use crate::telemetry::LogFormat;

/// revokd keeps the OAuth 2.0 refresh tokens of an Okta org hygienic: it lists the tokens Okta
/// holds for configured user/client pairs, records every observation in SQLite, revokes what
/// policy selects (dry-run by default), and keeps a tamper-evident audit trail.
///
/// Exit codes: 0 success; 3 finished with failures (some targets or revocations failed, the
/// safety guard tripped, or the audit chain is broken; for `status`, something needs
/// attention); 64 a mistake on the command line; 69 Okta could not be reached at all (DNS,
/// connect, TLS); 77 Okta refused the credentials; 78 bad configuration; 1 other errors. A
/// closed stdout pipe ends quietly with 0.
#[derive(Debug, Parser)]
#[command(name = "revokd", version, propagate_version = true)]
pub struct Cli {
    /// Configuration file (TOML). Environment variables REVOKD_… (with __ for nesting) override it.
    #[arg(long, global = true, env = "REVOKD_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// The database, overriding `database.url`: a sqlx SQLite URL (`sqlite://revokd.db`) or a
    /// file path. For `revokd demo`, where the demo database goes (default revokd-demo.db).
    #[arg(long, global = true, value_name = "URL|FILE")]
    pub db: Option<String>,

    /// Log line format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Pretty)]
    pub log_format: LogFormat,

    /// More log detail (-v, -vv). REVOKD_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,

    /// Errors only.
    #[arg(short, long, global = true)]
    pub quiet: bool,

    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// -1 for quiet, else the number of -v.
    pub fn verbosity(&self) -> i8 {
        if self.quiet {
            -1
        } else {
            i8::try_from(self.verbose).unwrap_or(i8::MAX)
        }
    }
}

/// revokd's commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// The daemon: sweeps, prunes and reports on the `[schedule]` cron expressions (UTC),
    /// serves /healthz, /readyz and /metrics on `server.listen`, reloads the configuration on
    /// SIGHUP, and on SIGTERM/SIGINT lets in-flight runs finish within
    /// `server.shutdown_timeout`, then exits 0.
    Run,
    /// One sweep now, then exit: list every target, record, decide, and revoke (enforce) or
    /// record the plan (dry-run). Exit 3 if any target or revocation failed or the guard tripped.
    Sweep(SweepArgs),
    /// Offboard one user now: revoke every refresh token they hold, for the clients given,
    /// the configured targets of the user and the clients Okta lists for them, and verify
    /// by listing again that none is left. Revokes even under `mode = "dry-run"` (an explicit
    /// request, never held by the breaker); --dry-run previews instead. Exemptions still win: the
    /// command lists each token that stayed and why. Exit 3 unless every client was verified
    /// empty of every token that is not exempt, or when any token stayed.
    Offboard(OffboardArgs),
    /// Configuration commands.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Database commands.
    #[command(subcommand)]
    Db(DbCommand),
    /// Audit trail commands.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Notification commands.
    #[command(subcommand)]
    Notify(NotifyCommand),
    /// A full pass against a built-in simulated Okta org: nothing to set up. Runs a dry-run
    /// sweep, then an enforce sweep with the example policies, into ./revokd-demo.db (or
    /// --db), and writes the configuration it used beside it (revokd-demo.toml). Refuses to
    /// replace an earlier demo unless --force, and anything but a demo's files even then.
    Demo(DemoArgs),
    /// A compliance report from the database (no Okta calls, no Okta settings needed):
    /// inventory, revocations, policies, sweeps, exposure or apps; or `overview`, one HTML page
    /// of charts.
    ///
    /// Times (T) are RFC 3339 (2026-07-01T00:00:00Z), a date (2026-07-01, meaning 00:00 UTC) or
    /// a duration back from now (30d, 12h).
    Report(ReportArgs),
    /// How things stand, from the database alone (no Okta settings needed): the last sweeps
    /// with status and duration, pending / failed / irrevocable revocations, offboarding jobs
    /// by state, the audit chain's head and whether it verifies, the database's size, and,
    /// when a configuration file is given, the daemon's next scheduled runs.
    ///
    /// Exit 3 when something needs attention: irrevocable revocations, failed or held
    /// offboarding jobs, a last finished sweep (or, within a week and a day, scheduled sweep)
    /// that failed, ended partial or was aborted, no sweep succeeded for over twice the
    /// sweep schedule's interval (when a configuration file is given), a notification given
    /// up in the last day, or a broken audit chain.
    Status(StatusArgs),
    /// Print the shell completion script for bash, zsh or fish on stdout, e.g.
    /// `revokd completions bash > /usr/share/bash-completion/completions/revokd`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: Shell,
    },
    /// Write the manual pages, generated from these definitions: `revokd.1` and one page per
    /// subcommand (`revokd-sweep.1`, `revokd-config-check.1`, …) into DIR, or `revokd.1`
    /// alone on stdout.
    #[command(hide = true)]
    Man {
        /// Directory to write every page into (created if missing).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

/// `revokd status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = StatusFormat::Table)]
    pub format: StatusFormat,
}

/// How `revokd status` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StatusFormat {
    /// Aligned text for people.
    Table,
    /// One JSON object for scripts.
    Json,
}

/// Shells `revokd completions` writes a script for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

/// `revokd sweep`.
#[derive(Debug, Args)]
pub struct SweepArgs {
    /// Record what would be revoked; revoke nothing (overrides `mode`).
    #[arg(long, conflicts_with = "enforce")]
    pub dry_run: bool,
    /// Revoke what policy selects (overrides `mode`).
    #[arg(long)]
    pub enforce: bool,
    /// Sweep only this USER:CLIENT pair (repeatable) instead of the configured targets.
    #[arg(long = "target", value_name = "USER:CLIENT", value_parser = pair_arg)]
    pub targets: Vec<PairArg>,
}

/// `revokd offboard`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct OffboardArgs {
    #[command(subcommand)]
    pub action: Option<OffboardCommand>,
    /// The Okta user id (`00u…`).
    #[arg(long, value_name = "ID", required = true, value_parser = user_arg)]
    pub user: Option<UserId>,
    /// A client id (`0oa…`) to include besides the configured and discovered ones (repeatable).
    #[arg(long = "client", value_name = "ID", value_parser = client_arg)]
    pub clients: Vec<ClientId>,
    /// Why, recorded with every revocation.
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// List and record `planned` revocations; revoke nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `revokd offboard …`.
#[derive(Debug, Subcommand)]
pub enum OffboardCommand {
    /// Let offboarding jobs held by the breaker (`safety.max_offboarded_users_per_hour`) run:
    /// they are queued again and the daemon's worker picks them up, unheld.
    Release {
        /// A held job to release (repeatable; ids as `revokd status` lists them).
        #[arg(long = "job", value_name = "ID", required_unless_present = "all")]
        jobs: Vec<i64>,
        /// Release every held job.
        #[arg(long, conflicts_with = "jobs")]
        all: bool,
    },
}

/// `revokd config …`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the configuration and print the effective config, secrets redacted.
    Check {
        /// Print the annotated example configuration instead.
        #[arg(long)]
        example: bool,
    },
}

/// `revokd db …`.
#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Apply pending database migrations (the commands that write apply them too; the ones
    /// that only read refuse a database of another schema).
    Migrate,
}

/// `revokd notify …`.
#[derive(Debug, Subcommand)]
pub enum NotifyCommand {
    /// Queue the notifications given up (`notify_deliveries` in state `failed`: refused by
    /// their receiver, or out of attempts) again, their attempts counted afresh: once a
    /// receiver is fixed, the daemon sends it what it missed within seconds. Needs the
    /// daemon's configuration (--config): only its `[[notify]]` receivers are sent to, each
    /// only the kinds its `events` takes.
    Resend {
        /// Only to this receiver (`[[notify]] name`; repeatable).
        #[arg(long = "receiver", value_name = "NAME")]
        receivers: Vec<String>,
    },
}

/// `revokd audit …`.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Walk the revocation audit hash chain; name the first broken record (exit 3) or confirm it
    /// whole. Prints the chain's head (`ID:HASH`); keep a copy elsewhere (every sweep also logs it)
    /// and pass it back with --anchor to detect a rewritten chain.
    Verify {
        /// A head recorded earlier, `ID:HASH`: the record must still exist with that hash.
        #[arg(long, value_name = "ID:HASH", value_parser = anchor_arg)]
        anchor: Vec<AnchorArg>,
    },
}

/// `revokd demo`. The database is `--db` (default `revokd-demo.db`); its configuration is
/// written beside it, with the extension `.toml`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Replace an earlier demo's database (and its configuration) instead of refusing; never
    /// a database with other sweeps, offboarding jobs or revocations, nor a configuration
    /// the demo did not write.
    #[arg(long)]
    pub force: bool,
}

/// `revokd report`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct ReportArgs {
    /// The one-page overview instead of a table (`revokd report overview --help`).
    #[command(subcommand)]
    pub page: Option<ReportPage>,
    /// Which report.
    #[arg(value_enum, required = true)]
    pub kind: Option<report::Kind>,
    /// Start of the window, inclusive (revocations, policies, sweeps).
    #[arg(long, value_name = "T")]
    pub since: Option<TimeArg>,
    /// End of the window, exclusive (revocations, policies, sweeps).
    #[arg(long, value_name = "T")]
    pub until: Option<TimeArg>,
    /// Answer for this past instant from the token snapshots (inventory, exposure, apps).
    #[arg(long, value_name = "T")]
    pub at: Option<TimeArg>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = report::Format::Table)]
    pub format: report::Format,
    /// Write to FILE atomically (temp file + rename) instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Joins scopes and rule names within one table or CSV cell (JSON uses arrays).
    #[arg(long, default_value = report::DEFAULT_SCOPE_DELIMITER, value_name = "TEXT")]
    pub scope_delimiter: String,
}

/// `revokd report overview`.
#[derive(Debug, Subcommand)]
pub enum ReportPage {
    /// One page of charts (HTML), or its numbers (JSON).
    ///
    /// The page is self-contained (no scripts, fonts or styles from elsewhere; prints to
    /// PDF) with charts: active tokens by client and age band and by scope risk, revocations
    /// over time and by rule and outcome, exposure per age rule, and the open problems
    /// (failed and irrevocable revocations, held or failed offboarding, the last sweeps, the
    /// audit chain). Every figure names the view it comes from.
    Overview(OverviewArgs),
}

/// `revokd report overview`.
#[derive(Debug, Args)]
pub struct OverviewArgs {
    /// Start of the window for revocations and sweeps, inclusive (tokens are as of now).
    #[arg(long, value_name = "T")]
    pub since: Option<TimeArg>,
    /// `html` (the page) or `json` (the same numbers).
    #[arg(long, value_enum, default_value_t = report::overview::OverviewFormat::Html)]
    pub format: report::overview::OverviewFormat,
    /// Write to FILE atomically (temp file + rename) instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// A `USER:CLIENT` pair named on the command line.
#[derive(Debug, Clone)]
pub struct PairArg {
    pub user: UserId,
    pub client: ClientId,
}

/// An audit head recorded earlier, `ID:HASH`.
#[derive(Debug, Clone)]
pub struct AnchorArg {
    pub id: i64,
    pub hash: String,
}

// Values are checked as clap parses them, so a mistake exits 64 with clap's message naming
// the option, before any configuration is read.

fn user_arg(text: &str) -> Result<UserId, String> {
    UserId::new(text).map_err(|e| e.to_string())
}

fn client_arg(text: &str) -> Result<ClientId, String> {
    ClientId::new(text).map_err(|e| e.to_string())
}

fn pair_arg(text: &str) -> Result<PairArg, String> {
    let (user, client) = text.split_once(':').ok_or("expected USER:CLIENT")?;
    Ok(PairArg {
        user: user_arg(user)?,
        client: client_arg(client)?,
    })
}

fn anchor_arg(text: &str) -> Result<AnchorArg, String> {
    let (id, hash) = (text.split_once(':'))
        .filter(|(_, hash)| !hash.is_empty())
        .ok_or("expected ID:HASH")?;
    let id = id
        .parse()
        .map_err(|_| format!("`{id}` is not a record id"))?;
    // A record's hash is a SHA-256 in hex: anything else is a slip of the copy, not a
    // rewritten chain.
    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!(
            "`{hash}` is not a record hash (64 hex digits, as `revokd audit verify` prints it)"
        ));
    }
    Ok(AnchorArg {
        id,
        hash: hash.to_ascii_lowercase(),
    })
}
