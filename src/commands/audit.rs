//! `revokd audit verify`: walk the hash chain of the revocation audit trail.

use anyhow::Context;

use super::{Exit, Failure, load_database_config, open_existing_store, output};
use crate::cli::{AnchorArg, Cli};

pub(super) async fn verify(cli: &Cli, anchors: &[AnchorArg]) -> Result<Exit, Failure> {
    let config = load_database_config(cli)?;
    let store = open_existing_store(&config).await?;
    let verdict = store
        .verify_audit()
        .await
        .context("cannot read the audit trail")?;
    let mut missing = Vec::new();
    for AnchorArg { id, hash } in anchors {
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
        let text = format!(
            "audit chain REWRITTEN: anchor(s) {} no longer match the records\n",
            missing.join(", ")
        );
        return output::print(text, Exit::Failures);
    }
    match verdict {
        Ok(n) => {
            let mut text = format!("audit chain intact: {n} record(s) verified\n");
            if let Some((id, hash)) = head {
                text.push_str(&format!("head: {id}:{hash}\n"));
            }
            output::print(text, Exit::Success)
        }
        Err(broken) => {
            let text = format!(
                "audit chain BROKEN at record {}: {}\n",
                broken.id, broken.problem
            );
            output::print(text, Exit::Failures)
        }
    }
}
