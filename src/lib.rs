//! revokd keeps the OAuth 2.0 refresh tokens of an Okta org hygienic: it lists the tokens Okta
//! holds for configured user/client pairs, records every observation in SQLite, revokes what
//! policy selects, and leaves an audit trail that proves it.

pub mod cli;
pub mod commands;
pub mod config;
pub mod daemon;
pub mod demo;
pub mod gate;
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

/// The allocator of every revokd process (the daemon, the CLI, the tests and the benchmarks):
/// a sweep allocates and frees a few small strings per token and a page's body per request,
/// the pattern where glibc's allocator spends most (its free-list consolidation was the
/// largest item in a profile of the listing) and fragments.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
