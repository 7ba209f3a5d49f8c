//! `revokd report`: build one report from the database and print it, or write it atomically
//! to `--output`.

use std::io::Write;

use anyhow::Context;
use chrono::Utc;

use super::{Exit, Failure, load_database_config, open_existing_store, stdout_closed};
use crate::cli::{Cli, ReportArgs};
use crate::report::{self, Request};

pub(super) async fn run(cli: &Cli, args: &ReportArgs) -> Result<Exit, Failure> {
    let config = load_database_config(cli)?;
    let now = Utc::now();
    let request = Request {
        kind: args.kind,
        since: args.since.map(|t| t.resolve(now)),
        until: args.until.map(|t| t.resolve(now)),
        at: args.at.map(|t| t.resolve(now)),
    };
    let store = open_existing_store(&config).await?;
    let built = report::build(&store, &config, &request, now).await;
    store.close().await;
    let table = match built {
        Ok(table) => table,
        Err(report::Error::Config(e)) => return Err(e.into()),
        Err(e) => return Err(anyhow::Error::from(e).into()),
    };
    let text = report::render(&table, args.format, &args.scope_delimiter);
    match &args.output {
        Some(path) => report::write_atomic(path, text.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => match std::io::stdout().lock().write_all(text.as_bytes()) {
            Err(e) if stdout_closed(&e) => {}
            written => written.context("cannot write to stdout")?,
        },
    }
    Ok(Exit::Success)
}
