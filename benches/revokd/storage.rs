//! (e) storage and cost per sweep: a dry-run sweep with the example policies, an unchanged
//! re-sweep decided as of the same instant, and the sweep an hourly schedule makes next,
//! decided an hour later, at 100k and 1M tokens, in a child process: database bytes per token
//! after the first sweep (WAL truncated, indexes included), growth per unchanged sweep, audit
//! records each sweep appended, tokens per second, CPU (user+sys) and peak RSS, and the
//! simulated org's CPU while it serves the first sweep (the most two cores could then reach).
//! In the same run, the official Python SDK lists the same org ([`super::sdk`]), at 100k
//! tokens only, as the SDK takes minutes per run at a million.

use std::ffi::OsStr;
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::Utc;
use revokd::config::{Action, ExemptionConfig, PolicyConfig};
use revokd::store::Store;
use revokd::sweep::{Deps, run_once};

use super::common::median;
use super::sdk::{SdkRun, sdk_list, sdk_python};
use super::{config_for, dry_run, peak_rss_kib, read_pairs, runtime};

/// The example configuration's policies (`config/revokd.toml`), and an exemption for one user.
pub fn example_policies(exempt_user: &str) -> (Vec<PolicyConfig>, Vec<ExemptionConfig>) {
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
            clients: vec!["0oa3legacyreports00".into()],
            ..rule("retired-app")
        },
        PolicyConfig {
            expires_after: Some(Duration::from_secs(365 * 86_400)),
            action: Action::Flag,
            ..rule("never-expires")
        },
    ];
    let exemptions = vec![ExemptionConfig {
        name: Some("break-glass".into()),
        users: vec![exempt_user.into()],
        ..ExemptionConfig::default()
    }];
    (policies, exemptions)
}

/// CPU seconds (user + sys) this process has used.
fn cpu_seconds() -> f64 {
    cpu_seconds_of("/proc/self/stat")
}

/// CPU seconds (user + sys) the parent has used: the benchmark, which serves the simulated org.
fn org_cpu_seconds() -> f64 {
    cpu_seconds_of(&format!(
        "/proc/{}/stat",
        std::os::unix::process::parent_id()
    ))
}

/// CPU seconds (user + sys) of the process whose `stat` file is `path`.
fn cpu_seconds_of(path: &str) -> f64 {
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    // Fields after the command name (which may hold spaces): utime and stime are 14 and 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// What the child prints, in order, one number each.
const FIELDS: [&str; 22] = [
    "tokens",
    "first_wall",
    "first_cpu",
    "bytes",
    "unch_wall",
    "unch_cpu",
    "growth",
    "audit_first",
    "audit_unch",
    "snaps_unch",
    "rss_first_kib",
    "rss_unch_kib",
    "floor_history",
    "floor_tokens",
    "floor_audit",
    "floor_cpu",
    "hour_wall",
    "hour_cpu",
    "hour_audit",
    "hour_whole_pairs",
    "rss_hour_kib",
    "first_org_cpu",
];

/// The child: a dry-run sweep; an unchanged re-sweep decided as of the same instant (time
/// moves no decision, so it measures repetition alone); the storage floor of the first
/// sweep's rows (see [`super::floor`]); then the re-sweep an hourly schedule makes of the same
/// org, decided an hour later, where a pair whose decisions may have changed with the hour is
/// read whole. Prints [`FIELDS`]: each sweep's own peak RSS (the high-water mark is reset
/// before each re-sweep; NaN where the kernel refuses the reset), and last the CPU the parent
/// spent serving the first sweep's listings.
pub fn child(base: &str, db: &str, pairs_file: &str) {
    runtime().block_on(async {
        let pairs = read_pairs(pairs_file);
        let mut config = config_for(base, Path::new(db), 0.5);
        (config.policies, config.exemptions) = example_policies(&pairs[0].0);
        config.safety.max_revocations_per_sweep = u64::MAX;
        config.safety.max_revocation_fraction = 1.0;
        let store = Store::connect(&config.database.url).await.expect("store");
        let deps = Deps::from_config(&config, store.clone()).expect("deps");
        let plan = dry_run(&pairs);
        let count = |sql: String| {
            let store = store.clone();
            async move {
                let n: i64 = sqlx::query_scalar(&sql)
                    .fetch_one(store.pool())
                    .await
                    .expect("count");
                n as f64
            }
        };
        let audit = || count("SELECT COUNT(*) FROM revocations".into());
        let snapshots = || count("SELECT COUNT(*) FROM token_snapshots".into());
        // Each sweep in turn: its wall and CPU seconds, and its own peak RSS.
        let sweep = |now| {
            let (deps, plan) = (&deps, &plan);
            async move {
                let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
                let (cpu0, started) = (cpu_seconds(), Instant::now());
                let report = run_once(deps, plan, now).await.expect("sweep");
                let (wall, cpu) = (started.elapsed().as_secs_f64(), cpu_seconds() - cpu0);
                assert_eq!(
                    report.counts.targets_failed,
                    0,
                    "{:?}",
                    report.failures.first()
                );
                let peak = if reset { peak_rss_kib() } else { f64::NAN };
                (report, wall, cpu, peak)
            }
        };
        let now = Utc::now();
        let org_cpu0 = org_cpu_seconds();
        let (first, first_wall, first_cpu, rss_first) = sweep(now).await;
        let first_org_cpu = org_cpu_seconds() - org_cpu0;
        store.truncate_wal().await.expect("checkpoint");
        let bytes = store.size_bytes().await.expect("size") as f64;
        let (audit_first, snaps_first) = (audit().await, snapshots().await);

        let (_, unch_wall, unch_cpu, rss_unch) = sweep(now).await;
        store.truncate_wal().await.expect("checkpoint");
        let growth = store.size_bytes().await.expect("size") as f64 - bytes;
        let (audit_unch, snaps_unch) = (audit().await, snapshots().await);
        // Before the hourly sweep, whose rows are not the first sweep's.
        let floor = super::floor::floor(Path::new(db), cpu_seconds).await;

        let (hour, hour_wall, hour_cpu, rss_hour) = sweep(now + chrono::Duration::hours(1)).await;
        let whole = format!(
            "SELECT COUNT(*) FROM pair_listings WHERE sweep_id = {}",
            hour.sweep_id
        );
        let (hour_audit, hour_whole) = (audit().await - audit_unch, count(whole).await);
        let numbers = [
            first.counts.tokens_seen as f64,
            first_wall,
            first_cpu,
            bytes,
            unch_wall,
            unch_cpu,
            growth,
            audit_first,
            audit_unch - audit_first,
            snaps_unch - snaps_first,
            rss_first,
            rss_unch,
            floor[0],
            floor[1],
            floor[2],
            floor[3],
            hour_wall,
            hour_cpu,
            hour_audit,
            hour_whole,
            rss_hour,
            first_org_cpu,
        ];
        let line: Vec<String> = numbers.iter().map(f64::to_string).collect();
        println!("{}", line.join(" "));
    });
}

pub async fn storage(runs: usize, skip_1m: bool) {
    println!(
        "\n(e) storage and cost per sweep: dry-run, example policies; a first sweep, an unchanged \
         re-sweep decided as of the same instant, and the hourly schedule's next sweep of the \
         same org (decided an hour later)"
    );
    let python = sdk_python().await;
    if let Err(why) = &python {
        println!("SDK baseline not measured: {why}");
    }
    let exe = std::env::current_exe().expect("current exe");
    for &(pairs, big) in super::org_sizes(skip_1m) {
        let (org, dir, pairs_file) = super::ingest_org(pairs, big).await;
        let base = org.base_url().to_string();
        let mut table: Vec<Vec<(&str, f64, usize)>> = Vec::new();
        for run in 1..=runs {
            let db = dir.path().join(format!("storage-{run}.db"));
            let args = [OsStr::new("--child-storage"), base.as_ref(), db.as_ref()];
            let out = super::child_numbers(&exe, &args, &pairs_file).await;
            assert_eq!(out.len(), FIELDS.len(), "child printed {out:?}");
            let f = |name: &str| out[FIELDS.iter().position(|n| *n == name).expect("a field")];
            let n = f("tokens");
            // The SDK lists a million tokens in minutes per run: its ratios are taken at 100k.
            let sdk = match &python {
                Ok(py) if n < 500_000.0 => sdk_list(py, &base, &pairs_file, n).await,
                _ => None,
            };
            let ratio =
                |pick: Pick, ours: &str| sdk.as_ref().map_or(f64::NAN, |s| pick(s) / f(ours));
            let whole: Pick = |s| s.cpu;
            let listing: Pick = |s| s.listing_cpu;
            let floor = f("floor_history") + f("floor_tokens") + f("floor_audit");
            let row = vec![
                ("tokens", n, 0),
                ("B/token", f("bytes") / n, 0),
                ("first t/s", n / f("first_wall"), 0),
                ("unch t/s", n / f("unch_wall"), 0),
                ("hour t/s", n / f("hour_wall"), 0),
                ("growth/t", f("growth") / n, 2),
                ("audit+", f("audit_unch"), 0),
                ("snaps+", f("snaps_unch"), 0),
                ("audit/h", f("hour_audit"), 0),
                ("whole/h %", 100.0 * f("hour_whole_pairs") / pairs as f64, 1),
                ("RSS 1st", f("rss_first_kib") / 1024.0, 1),
                ("RSS unch", f("rss_unch_kib") / 1024.0, 1),
                ("RSS hour", f("rss_hour_kib") / 1024.0, 1),
                ("cpu 1st", f("first_cpu"), 2),
                ("org 1st", f("first_org_cpu"), 2),
                (
                    "2core t/s",
                    n / ((f("first_cpu") + f("first_org_cpu")) / 2.0),
                    0,
                ),
                ("own2 t/s", n / (f("first_cpu") / 2.0), 0),
                ("cpu unch", f("unch_cpu"), 2),
                ("cpu hour", f("hour_cpu"), 2),
                ("sdk/1st", ratio(whole, "first_cpu"), 2),
                ("sdk/unch", ratio(whole, "unch_cpu"), 2),
                ("sdk/hour", ratio(whole, "hour_cpu"), 2),
                ("sdkL/1st", ratio(listing, "first_cpu"), 2),
                ("sdkL/hour", ratio(listing, "hour_cpu"), 2),
                ("floor s", floor, 2),
                ("floor t/s", n / floor, 0),
                ("fl hist", f("floor_history"), 2),
                ("fl tok", f("floor_tokens"), 2),
                ("fl audit", f("floor_audit"), 2),
            ];
            if run == 1 {
                print_row("run", row.iter().map(|(h, _, _)| h.to_string()));
            }
            print_row(
                &run.to_string(),
                row.iter().map(|(_, v, p)| format!("{v:.p$}")),
            );
            table.push(row);
        }
        let medians = (0..table[0].len()).map(|i| {
            let (_, _, p) = table[0][i];
            let m = median(table.iter().map(|r| r[i].1).collect());
            format!("{m:.p$}")
        });
        print_row("med", medians);
    }
    println!(
        "targets: B/token ≤ 1,024 · growth/t ≤ 16 · audit+ 0 · first t/s ≥ 50,000 (100k) · unch \
         t/s ≥ 200,000 (1M) · RSS ≤ 64 MiB · sdk/1st ≥ 5 · sdk/unch ≥ 8. sdk/… is the SDK's \
         whole process (its start and imports, about 3 s, included) over our sweep's CPU; \
         sdkL/… its listing alone. org 1st is the simulated org's CPU (this process) during the \
         first sweep; 2core t/s the most a first sweep could reach on two cores with that CPU \
         and ours, both kept busy all along; own2 t/s the same were the org free. audit/h and \
         whole/h % are what an hour's passing changed: decisions that crossed a rule's threshold, and the pairs read whole for it"
    );
}

/// Which of an SDK run's CPU figures a ratio takes.
type Pick = fn(&SdkRun) -> f64;

fn print_row(first: &str, cells: impl Iterator<Item = String>) {
    let cells: Vec<String> = cells.map(|c| format!("{c:>9}")).collect();
    println!("{first:>4} {}", cells.join(" "));
}
