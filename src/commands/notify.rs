//! `revokd notify resend`: notifications given up, queued again for their receivers.

use std::fmt::Write as _;

use chrono::Utc;

use super::{Exit, Failure, load_database_config, open_existing_store_to_write, output};
use crate::cli::Cli;
use crate::config::EventKind;

/// Queues the given-up deliveries to the configured receivers named (every configured one
/// when none is), each only of the kinds its `events` still takes. The configuration is the
/// daemon's: it says which receivers exist, so none is queued for a receiver a reload removed
/// (the daemon would give it up again at once), and a name it does not know is a mistake on
/// the command line.
pub(super) async fn resend(cli: &Cli, receivers: &[String]) -> Result<Exit, Failure> {
    let Some(path) = &cli.config else {
        return Err(Failure::Usage(
            "notify resend needs the daemon's configuration (--config or REVOKD_CONFIG): it \
             names the receivers to send to"
                .into(),
        ));
    };
    let config = load_database_config(cli)?;
    if let Some(unknown) = (receivers.iter()).find(|r| !config.notify.iter().any(|n| &n.name == *r))
    {
        return Err(Failure::Usage(format!(
            "--receiver {unknown}: no [[notify]] receiver of that name in {}",
            path.display()
        )));
    }
    let wanted: Vec<(&str, Vec<&str>)> = (config.notify.iter())
        .filter(|n| receivers.is_empty() || receivers.contains(&n.name))
        .map(|n| {
            let kinds = EventKind::ALL.into_iter().filter(|k| n.wants(*k));
            (n.name.as_str(), kinds.map(EventKind::as_str).collect())
        })
        .collect();
    let store = open_existing_store_to_write(&config).await?;
    let given_up = store.given_up_deliveries().await.map_err(store_failure)?;
    let queued = if wanted.is_empty() {
        Vec::new()
    } else {
        (store.resend_given_up(&wanted, Utc::now()).await).map_err(store_failure)?
    };
    store.close().await;
    let mut text = String::new();
    for (receiver, n) in &queued {
        let _ = writeln!(text, "{} to {receiver} queued again", deliveries(*n));
    }
    for (receiver, n) in &given_up {
        let asked = receivers.is_empty() || receivers.contains(receiver);
        let sent = queued
            .iter()
            .find(|(r, _)| r == receiver)
            .map_or(0, |(_, q)| *q);
        let left = n - sent;
        if asked && left > 0 {
            let why = if wanted.iter().any(|(r, _)| r == receiver) {
                "of kinds its `events` no longer takes"
            } else {
                "the configuration names no such receiver"
            };
            let _ = writeln!(text, "{} to {receiver} not queued: {why}", deliveries(left));
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
        text.push_str("a daemon running with this configuration sends them within seconds\n");
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
