//! `revokd notify resend`: notifications given up, queued again for their receivers.

use std::fmt::Write as _;

use chrono::Utc;

use super::{Exit, Failure, load_database_config, open_existing_store_to_write, output};
use crate::cli::Cli;

/// Queues the given-up deliveries to `receivers` (every receiver when none is named) again;
/// with a configuration file, only to receivers it names, and a name it does not know is a
/// mistake on the command line.
pub(super) async fn resend(cli: &Cli, receivers: &[String]) -> Result<Exit, Failure> {
    let config = load_database_config(cli)?;
    let configured: Option<Vec<&str>> =
        (cli.config.as_ref()).map(|_| config.notify.iter().map(|n| n.name.as_str()).collect());
    if let (Some(known), Some(path)) = (&configured, &cli.config)
        && let Some(unknown) = receivers.iter().find(|r| !known.contains(&r.as_str()))
    {
        return Err(Failure::Usage(format!(
            "--receiver {unknown}: no [[notify]] receiver of that name in {}",
            path.display()
        )));
    }
    let store = open_existing_store_to_write(&config).await?;
    let given_up = store.given_up_deliveries().await.map_err(store_failure)?;
    let wanted: Vec<&str> = match (&configured, receivers.is_empty()) {
        (_, false) => receivers.iter().map(String::as_str).collect(),
        (Some(known), true) => known.clone(),
        (None, true) => Vec::new(),
    };
    let queued = if configured.as_ref().is_some_and(Vec::is_empty) {
        Vec::new()
    } else {
        (store.resend_given_up(&wanted, Utc::now()).await).map_err(store_failure)?
    };
    store.close().await;
    let mut text = String::new();
    for (receiver, n) in &queued {
        let _ = writeln!(text, "{} to {receiver} queued again", deliveries(*n));
    }
    if receivers.is_empty() {
        for (receiver, n) in given_up
            .iter()
            .filter(|(r, _)| !wanted.contains(&r.as_str()))
        {
            if configured.is_some() {
                let _ = writeln!(
                    text,
                    "{} to {receiver} not queued: the configuration names no such receiver",
                    deliveries(*n)
                );
            }
        }
    }
    if queued.is_empty() {
        let to = if receivers.is_empty() {
            String::new()
        } else {
            format!(" to {}", receivers.join(", "))
        };
        let _ = writeln!(text, "no delivery given up{to} was queued again");
    } else {
        text.push_str("the running daemon sends them within seconds\n");
    }
    output::print(text, Exit::Success)
}

fn deliveries(n: i64) -> String {
    match n {
        1 => "1 delivery".to_owned(),
        n => format!("{n} deliveries"),
    }
}

fn store_failure(e: crate::store::Error) -> Failure {
    Failure::Other(e.into())
}
