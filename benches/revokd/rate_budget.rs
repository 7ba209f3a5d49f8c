//! (a) rate budget: a sweep of 2,000 pairs (~20k tokens) against a simulated org limited to
//! 600 requests per window per bucket, max_share 0.5: wall ÷ ideal, 429s served, requests ÷
//! the minimum; once a dry run with a bucket per method and path template, once an enforce
//! sweep that revokes one client's tokens with GETs and DELETEs under
//! `/api/v1/users/{id}/clients` sharing one bucket, so listings, DELETEs and the GETs that
//! verify them all draw on it.

use std::time::{Duration, Instant};

use chrono::Utc;
use revokd::config::{Mode, PolicyConfig};
use revokd::sim::{BucketModel, SimConfig, SimOrg};
use revokd::store::Store;
use revokd::sweep::{Deps, run_once};

use super::common::median;
use super::{TOKEN, config_for, dry_run};

/// The client with the fewest tokens, and how many it has.
fn smallest_client(org: &SimOrg) -> (String, u64) {
    let mut counts = std::collections::BTreeMap::<String, u64>::new();
    for t in org.all_tokens() {
        *counts.entry(t.client_id).or_default() += 1;
    }
    counts
        .into_iter()
        .min_by_key(|(_, n)| *n)
        .expect("a client with tokens")
}

/// Σ max(1, ceil(tokens / 200)) over the pairs: the fewest list requests a full sweep needs.
fn minimum_requests(org: &SimOrg) -> u64 {
    org.pairs()
        .iter()
        .map(|(u, c)| (org.tokens(u, c).len() as u64).div_ceil(200).max(1))
        .sum()
}

pub async fn rate_budget(runs: usize, model: BucketModel) {
    let window = Duration::from_secs(6);
    let limit = 600;
    let share = 0.5;
    let buckets = match model {
        BucketModel::PerRoute => "a bucket per method and path template",
        BucketModel::SharedUserClients => "one bucket for /api/v1/users/{id}/clients…",
        BucketModel::UsersByMethod => "a bucket for the GETs under /api/v1/users/{id}/clients…",
    };
    println!(
        "\n(a) rate budget: 2,000 pairs, sim limit {limit} per {} s window per bucket, max_share {share}, {buckets}",
        window.as_secs()
    );
    println!(
        "{:>4} {:>8} {:>9} {:>9} {:>8} {:>8} {:>10} {:>6}",
        "run", "tokens", "requests", "minimum", "wall s", "ideal s", "wall/ideal", "429s"
    );
    let (mut ratios, mut r429, mut req_ratio) = (Vec::new(), Vec::new(), Vec::new());
    for run in 1..=runs {
        let org = SimOrg::start(SimConfig {
            seed: 7,
            users: 1_000,
            clients: 40,
            pairs: 2_000,
            big_pairs: 40,
            api_token: TOKEN.into(),
            rate_limit_per_window: limit,
            window,
            bucket_model: model,
            record_requests: false,
            ..SimConfig::default()
        })
        .await
        .expect("sim");
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = config_for(org.base_url().as_str(), &dir.path().join("bench.db"), share);
        let mut plan = dry_run(&org.pairs());
        // With one bucket for the pairs' routes, revocations draw on it too: each a DELETE
        // and a GET that verifies it.
        let mut revocations = 0;
        if model == BucketModel::SharedUserClients {
            let (client, n) = smallest_client(&org);
            (config.mode, plan.mode, revocations) = (Mode::Enforce, Mode::Enforce, n);
            config.policies = vec![PolicyConfig {
                name: "retired-app".into(),
                clients: vec![client],
                ..PolicyConfig::default()
            }];
            config.safety.max_revocations_per_sweep = u64::MAX;
            config.safety.max_revocation_fraction = 1.0;
        }
        let store = Store::connect(&config.database.url).await.expect("store");
        let deps = Deps::from_config(&config, store).expect("deps");
        let minimum = minimum_requests(&org) + 2 * revocations;
        let started = Instant::now();
        let report = run_once(&deps, &plan, Utc::now()).await.expect("sweep");
        let wall = started.elapsed().as_secs_f64();
        assert_eq!(
            report.counts.revocations_done, revocations,
            "every planned one revoked"
        );
        let stats = org.stats();
        let allowed_per_sec = f64::from(limit) * share / window.as_secs_f64();
        let ideal = minimum as f64 / allowed_per_sec;
        let served_429 = stats.rate_limited + stats.concurrency_limited;
        println!(
            "{run:>4} {:>8} {:>9} {:>9} {wall:>8.1} {ideal:>8.1} {:>10.3} {served_429:>6}",
            report.counts.tokens_seen,
            report.counts.http_requests,
            minimum,
            wall / ideal
        );
        ratios.push(wall / ideal);
        r429.push(served_429 as f64);
        req_ratio.push(report.counts.http_requests as f64 / minimum as f64);
    }
    println!(
        "median ({model:?}): wall/ideal {:.3} (target ≤ 1.10) · 429s served {:.0} (target 0) · requests/minimum {:.3} (target 1.000)",
        median(ratios),
        median(r429),
        median(req_ratio)
    );
}
