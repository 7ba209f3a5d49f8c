//! revokd's performance benchmark: `cargo bench --bench revokd` prints one table per scenario,
//! each with the median of several runs. It measures, never asserts: targets are in
//! docs/performance.md. Each scenario is a module of its own under `revokd/`:
//!
//! (a) rate budget (`rate_budget.rs`), (b) ingest into SQLite (`ingest.rs`), (c) policy
//! evaluations per second (`policy_rate.rs`), (d) offboarding latency through the real
//! `revokd run` (`offboarding.rs`), (e) storage and cost per sweep (`storage.rs`, and its
//! storage floor in `floor.rs`). This file holds what they share: the simulated org of the
//! ingest scenarios, the configuration, and the child processes that sweep so the org's own
//! memory is not counted.
//!
//! Options after `--`: `--runs N` (default 3), `--only a|b|c|d|e`, `--skip-1m`.

#[path = "revokd/rate_budget.rs"]
mod rate_budget;

#[path = "revokd/ingest.rs"]
mod ingest;

#[path = "revokd/policy_rate.rs"]
mod policy_rate;

#[path = "revokd/offboarding.rs"]
mod offboarding;

#[path = "revokd/storage.rs"]
mod storage;

#[path = "revokd/floor.rs"]
mod floor;
#[path = "revokd/sdk.rs"]
mod sdk;

#[path = "common/mod.rs"]
mod common;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::flag;
use revokd::config::{Config, Mode};
use revokd::okta::{ClientId, UserId};
use revokd::sim::{BucketModel, SimConfig, SimOrg};
use revokd::store::Trigger;
use revokd::sweep::{SweepPlan, Target};
use secrecy::SecretString;

const TOKEN: &str = "bench-token";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child-ingest") {
        return ingest::child_ingest(&args[i + 1], &args[i + 2], &args[i + 3]);
    }
    if let Some(i) = args.iter().position(|a| a == "--child-storage") {
        return storage::child(&args[i + 1], &args[i + 2], &args[i + 3]);
    }
    if let Some(i) = args.iter().position(|a| a == "--child-store") {
        return ingest::child_store(&args[i + 1], &args[i + 2], &args[i + 3]);
    }
    let runs = flag(&args, "--runs")
        .and_then(|v| v.parse().ok())
        .unwrap_or(3usize);
    let only = flag(&args, "--only");
    let want = |s: &str| only.as_deref().is_none_or(|o| o == s);
    let rt = runtime();
    if want("a") {
        rt.block_on(rate_budget::rate_budget(runs, BucketModel::PerRoute));
        rt.block_on(rate_budget::rate_budget(
            runs,
            BucketModel::SharedUserClients,
        ));
    }
    if want("b") {
        rt.block_on(ingest::ingest(runs, args.iter().any(|a| a == "--skip-1m")));
    }
    if want("c") {
        policy_rate::policy_rate(runs.max(5));
    }
    if want("d") {
        rt.block_on(offboarding::offboarding_latency(runs));
    }
    if want("e") {
        rt.block_on(storage::storage(
            runs,
            args.iter().any(|a| a == "--skip-1m"),
        ));
    }
}

/// `(pairs, big pairs)` of the ingest scenarios' orgs: ~100k tokens, then ~1M unless skipped.
fn org_sizes(skip_1m: bool) -> &'static [(usize, usize)] {
    if skip_1m {
        &[(500, 240)]
    } else {
        &[(500, 240), (5_000, 2_350)]
    }
}

/// The org of the ingest scenarios, (b) and (e): `pairs` pairs, `big` of them big, no rate
/// limit; with a temporary directory and the file listing its pairs for the child process.
async fn ingest_org(pairs: usize, big: usize) -> (SimOrg, tempfile::TempDir, PathBuf) {
    let org = SimOrg::start(SimConfig {
        seed: 11,
        users: pairs,
        clients: 20,
        pairs,
        big_pairs: big,
        api_token: TOKEN.into(),
        rate_limit_per_window: 0,
        concurrency_limit: 1_000,
        record_requests: false,
        ..SimConfig::default()
    })
    .await
    .expect("sim");
    let dir = tempfile::tempdir().expect("tempdir");
    let pairs_file = dir.path().join("pairs.txt");
    let lines: String = org
        .pairs()
        .iter()
        .map(|(u, c)| format!("{u} {c}\n"))
        .collect();
    std::fs::write(&pairs_file, lines).expect("pairs file");
    (org, dir, pairs_file)
}

fn config_for(base: &str, db: &Path, max_share: f64) -> Config {
    let mut config = Config {
        mode: Mode::DryRun,
        ..Config::default()
    };
    config.okta.org_url = Some(base.to_owned());
    config.okta.api_token = Some(SecretString::from(TOKEN));
    config.okta.rate_limit.max_share = max_share;
    config.okta.min_backoff = Duration::from_millis(50);
    config.okta.max_backoff = Duration::from_secs(20);
    config.database.url = format!("sqlite://{}", db.display());
    config
}

fn targets(pairs: &[(String, String)]) -> Vec<Target> {
    pairs
        .iter()
        .map(|(u, c)| Target {
            user: UserId::new(u.clone()).expect("user id"),
            client: ClientId::new(c.clone()).expect("client id"),
            source: revokd::store::TargetSource::Config,
        })
        .collect()
}

/// A dry-run pass over `pairs`, started as the CLI starts one.
fn dry_run(pairs: &[(String, String)]) -> SweepPlan {
    SweepPlan {
        named_targets: false,
        trigger: Trigger::Cli,
        mode: Mode::DryRun,
        targets: targets(pairs),
        wide: revokd::sweep::WideTargets::default(),
    }
}

/// The runtime a child process sweeps on.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// The pairs a child process sweeps, one `user client` per line of `pairs_file`.
fn read_pairs(pairs_file: &str) -> Vec<(String, String)> {
    std::fs::read_to_string(pairs_file)
        .expect("pairs")
        .lines()
        .filter_map(|l| l.split_once(' ').map(|(u, c)| (u.to_owned(), c.to_owned())))
        .collect()
}

/// Runs this binary as a child with `args` then `last`; returns the three numbers it prints
/// (`tokens wall_s peak_kib`).
async fn child(exe: &Path, args: &[&OsStr], last: impl AsRef<OsStr>) -> (f64, f64, f64) {
    let nums = child_numbers(exe, args, last).await;
    (nums[0], nums[1], nums[2])
}

/// Runs this binary as a child with `args` then `last`, with the packaged service's malloc
/// settings; returns every number it prints.
async fn child_numbers(exe: &Path, args: &[&OsStr], last: impl AsRef<OsStr>) -> Vec<f64> {
    let out = tokio::process::Command::new(exe)
        // As the packaged service runs revokd (systemd/revokd.service).
        .env("MALLOC_ARENA_MAX", "2")
        .env("MALLOC_MMAP_THRESHOLD_", "131072")
        .args(args)
        .arg(last)
        .output()
        .await
        .expect("child");
    assert!(
        out.status.success(),
        "child failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect()
}

fn peak_rss_kib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next().and_then(|n| n.parse().ok()))
        .unwrap_or(f64::NAN)
}
