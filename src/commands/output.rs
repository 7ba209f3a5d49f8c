//! What commands print for people: the sweep summary, and [`print`], the one way a command
//! writes its output to stdout.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::io::Write as _;

use super::{Exit, Failure};

use crate::config::{AuthMode, Config};
use crate::report::{self, Cell, Format, Table};
use crate::sweep::{Halt, HaltKind, PolicyTally, SweepReport};

/// Writes `text` to stdout, then ends the command with `exit`. A reader that has gone
/// (`revokd … | head -1`) ends it quietly with 0 instead, as `git` and `rg` do (PRODUCT §5);
/// any other write error is a failure.
pub(super) fn print(text: impl AsRef<[u8]>, exit: Exit) -> Result<Exit, Failure> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_ref())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Ok(exit),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(Exit::Success),
        Err(e) => Err(anyhow::Error::new(e)
            .context("cannot write to stdout")
            .into()),
    }
}

/// Writes a line to stderr for a person, ignoring a stderr that has gone: `2>&1 | head` closes
/// both streams, and a command that finished must not turn into a panic (exit 101) for it.
pub(crate) fn say(line: std::fmt::Arguments<'_>) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Tells once, on stderr, why a run stopped early (see [`halt_message`]), and gives the exit
/// code that says so: 69 for an unreachable org, 77 for refused credentials.
pub(super) fn halted(config: &Config, halt: &Halt, stopped: &str) -> Exit {
    say(format_args!(
        "revokd: {}",
        halt_message(config, halt, stopped)
    ));
    match halt.kind {
        HaltKind::Unreachable => Exit::Unreachable,
        HaltKind::CredentialsRefused => Exit::CredentialsRefused,
    }
}

/// What a sweep that stopped early got through (for [`halted`]).
pub(super) fn sweep_stopped(halt: &Halt, report: &SweepReport) -> String {
    let total = report.counts.targets_total;
    let tried = total.saturating_sub(halt.targets_skipped);
    format!("Stopped after {tried} of {total} pair(s)")
}

/// The one message for a run that stopped early: what failed, where, what came of the run
/// (`stopped`), and what to check.
fn halt_message(config: &Config, halt: &Halt, stopped: &str) -> String {
    let url = config
        .okta
        .org_url
        .as_deref()
        .unwrap_or("(okta.org_url unset)");
    match halt.kind {
        HaltKind::Unreachable => format!(
            "cannot reach Okta at {url}: {}. {stopped}; check okta.org_url and the network \
             (DNS, firewall, proxy).",
            halt.cause
        ),
        HaltKind::CredentialsRefused => format!(
            "Okta at {url} refused the credentials ({}). {stopped}; check {}.",
            halt.error,
            credentials_key(config)
        ),
    }
}

/// The configuration key(s) that hold the credentials Okta refused.
fn credentials_key(config: &Config) -> String {
    let okta = &config.okta;
    match (okta.auth, &okta.api_token_file) {
        (AuthMode::Ssws, Some(file)) => {
            format!(
                "okta.api_token_file ({}): the API token in it",
                file.display()
            )
        }
        (AuthMode::Ssws, None) => {
            "okta.api_token (or REVOKD_OKTA__API_TOKEN): the API token may be mistyped, \
             expired or revoked"
                .to_owned()
        }
        (AuthMode::Oauth, _) => {
            "okta.client_id, okta.private_key_file and okta.key_id against the Okta service app, \
             and this host's clock (an assertion is good for 5 minutes from its signing)"
                .to_owned()
        }
    }
}

/// A short readable summary of one sweep.
pub(super) fn sweep_summary(report: &SweepReport) -> String {
    let c = &report.counts;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "sweep #{} ({}): {}",
        report.sweep_id,
        report.mode.as_str(),
        report.status.as_str()
    );
    let _ = writeln!(
        out,
        "  pairs {} ({} failed) · tokens seen {} ({} active) · pages {}",
        c.targets_total, c.targets_failed, c.tokens_seen, report.active_seen, report.pages
    );
    let _ = writeln!(
        out,
        "  revocations planned {} · done {} · failed {}",
        c.revocations_planned, c.revocations_done, c.revocations_failed
    );
    let _ = writeln!(
        out,
        "  Okta requests {} · 429s waited out {} ({} concurrency) · retry waits {:.1} s · held back by the rate budget {:.1} s of this sweep's time",
        c.http_requests,
        c.http_429,
        c.http_429_concurrency,
        c.wait_ms as f64 / 1000.0,
        c.budget_wall_ms as f64 / 1000.0
    );
    if let Some(bytes) = report.db_bytes {
        let _ = writeln!(
            out,
            "  database {:.1} MiB",
            bytes as f64 / (1024.0 * 1024.0)
        );
    }
    if !report.policies.is_empty() {
        out.push_str(&indent(&policy_table(&report.policies)));
    }
    for app in &report.apps {
        let state = match (app.complete, app.resumed) {
            (true, true) => "complete (resumed)",
            (true, false) => "complete",
            (false, _) => "under way: the next sweep continues it",
        };
        let _ = writeln!(
            out,
            "  app {} · pages {} · tokens {} · {state}",
            app.app_id, app.pages, app.tokens
        );
    }
    if let Some(reason) = &report.guard {
        let _ = writeln!(out, "  SAFETY GUARD TRIPPED, nothing revoked: {reason}");
    }
    for f in report.failures.iter().take(10) {
        let _ = writeln!(
            out,
            "  target {}:{} failed: {}",
            f.user_id, f.client_id, f.error
        );
    }
    if report.failures.len() > 10 {
        let _ = writeln!(
            out,
            "  … and {} more failed targets (see the targets table)",
            report.failures.len() - 10
        );
    }
    if every_answer_not_okta(report) {
        let _ = writeln!(
            out,
            "  no target got an answer from Okta's API, only pages that are not Okta's: check \
             that okta.org_url is the org's Okta domain (https://{{yourOktaDomain}}), not its \
             admin console, a vanity URL or a proxy in front of it"
        );
    }
    out
}

/// Whether every target failed, each with an answer that is not Okta's JSON: the mark of a
/// host that is not Okta's API (a wrong `okta.org_url`) more than of Okta.
fn every_answer_not_okta(report: &SweepReport) -> bool {
    let c = &report.counts;
    !report.failures.is_empty()
        && c.targets_failed == c.targets_total
        && (report.failures.iter()).all(|f| f.error.contains(crate::okta::NOT_OKTA_JSON))
}

/// The sweep's tally per policy, as aligned text (the reports' table layout).
fn policy_table(policies: &BTreeMap<String, PolicyTally>) -> String {
    let mut table = Table::new(&[
        "policy", "planned", "revoked", "gone", "failed", "exempt", "flagged",
    ]);
    let n = |v: u64| Cell::Int(i64::try_from(v).unwrap_or(i64::MAX));
    for (name, t) in policies {
        table.push(vec![
            Cell::from(name.as_str()),
            n(t.planned),
            n(t.revoked),
            n(t.already_gone),
            n(t.failed),
            n(t.exempted),
            n(t.flagged),
        ]);
    }
    report::render(&table, Format::Table, report::DEFAULT_SCOPE_DELIMITER)
}

/// `text` with every line indented by two spaces, as the summary's details are.
fn indent(text: &str) -> String {
    text.lines().map(|line| format!("  {line}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_tally_is_an_indented_table_with_numbers_under_their_headers() {
        let long = "a-much-longer-policy-name";
        let policies = BTreeMap::from([
            (
                "idle-30d".to_owned(),
                PolicyTally {
                    planned: 12,
                    revoked: 3,
                    ..PolicyTally::default()
                },
            ),
            (
                long.to_owned(),
                PolicyTally {
                    flagged: 1,
                    ..PolicyTally::default()
                },
            ),
        ]);
        let row = |name: &str, numbers: [u64; 6]| {
            let [p, r, g, f, e, x] = numbers;
            format!("  {name:<25}  {p:>7}  {r:>7}  {g:>4}  {f:>6}  {e:>6}  {x:>7}\n")
        };
        let expected = [
            format!(
                "  {:<25}  planned  revoked  gone  failed  exempt  flagged\n",
                "policy"
            ),
            row(long, [0, 0, 0, 0, 0, 1]),
            row("idle-30d", [12, 3, 0, 0, 0, 0]),
        ];
        assert_eq!(indent(&policy_table(&policies)), expected.concat());
    }
}
