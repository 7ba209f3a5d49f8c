//! revokd's performance benchmark: `cargo bench --bench revokd` prints one table per scenario,
//! each with the median of several runs. It measures, never asserts: targets are in
//! docs/performance.md.
//!
//! (a) rate budget: a sweep of 2,000 pairs (~20k tokens) against a simulated org limited to
//!     600 requests per window per bucket, max_share 0.5, with a short window so a run takes
//!     well under a minute: wall ÷ ideal, 429s served, requests ÷ the minimum; once with a
//!     bucket per method and path template, once with GETs and DELETEs under
//!     `/api/v1/users/{id}/clients` sharing one bucket.
//! (b) ingest: 100k and 1M tokens, no rate limit: tokens per second into SQLite and peak RSS.
//!     The sweep runs in a child process (this binary again) so the simulated org's own memory,
//!     in the parent, is not counted. Then, for scale, the store alone: as many observations,
//!     each with the raw JSON of a token the sweep stored, written through the sweep's writer
//!     with no org and no HTTP.
//! (c) policy evaluations per second.
//! (d) offboarding: the real `revokd run` against a simulated org, one Okta event-hook delivery
//!     per departing user; latency from delivery to the job verified done, p50 / p99.
//!
//! (e) storage and cost per sweep: see `revokd/storage.rs`.
//!
//! Options after `--`: `--runs N` (default 3), `--only a|b|c|d|e`, `--skip-1m`.

#[path = "revokd/storage.rs"]
mod storage;

#[path = "common/mod.rs"]
mod common;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use common::{flag, median};
use revokd::config::{Config, ExemptionConfig, Mode, PolicyConfig};
use revokd::okta::{ClientId, UserId};
use revokd::policy::{PolicySet, TokenFacts, decide};
use revokd::sim::{BucketModel, SimConfig, SimOrg};
use revokd::store::{Store, TokenObservation, Trigger};
use revokd::sweep::{Deps, SweepPlan, Target, run_once};
use secrecy::SecretString;

const TOKEN: &str = "bench-token";

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child-ingest") {
        return child_ingest(&args[i + 1], &args[i + 2], &args[i + 3]);
    }
    if let Some(i) = args.iter().position(|a| a == "--child-storage") {
        return storage::child(&args[i + 1], &args[i + 2], &args[i + 3]);
    }
    if let Some(i) = args.iter().position(|a| a == "--child-store") {
        return child_store(&args[i + 1], &args[i + 2], &args[i + 3]);
    }
    let runs = flag(&args, "--runs")
        .and_then(|v| v.parse().ok())
        .unwrap_or(3usize);
    let only = flag(&args, "--only");
    let want = |s: &str| only.as_deref().is_none_or(|o| o == s);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    if want("a") {
        rt.block_on(rate_budget(runs, BucketModel::PerRoute));
        rt.block_on(rate_budget(runs, BucketModel::SharedUserClients));
    }
    if want("b") {
        rt.block_on(ingest(runs, args.iter().any(|a| a == "--skip-1m")));
    }
    if want("c") {
        policy_rate(runs.max(5));
    }
    if want("d") {
        rt.block_on(offboarding_latency(runs));
    }
    if want("e") {
        rt.block_on(storage::storage(
            runs,
            args.iter().any(|a| a == "--skip-1m"),
        ));
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

/// Σ max(1, ceil(tokens / 200)) over the pairs: the fewest list requests a full sweep needs.
fn minimum_requests(org: &SimOrg) -> u64 {
    org.pairs()
        .iter()
        .map(|(u, c)| (org.tokens(u, c).len() as u64).div_ceil(200).max(1))
        .sum()
}

async fn rate_budget(runs: usize, model: BucketModel) {
    let window = Duration::from_secs(6);
    let limit = 600;
    let share = 0.5;
    let buckets = match model {
        BucketModel::PerRoute => "a bucket per method and path template",
        BucketModel::SharedUserClients => "one bucket for /api/v1/users/{id}/clients…",
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
        let config = config_for(org.base_url().as_str(), &dir.path().join("bench.db"), share);
        let store = Store::connect(&config.database.url).await.expect("store");
        let deps = Deps::from_config(&config, store).expect("deps");
        let minimum = minimum_requests(&org);
        let plan = SweepPlan {
            trigger: Trigger::Cli,
            mode: Mode::DryRun,
            targets: targets(&org.pairs()),
            wide: revokd::sweep::WideTargets::default(),
        };
        let started = Instant::now();
        let report = run_once(&deps, &plan, Utc::now()).await.expect("sweep");
        let wall = started.elapsed().as_secs_f64();
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

async fn ingest(runs: usize, skip_1m: bool) {
    println!(
        "\n(b) ingest into SQLite, no rate limit (sweep in a child process; RSS is the child's peak)"
    );
    println!(
        "{:>6} {:>4} {:>10} {:>8} {:>12} {:>13}",
        "pairs", "run", "tokens", "wall s", "tokens/s", "peak RSS MiB"
    );
    let sizes: &[(usize, usize)] = if skip_1m {
        &[(500, 240)]
    } else {
        &[(500, 240), (5_000, 2_350)]
    };
    let exe = std::env::current_exe().expect("current exe");
    for &(pairs, big) in sizes {
        let (org, dir, pairs_file) = ingest_org(pairs, big).await;
        let (mut rates, mut rss, mut seen_all) = (Vec::new(), Vec::new(), 0.0);
        for run in 1..=runs {
            let db = dir.path().join(format!("ingest-{run}.db"));
            let base = org.base_url().to_string();
            let args = [OsStr::new("--child-ingest"), base.as_ref(), db.as_ref()];
            let (seen, wall, peak_kib) = child(&exe, &args, &pairs_file).await;
            seen_all = seen;
            println!(
                "{pairs:>6} {run:>4} {seen:>10.0} {wall:>8.2} {:>12.0} {:>13.1}",
                seen / wall,
                peak_kib / 1024.0
            );
            rates.push(seen / wall);
            rss.push(peak_kib / 1024.0);
        }
        println!(
            "median for {seen_all:.0} tokens: {:.0} tokens/s (target ≥ 50,000) · peak RSS {:.1} MiB (target ≤ 64)",
            median(rates),
            median(rss)
        );
        if pairs == 500 {
            store_alone(&exe, dir.path(), seen_all, runs).await;
        }
    }
}

/// The store's share of (b): the same number of observations written straight through the
/// sweep's writer, in a child process like the sweep.
async fn store_alone(exe: &Path, dir: &Path, tokens: f64, runs: usize) {
    let swept = Store::connect_existing(&format!("sqlite://{}", dir.join("ingest-1.db").display()))
        .await
        .expect("swept database");
    let raw: String = sqlx::query_scalar("SELECT raw_json FROM token_snapshots LIMIT 1")
        .fetch_one(swept.pool())
        .await
        .expect("a stored token");
    swept.close().await;
    let sample = dir.join("token.json");
    std::fs::write(&sample, &raw).expect("sample token");
    let mut rates = Vec::new();
    for run in 1..=runs {
        let db = dir.join(format!("store-{run}.db"));
        let args = [OsStr::new("--child-store"), db.as_ref(), sample.as_ref()];
        let (n, wall, peak_kib) = child(exe, &args, format!("{tokens:.0}")).await;
        println!(
            "{:>6} {run:>4} {n:>10.0} {wall:>8.2} {:>12.0} {:>13.1}",
            "store",
            n / wall,
            peak_kib / 1024.0
        );
        rates.push(n / wall);
    }
    println!(
        "median, store alone ({} B of raw JSON per token, no org, no HTTP): {:.0} tokens/s",
        raw.len(),
        median(rates)
    );
}

/// The child side of the store-only run: `tokens` observations in pages of 200 (500 pairs),
/// random token ids, each with the sample's raw JSON; prints `tokens wall_s peak_kib`.
fn child_store(db: &str, sample: &str, tokens: &str) {
    let raw = std::fs::read_to_string(sample).expect("sample");
    let tokens: usize = tokens.parse().expect("token count");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let store = Store::connect(&format!("sqlite://{db}"))
            .await
            .expect("store");
        let started = Instant::now();
        let ingest = store.ingest().await.expect("writer");
        let mut writes = Vec::new();
        for first in (0..tokens).step_by(200) {
            let pair = (first / 200) % 500;
            let rows = (first..tokens.min(first + 200))
                .map(|i| observation(pair, i, &raw))
                .collect();
            writes.push(ingest.page(None, rows, Utc::now()).await.expect("page"));
        }
        ingest.close().await;
        for write in writes {
            write.committed().await.expect("committed");
        }
        let wall = started.elapsed().as_secs_f64();
        println!("{tokens} {wall} {}", peak_rss_kib());
    });
}

/// A token of pair `pair` with an id as random as Okta's (`oar` + 17 characters).
fn observation(pair: usize, i: usize, raw: &str) -> TokenObservation {
    let id = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 4;
    let ts = "2026-11-01T00:00:00.000Z".to_owned();
    TokenObservation {
        token_id: format!("oar{id:017x}"),
        user_id: format!("00u{pair:017}"),
        client_id: "0oa00000000000000001".into(),
        issuer: Some("https://example.okta.com/oauth2/aus00000000000000001".into()),
        status: Some("ACTIVE".into()),
        scopes_json: r#"["offline_access","openid"]"#.into(),
        created_at: Some(ts.clone()),
        last_updated_at: Some(ts),
        expires_at: None,
        raw_json: raw.to_owned(),
        scope_records: Vec::new(),
        policy_matches: "[]".into(),
    }
}

/// Runs this binary as a child with `args` then `last`; returns the three numbers it prints
/// (`tokens wall_s peak_kib`).
async fn child(exe: &Path, args: &[&OsStr], last: impl AsRef<OsStr>) -> (f64, f64, f64) {
    let nums = child_numbers(exe, args, last).await;
    (nums[0], nums[1], nums[2])
}

/// Runs this binary as a child with `args` then `last`; returns every number it prints.
async fn child_numbers(exe: &Path, args: &[&OsStr], last: impl AsRef<OsStr>) -> Vec<f64> {
    let out = tokio::process::Command::new(exe)
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

/// The child side of (b): one dry-run sweep with no policies; prints `seen wall_s peak_kib`.
fn child_ingest(base: &str, db: &str, pairs_file: &str) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let pairs: Vec<(String, String)> = std::fs::read_to_string(pairs_file)
            .expect("pairs")
            .lines()
            .filter_map(|l| l.split_once(' ').map(|(u, c)| (u.to_owned(), c.to_owned())))
            .collect();
        let config = config_for(base, Path::new(db), 0.5);
        let store = Store::connect(&config.database.url).await.expect("store");
        let deps = Deps::from_config(&config, store).expect("deps");
        let plan = SweepPlan {
            trigger: Trigger::Cli,
            mode: Mode::DryRun,
            targets: targets(&pairs),
            wide: revokd::sweep::WideTargets::default(),
        };
        let started = Instant::now();
        let report = run_once(&deps, &plan, Utc::now()).await.expect("sweep");
        let wall = started.elapsed().as_secs_f64();
        assert_eq!(
            report.counts.targets_failed,
            0,
            "targets failed: {:?}",
            report.failures.first()
        );
        println!("{} {wall} {}", report.counts.tokens_seen, peak_rss_kib());
    });
}

fn peak_rss_kib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next().and_then(|n| n.parse().ok()))
        .unwrap_or(f64::NAN)
}

fn policy_rate(runs: usize) {
    let rule = |name: &str| PolicyConfig {
        name: name.into(),
        ..PolicyConfig::default()
    };
    let policies = vec![
        PolicyConfig {
            scopes_any: vec!["admin:write".into(), "okta.users.manage".into()],
            older_than: Some(Duration::from_secs(7 * 86_400)),
            ..rule("admin-scopes-7d")
        },
        PolicyConfig {
            idle_for: Some(Duration::from_secs(30 * 86_400)),
            ..rule("idle-30d")
        },
        PolicyConfig {
            clients: vec!["0oaretired".into()],
            ..rule("retired-app")
        },
        PolicyConfig {
            expires_after: Some(Duration::from_secs(365 * 86_400)),
            action: revokd::config::Action::Flag,
            ..rule("never-expires")
        },
    ];
    let exemptions = vec![ExemptionConfig {
        name: Some("break-glass".into()),
        users: vec!["00ubreakglass".into()],
        ..ExemptionConfig::default()
    }];
    let set = Arc::new(PolicySet::from_config(&policies, &exemptions).expect("policies"));
    let now: DateTime<Utc> = Utc::now();
    let scopes: Vec<Vec<String>> = vec![
        vec!["offline_access".into(), "openid".into()],
        vec!["offline_access".into(), "admin:write".into()],
        vec!["offline_access".into(), "profile".into(), "email".into()],
    ];
    let ids: Vec<String> = (0..1_000).map(|i| format!("oar{i:017}")).collect();
    let n = 2_000_000usize;
    println!("\n(c) policy evaluations (4 rules, 1 exemption, one core)");
    println!("{:>4} {:>12} {:>14}", "run", "evaluations", "per second");
    let mut rates = Vec::new();
    for run in 1..=runs {
        let started = Instant::now();
        let mut revoke = 0u64;
        for i in 0..n {
            let age = chrono::Duration::hours((i % 9_000) as i64);
            let facts = TokenFacts {
                token_id: &ids[i % ids.len()],
                user_id: "00uuser",
                client_id: if i % 50 == 0 { "0oaretired" } else { "0oaapp" },
                active: true,
                scopes: &scopes[i % scopes.len()],
                created: Some(now - age),
                last_updated: Some(now - age / 2),
                expires_at: if i % 10 == 0 { None } else { Some(now + age) },
            };
            if matches!(
                decide(&set, &facts, now),
                revokd::policy::Decision::Revoke { .. }
            ) {
                revoke += 1;
            }
        }
        let rate = n as f64 / started.elapsed().as_secs_f64();
        std::hint::black_box(revoke);
        println!("{run:>4} {n:>12} {rate:>14.0}");
        rates.push(rate);
    }
    println!(
        "median: {:.0} evaluations/s (target ≥ 2,000,000)",
        median(rates)
    );
}

async fn offboarding_latency(runs: usize) {
    const SECRET: &str = "bench-hook-secret";
    let org = SimOrg::start(SimConfig {
        seed: 5,
        users: 40,
        clients: 4,
        pairs: 120,
        big_pairs: 0,
        api_token: TOKEN.into(),
        record_requests: false,
        ..SimConfig::default()
    })
    .await
    .expect("sim");
    let mut users: Vec<String> = org.all_tokens().into_iter().map(|t| t.user_id).collect();
    users.sort();
    users.dedup();
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("offboard.db");
    // A free port: bind 0, read it, let it go for the daemon.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let config = format!(
        "mode = \"enforce\"\n[okta]\norg_url = \"{}\"\napi_token = \"{TOKEN}\"\n\
         [database]\nurl = \"sqlite://{}\"\n[server]\nlisten = \"127.0.0.1:{port}\"\nhook_secret = \"{SECRET}\"\n\
         [schedule]\nsweep = \"0 0 0 1 1 *\"\n",
        org.base_url(),
        db.display()
    );
    let targets: String = org
        .pairs()
        .iter()
        .map(|(u, c)| format!("[[targets]]\nuser = \"{u}\"\nclient = \"{c}\"\n"))
        .collect();
    let config_path = dir.path().join("revokd.toml");
    std::fs::write(&config_path, config + &targets).expect("config");
    let mut daemon = tokio::process::Command::new(env!("CARGO_BIN_EXE_revokd"))
        .arg("--config")
        .arg(&config_path)
        .arg("run")
        .env_clear()
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("revokd run starts");
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let ready = Instant::now();
    while http.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(
            ready.elapsed() < Duration::from_secs(30),
            "the daemon did not come up"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .expect("db");
    let per_run = users.len() / runs.max(1);
    println!(
        "\n(d) offboarding: event-hook delivery → job verified done (real `revokd run`, default settings)"
    );
    println!(
        "{:>4} {:>6} {:>9} {:>9} {:>9}",
        "run", "users", "p50 ms", "p99 ms", "max ms"
    );
    let mut all = Vec::new();
    for (run, chunk) in users.chunks(per_run.max(1)).take(runs).enumerate() {
        let mut latencies = Vec::new();
        for user in chunk {
            let event = org.emit_event("user.lifecycle.deactivate", user);
            let uuid = event["uuid"].as_str().unwrap_or_default().to_owned();
            let started = Instant::now();
            org.deliver_hook(
                &format!("{base}/hooks/okta"),
                SECRET,
                &[event],
                revokd::sim::Delivery::Once,
            )
            .await
            .expect("delivered");
            loop {
                let state: Option<String> =
                    sqlx::query_scalar("SELECT state FROM offboarding_jobs WHERE event_id = ?")
                        .bind(&uuid)
                        .fetch_optional(&pool)
                        .await
                        .expect("job state");
                if state.as_deref() == Some("done") {
                    break;
                }
                assert!(
                    started.elapsed() < Duration::from_secs(60),
                    "job for {user} never finished: {state:?}"
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            latencies.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        let (p50, p99, max) = percentiles(&mut latencies);
        println!(
            "{:>4} {:>6} {p50:>9.0} {p99:>9.0} {max:>9.0}",
            run + 1,
            chunk.len()
        );
        all.extend(latencies);
    }
    let (p50, p99, max) = percentiles(&mut all);
    println!(
        "all {} deliveries: p50 {p50:.0} ms · p99 {p99:.0} ms (target < 5,000) · max {max:.0} ms",
        all.len()
    );
    let _ = daemon.start_kill();
    let _ = daemon.wait().await;
}

/// p50, p99 (nearest rank) and max of latencies in ms.
fn percentiles(xs: &mut [f64]) -> (f64, f64, f64) {
    xs.sort_by(f64::total_cmp);
    let rank = |q: f64| xs[((q * xs.len() as f64).ceil() as usize).clamp(1, xs.len()) - 1];
    (rank(0.50), rank(0.99), xs[xs.len() - 1])
}
