//! `revokd db migrate`.

use super::{Exit, Failure, load_database_config, open_store, output};
use crate::cli::Cli;
use crate::store::MIGRATOR;

pub(super) async fn migrate(cli: &Cli) -> Result<Exit, Failure> {
    let config = load_database_config(cli)?;
    let store = open_store(&config).await?;
    store.close().await;
    let latest = MIGRATOR.iter().map(|m| m.version).max().unwrap_or_default();
    let text = format!(
        "database {} is migrated (latest migration {latest})\n",
        config.database.url
    );
    output::print(text, Exit::Success)
}
