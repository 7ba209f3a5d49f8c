//! `revokd report`: build one report (or the overview page) from the database and print it,
//! or write it atomically to `--output`.

use std::path::Path;

use anyhow::Context;
use chrono::Utc;

use super::output::say;
use super::{Exit, Failure, load_database_config, open_existing_store, output};
use crate::cli::{Cli, OverviewArgs, ReportArgs, ReportPage};
use crate::config::Config;
use crate::report::{self, Request, overview};
use crate::store::Store;

pub(super) async fn run(cli: &Cli, args: &ReportArgs) -> Result<Exit, Failure> {
    let kind = match (&args.page, args.kind) {
        (Some(ReportPage::Overview(page)), _) => return run_overview(cli, page).await,
        (None, Some(kind)) => kind,
        (None, None) => {
            return Err(Failure::Usage(
                "which report? see revokd report --help".into(),
            ));
        }
    };
    let now = Utc::now();
    let request = Request {
        kind,
        since: args.since.map(|t| t.resolve(now)),
        until: args.until.map(|t| t.resolve(now)),
        at: args.at.map(|t| t.resolve(now)),
    };
    // Before anything is read: a mistake on the command line.
    if let Err(e) = request.check(now) {
        return Err(Failure::Usage(e.to_string()));
    }
    let config = load_database_config(cli)?;
    let store = open_existing_store(&config).await?;
    if !kind.is_windowed() {
        warn_without_rules(&store, &config).await;
    }
    let built = report::build(&store, &config, &request, now).await;
    store.close().await;
    let table = match built {
        Ok(table) => table,
        Err(report::Error::Config(e)) => return Err(e.into()),
        Err(report::Error::Usage(why)) => return Err(Failure::Usage(why)),
        Err(e) => return Err(anyhow::Error::from(e).into()),
    };
    let text = report::render(&table, args.format, &args.scope_delimiter);
    emit(args.output.as_deref(), &text)
}

async fn run_overview(cli: &Cli, args: &OverviewArgs) -> Result<Exit, Failure> {
    let config = load_database_config(cli)?;
    let now = Utc::now();
    let store = open_existing_store(&config).await?;
    warn_without_rules(&store, &config).await;
    let built = overview::build(&store, &config, args.since.map(|t| t.resolve(now)), now).await;
    store.close().await;
    let page = match built.and_then(|o| overview::render_overview(&o, args.format)) {
        Ok(page) => page,
        Err(report::Error::Config(e)) => return Err(e.into()),
        Err(e) => return Err(anyhow::Error::from(e).into()),
    };
    emit(args.output.as_deref(), &page)
}

/// Says so on stderr when a report that decides (what policy would do with each token) runs
/// with no `[[policies]]` while sweeps recorded rules: without the configuration the sweeps
/// run with (`--db` alone, say), every token would read as kept.
async fn warn_without_rules(store: &Store, config: &Config) {
    if !config.policies.is_empty() {
        return;
    }
    if let Ok(Some(rules)) = store.latest_rule_count().await
        && rules > 0
    {
        say(format_args!(
            "warning: the configuration has no [[policies]], so this report decides every token \
             with no rules; the latest sweep decided with {rules} rule(s): pass the configuration \
             it ran with (--config)"
        ));
    }
}

/// Writes the report to `output`, or to stdout.
fn emit(file: Option<&Path>, text: &str) -> Result<Exit, Failure> {
    match file {
        Some(path) => {
            report::write_atomic(path, text.as_bytes())
                .with_context(|| format!("cannot write {}", path.display()))?;
            Ok(Exit::Success)
        }
        None => output::print(text, Exit::Success),
    }
}
