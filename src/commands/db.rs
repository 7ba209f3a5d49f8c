//! `revokd db migrate`.

use super::{Exit, Failure, load_database_config, open_store};
use crate::cli::Cli;
use crate::store::MIGRATOR;

pub(super) async fn migrate(cli: &Cli) -> Result<Exit, Failure> {
    let config = load_database_config(cli)?;
    let store = open_store(&config).await?;
    store.close().await;
    let latest = MIGRATOR.iter().map(|m| m.version).max().unwrap_or_default();
    println!(
        "database {} is migrated (latest migration {latest})",
        config.database.url
    );
    Ok(Exit::Success)
}
