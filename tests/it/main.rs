//! revokd's integration tests: one binary (zero2prod's `tests/api/main.rs`). Every test runs the
//! real library (or the real `revokd` binary) against a freshly seeded simulated Okta org on
//! 127.0.0.1:0 and a temporary SQLite file, and asserts on the org's state and the database.

mod apps;
mod apps_client_id;
mod apps_concurrent;
mod apps_records;
mod apps_resume;
mod audit;
mod audit_changes;
mod budget;
mod cli;
mod client_ids;
mod clock_env;
mod crash;
mod daemon;
mod database_commands;
mod demo;
mod enforce;
mod fail_fast;
mod faults;
mod gate;
mod gate_offboard;
mod gate_resend;
mod helpers;
mod history;
mod install;
mod lifecycle;
mod lists_revoked;
mod log_events;
mod not_okta;
mod notify;
mod oauth;
mod offboard;
mod offboard_revoke_all;
mod older_than_policy;
mod overview_browser;
mod pacing;
mod retries;
mod retry_scope;
mod secrets;
mod status;
mod status_schedule;
mod storage;
mod sweep_sync;
mod unchanged;
mod user_clients;
