//! `revokd audit verify`: walk the hash chain of the revocation audit trail.

use anyhow::Context;

use super::{Exit, Failure, load_config, open_existing_store};
use crate::cli::Cli;

pub(super) async fn verify(cli: &Cli) -> Result<Exit, Failure> {
    let config = load_config(cli)?;
    let store = open_existing_store(&config).await?;
    let verdict = store
        .verify_audit()
        .await
        .context("cannot read the audit trail")?;
    store.close().await;
    match verdict {
        Ok(n) => {
            println!("audit chain intact: {n} record(s) verified");
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
