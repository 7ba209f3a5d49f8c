//! revokd's integration tests: one binary (zero2prod's `tests/api/main.rs`). Every test runs the
//! real library (or the real `revokd` binary) against a freshly seeded simulated Okta org on
//! 127.0.0.1:0 and a temporary SQLite file, and asserts on the org's state and the database.

mod audit;
mod budget;
mod cli;
mod crash;
mod daemon;
mod enforce;
mod faults;
mod helpers;
mod history;
mod lifecycle;
mod oauth;
mod offboard;
mod retries;
mod secrets;
mod storage;
mod sweep_sync;
