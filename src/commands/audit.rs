//! `revokd audit verify`: walk the hash chain of the revocation audit trail.

use anyhow::Context;

use super::{Exit, Failure, load_database_config, open_existing_store};
use crate::cli::Cli;
use crate::config;

pub(super) async fn verify(cli: &Cli, anchors: &[String]) -> Result<Exit, Failure> {
    let anchors = anchors
        .iter()
        .map(|a| {
            let bad = || config::Error::invalid("--anchor", format!("`{a}` is not ID:HASH"));
            let (id, hash) = a.split_once(':').ok_or_else(bad)?;
            Ok((id.parse::<i64>().map_err(|_| bad())?, hash.to_owned()))
        })
        .collect::<Result<Vec<_>, config::Error>>()?;
    let config = load_database_config(cli)?;
    let store = open_existing_store(&config).await?;
    let verdict = store
        .verify_audit()
        .await
        .context("cannot read the audit trail")?;
    let mut missing = Vec::new();
    for (id, hash) in &anchors {
        if !store
            .audit_has(*id, hash)
            .await
            .context("cannot read the audit trail")?
        {
            missing.push(format!("{id}:{hash}"));
        }
    }
    let head = store
        .audit_head()
        .await
        .context("cannot read the audit head")?;
    store.close().await;
    if !missing.is_empty() {
        println!(
            "audit chain REWRITTEN: anchor(s) {} no longer match the records",
            missing.join(", ")
        );
        return Ok(Exit::Failures);
    }
    match verdict {
        Ok(n) => {
            println!("audit chain intact: {n} record(s) verified");
            if let Some((id, hash)) = head {
                println!("head: {id}:{hash}");
            }
            Ok(Exit::Success)
        }
        Err(broken) => {
            println!(
                "audit chain BROKEN at record {}: {}",
                broken.id, broken.problem
            );
            Ok(Exit::Failures)
        }
    }
}
