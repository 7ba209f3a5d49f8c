//! `revokd report apps`: one row per app target (each app whose listing revokd keeps in
//! `app_listings`): where its listing stands, the pages and tokens it brought, and the app's
//! tokens active at the report's instant (now, or `--at`), the users holding them and how many
//! of them the configured policies would revoke.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use super::inventory;
use super::table::Table;
use super::{Cell, Error};
use crate::config::Config;
use crate::policy::PolicySet;
use crate::store::Store;

/// Columns of `revokd report apps`.
pub const APP_COLUMNS: &[&str] = &[
    "app_id",
    "listing",
    "started_at",
    "completed_at",
    "pages",
    "tokens_listed",
    "sweeps",
    "active_tokens",
    "users",
    "to_revoke",
    "last_error",
];

/// `apps`: per app target, its listing and its tokens at `at` (`past` answers from history).
pub(super) async fn apps(
    store: &Store,
    config: &Config,
    at: DateTime<Utc>,
    past: bool,
) -> Result<Table, Error> {
    let policies = PolicySet::from_config(&config.policies, &config.exemptions)?;
    let tokens = inventory::tokens(store.pool(), &policies, at, past).await?;
    let mut table = Table::new(APP_COLUMNS);
    for listing in store.app_listings().await? {
        let held: Vec<_> = tokens
            .iter()
            .filter(|t| t.line.client_id == listing.app_id)
            .collect();
        let users: BTreeSet<&str> = held.iter().map(|t| t.line.user_id.as_str()).collect();
        let to_revoke = held.iter().filter(|t| t.decision == "revoke").count();
        table.push(vec![
            listing.app_id.clone().into(),
            listing.state().into(),
            listing.started_at.into(),
            listing.completed_at.into(),
            listing.pages.into(),
            listing.tokens.into(),
            listing.sweeps.into(),
            count(held.len()),
            count(users.len()),
            count(to_revoke),
            listing.last_error.into(),
        ]);
    }
    Ok(table)
}

fn count(n: usize) -> Cell {
    Cell::Int(i64::try_from(n).unwrap_or(i64::MAX))
}
