//! revokd keeps the OAuth 2.0 refresh tokens of an Okta org hygienic: it lists the tokens Okta
//! holds for configured user/client pairs, records every observation in SQLite, revokes what
//! policy selects, and leaves an audit trail that proves it.

// Commands write to stdout only through `commands::output::print`, which ends quietly when the
// reader has gone: `print!` panics on a closed pipe.
#![warn(clippy::print_stdout)]

pub mod cli;
pub mod commands;
pub mod config;
pub mod daemon;
pub mod demo;
pub mod gate;
pub mod ids;
pub mod notify;
pub mod offboard;
pub mod okta;
pub mod policy;
pub mod report;
pub mod runner;
pub mod sim;
pub mod store;
pub mod sweep;
pub mod telemetry;
