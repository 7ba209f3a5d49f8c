//! The org-scale benchmark: `cargo bench --bench apps` prints one table per scenario, each with
//! the median of several runs. It measures, never asserts: targets are in docs/performance.md.
//!
//! A simulated org of 4,000 users × 4 apps (~30k tokens), its `/api/v1/apps*` bucket 20
//! requests and its other buckets 600 requests per 2 s window, revokd at `max_share = 0.5`:
//!
//! (e) only `app` targets, enforce: list requests against Σ ceil(tokens ÷ 200) over the apps,
//!     wall ÷ ideal (ideal = the minimum list requests ÷ (share × the apps bucket's limit per
//!     second), then the revocations ÷ (share × a users bucket's limit per second): the sweep
//!     revokes once it has listed, and each revocation's DELETE and verifying GET run side by
//!     side in buckets of their own), when the last list request went out
//!     against the listing's own ideal, 429s, and whether the revoked set is exactly the
//!     policy's;
//! (f) the same org with every user × app pair as a target (dry-run), for scale;
//! (g) a sweep stopped half-way through the app listings, then a second sweep: total list
//!     requests against the minimum (+ at most one per app).
//!
//! Options after `--`: `--runs N` (default 3), `--only e|f|g`.

#[path = "common/mod.rs"]
mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use common::{flag, median};
use revokd::config::{Config, Mode, PolicyConfig};
use revokd::okta::{ClientId, UserId};
use revokd::sim::{RouteKind, SimConfig, SimOrg};
use revokd::store::{Store, Trigger};
use revokd::sweep::{Deps, SweepPlan, Target, WideTargets, run_once};
use secrecy::SecretString;

const TOKEN: &str = "bench-token";
const WINDOW: Duration = Duration::from_secs(2);
const USERS_LIMIT: u32 = 600;
const APPS_LIMIT: u32 = 20;
const SHARE: f64 = 0.5;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let runs = flag(&args, "--runs")
        .and_then(|v| v.parse().ok())
        .unwrap_or(3usize);
    let only = flag(&args, "--only");
    let want = |s: &str| only.as_deref().is_none_or(|o| o == s);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    if want("e") {
        rt.block_on(apps_enforce(runs));
    }
    if want("f") {
        rt.block_on(pairs_for_scale());
    }
    if want("g") {
        rt.block_on(resume(runs));
    }
}

async fn org() -> SimOrg {
    SimOrg::start(SimConfig {
        seed: 21,
        users: 4_000,
        clients: 4,
        pairs: 16_000,
        big_pairs: 16,
        api_token: TOKEN.into(),
        rate_limit_per_window: USERS_LIMIT,
        apps_rate_limit_per_window: Some(APPS_LIMIT),
        window: WINDOW,
        record_requests: true,
        ..SimConfig::default()
    })
    .await
    .expect("sim")
}

fn policy() -> PolicyConfig {
    PolicyConfig {
        name: "old-admin".into(),
        older_than: Some(Duration::from_secs(180 * 86_400)),
        scopes_any: vec!["admin:write".into()],
        ..PolicyConfig::default()
    }
}

async fn deps(org: &SimOrg, dir: &std::path::Path, mode: Mode) -> Deps {
    let mut config = Config {
        mode,
        ..Config::default()
    };
    config.okta.org_url = Some(org.base_url().to_string());
    config.okta.api_token = Some(SecretString::from(TOKEN));
    config.okta.rate_limit.max_share = SHARE;
    config.okta.min_backoff = Duration::from_millis(50);
    config.okta.max_backoff = Duration::from_secs(20);
    config.database.url = format!("sqlite://{}", dir.join("bench.db").display());
    config.policies = vec![policy()];
    config.safety.max_revocations_per_sweep = 1_000_000;
    config.safety.max_revocation_fraction = 1.0;
    let store = Store::connect(&config.database.url).await.expect("store");
    Deps::from_config(&config, store).expect("deps")
}

fn apps(org: &SimOrg) -> Vec<ClientId> {
    let ids: BTreeSet<String> = org.pairs().into_iter().map(|(_, c)| c).collect();
    ids.into_iter()
        .map(|c| ClientId::new(c).expect("client id"))
        .collect()
}

/// Σ over the apps of ceil(tokens ÷ 200).
fn minimum_app_pages(org: &SimOrg) -> u64 {
    let tokens = org.all_tokens();
    apps(org)
        .iter()
        .map(|a| {
            let n = tokens.iter().filter(|t| t.client_id == a.as_str()).count() as u64;
            n.div_ceil(200).max(1)
        })
        .sum()
}

fn asked(org: &SimOrg, route: RouteKind) -> u64 {
    org.requests().iter().filter(|r| r.route == route).count() as u64
}

/// Seconds from `since` to the last request of `routes` the org received.
fn last_of(org: &SimOrg, routes: &[RouteKind], since: Instant) -> f64 {
    org.requests()
        .iter()
        .filter(|r| routes.contains(&r.route))
        .map(|r| r.received_at.saturating_duration_since(since).as_secs_f64())
        .fold(0.0, f64::max)
}

fn per_second(limit: u32) -> f64 {
    f64::from(limit) * SHARE / WINDOW.as_secs_f64()
}

async fn apps_enforce(runs: usize) {
    println!(
        "\n(e) only app targets, enforce: 4,000 users × 4 apps, apps bucket {APPS_LIMIT} and users buckets {USERS_LIMIT} per {} s, max_share {SHARE}",
        WINDOW.as_secs()
    );
    println!(
        "{:>4} {:>7} {:>6} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>10} {:>5} {:>7}",
        "run",
        "tokens",
        "lists",
        "minimum",
        "revoked",
        "listed s",
        "list id.",
        "wall s",
        "ideal s",
        "wall/ideal",
        "429s",
        "exact"
    );
    let (mut ratios, mut r429, mut exact_all) = (Vec::new(), Vec::new(), true);
    for run in 1..=runs {
        let org = org().await;
        let dir = tempfile::tempdir().expect("tempdir");
        let deps = deps(&org, dir.path(), Mode::Enforce).await;
        let now = Utc::now();
        let expected: BTreeSet<String> = org
            .all_tokens()
            .into_iter()
            .filter(|t| now - t.created > TimeDelta::days(180))
            .filter(|t| t.scopes.iter().any(|s| s == "admin:write"))
            .map(|t| t.id)
            .collect();
        let minimum = minimum_app_pages(&org);
        let plan = SweepPlan {
            named_targets: false,
            trigger: Trigger::Cli,
            mode: Mode::Enforce,
            targets: Vec::new(),
            wide: WideTargets {
                apps: apps(&org),
                users: Vec::new(),
            },
        };
        let started = Instant::now();
        let report = run_once(&deps, &plan, now).await.expect("sweep");
        let wall = started.elapsed().as_secs_f64();
        let lists = asked(&org, RouteKind::AppListTokens);
        // The sweep lists every app, then revokes. Each revocation is a DELETE and a GET that
        // verifies it, each route a bucket of its own (the sim's default model), so the two run
        // side by side: the revocations' ideal is their count at one bucket's rate. Both from
        // the minimum counts, so requests beyond them count against the run.
        let list_ideal = minimum as f64 / per_second(APPS_LIMIT);
        let ideal = list_ideal + expected.len() as f64 / per_second(USERS_LIMIT);
        let listed = last_of(&org, &[RouteKind::AppListTokens], started);
        let stats = org.stats();
        let served_429 = stats.rate_limited + stats.concurrency_limited;
        let revoked: BTreeSet<String> = org.revoked().into_iter().map(|r| r.token.id).collect();
        let exact = revoked == expected && asked(&org, RouteKind::ListTokens) == 0;
        exact_all &= exact;
        println!(
            "{run:>4} {:>7} {lists:>6} {minimum:>8} {:>8} {listed:>8.1} {list_ideal:>8.1} {wall:>8.1} {ideal:>8.1} {:>10.3} {served_429:>5} {exact:>7}",
            report.counts.tokens_seen,
            revoked.len(),
            wall / ideal
        );
        ratios.push(wall / ideal);
        r429.push(served_429 as f64);
    }
    println!(
        "median: wall/ideal {:.3} (target ≤ 1.15) · 429s {:.0} (target 0) · revoked set exactly the policy's in every run: {exact_all}",
        median(ratios),
        median(r429)
    );
}

async fn pairs_for_scale() {
    println!("\n(f) the same org, every user × app pair as a target (dry-run, one run, for scale)");
    let org = org().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let deps = deps(&org, dir.path(), Mode::DryRun).await;
    let targets: Vec<Target> = org
        .pairs()
        .into_iter()
        .map(|(u, c)| Target {
            user: UserId::new(u).expect("user id"),
            client: ClientId::new(c).expect("client id"),
            source: revokd::store::TargetSource::Config,
        })
        .collect();
    let plan = SweepPlan {
        named_targets: false,
        trigger: Trigger::Cli,
        mode: Mode::DryRun,
        targets,
        wide: WideTargets::default(),
    };
    let started = Instant::now();
    let report = run_once(&deps, &plan, Utc::now()).await.expect("sweep");
    let wall = started.elapsed().as_secs_f64();
    let lists = asked(&org, RouteKind::ListTokens);
    println!(
        "pairs {} · tokens {} · list requests {lists} · wall {wall:.1} s · ideal {:.1} s",
        plan.targets.len(),
        report.counts.tokens_seen,
        lists as f64 / per_second(USERS_LIMIT)
    );
}

async fn resume(runs: usize) {
    println!(
        "\n(g) a sweep of only app targets stopped half-way through the listings, then a second sweep"
    );
    println!(
        "{:>4} {:>8} {:>8} {:>9} {:>9} {:>7}",
        "run", "minimum", "before", "after", "total", "extra"
    );
    let mut extras = Vec::new();
    for run in 1..=runs {
        let org = org().await;
        let dir = tempfile::tempdir().expect("tempdir");
        let deps = deps(&org, dir.path(), Mode::DryRun).await;
        let minimum = minimum_app_pages(&org);
        let plan = SweepPlan {
            named_targets: false,
            trigger: Trigger::Cli,
            mode: Mode::DryRun,
            targets: Vec::new(),
            wide: WideTargets {
                apps: apps(&org),
                users: Vec::new(),
            },
        };
        // Half the listing time at the apps bucket's pace, then the sweep is dropped mid-page.
        let half = Duration::from_secs_f64(minimum as f64 / per_second(APPS_LIMIT) / 2.0);
        let stopped = tokio::time::timeout(half, run_once(&deps, &plan, Utc::now())).await;
        assert!(stopped.is_err(), "the first sweep was stopped half-way");
        let before = asked(&org, RouteKind::AppListTokens);
        run_once(&deps, &plan, Utc::now()).await.expect("sweep");
        let total = asked(&org, RouteKind::AppListTokens);
        let extra = total as i64 - minimum as i64;
        println!(
            "{run:>4} {minimum:>8} {before:>8} {:>9} {total:>9} {extra:>7}",
            total - before
        );
        extras.push(extra as f64);
    }
    println!(
        "median extra list requests: {:.0} (target ≤ 1 per app, 4 apps)",
        median(extras)
    );
}
