//! (e) storage and cost per sweep: a dry-run sweep with the example policies, then an
//! unchanged re-sweep, at 100k and 1M tokens, in a child process: database bytes per token
//! after the first sweep (WAL truncated, indexes included), growth per unchanged sweep, audit
//! records each sweep appended, tokens per second, CPU (user+sys) and peak RSS. In the same run,
//! the official Python SDK lists the same org (`benches/okta_sdk_list.py`, installed into a
//! virtualenv from PyPI on first use) so the CPU ratios compare like with like; at 100k tokens
//! only, as the SDK takes minutes per run at a million.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::Utc;
use revokd::config::{Action, ExemptionConfig, PolicyConfig};
use revokd::store::Store;
use revokd::sweep::{Deps, run_once};

use super::common::median;
use super::{TOKEN, config_for, dry_run, peak_rss_kib, read_pairs, runtime};

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
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
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

/// The child: two dry-run sweeps; prints `tokens first_wall first_cpu bytes unchanged_wall
/// unchanged_cpu growth audit_first audit_unchanged snapshots_unchanged first_peak_kib
/// unchanged_peak_kib` (each sweep's own peak RSS: the high-water mark is reset between them;
/// NaN where the kernel refuses the reset), then the storage floor of the first sweep's rows
/// (see [`super::floor`]): `history_wall token_rows_wall audit_wall floor_cpu`.
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
        let count = |sql: &'static str| {
            let store = store.clone();
            async move {
                let n: i64 = sqlx::query_scalar(sql)
                    .fetch_one(store.pool())
                    .await
                    .expect("count");
                n
            }
        };
        let audit = "SELECT COUNT(*) FROM revocations";
        let snapshots = "SELECT COUNT(*) FROM token_snapshots";
        // Both sweeps decide as of one instant: tokens that cross a rule's age threshold
        // between them (minutes apart at a million tokens) would be real changes, and the
        // unchanged sweep's audit count measures repetitions, not the passing of time.
        let now = Utc::now();
        let (cpu0, started) = (cpu_seconds(), Instant::now());
        let first = run_once(&deps, &plan, now).await.expect("sweep");
        let first_wall = started.elapsed().as_secs_f64();
        let first_cpu = cpu_seconds() - cpu0;
        assert_eq!(first.counts.targets_failed, 0, "{:?}", first.failures.first());
        store.truncate_wal().await.expect("checkpoint");
        let bytes = store.size_bytes().await.expect("size");
        let (audit1, snaps1) = (count(audit).await, count(snapshots).await);
        let first_peak = peak_rss_kib();
        // Writing 5 to clear_refs resets VmHWM (Linux), so the next reading is the re-sweep's.
        let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();

        let (cpu0, started) = (cpu_seconds(), Instant::now());
        let again = run_once(&deps, &plan, now).await.expect("sweep");
        let unchanged_wall = started.elapsed().as_secs_f64();
        let unchanged_cpu = cpu_seconds() - cpu0;
        assert_eq!(again.counts.targets_failed, 0);
        store.truncate_wal().await.expect("checkpoint");
        let growth = store.size_bytes().await.expect("size") as f64 - bytes as f64;
        let (audit2, snaps2) = (count(audit).await, count(snapshots).await);
        let unchanged_peak = if reset { peak_rss_kib() } else { f64::NAN };
        // After both sweeps and their readings; the unchanged sweep added no row to copy.
        let [history, token_rows, audit_rows, floor_cpu] =
            super::floor::floor(Path::new(db), cpu_seconds).await;
        println!(
            "{} {first_wall} {first_cpu} {bytes} {unchanged_wall} {unchanged_cpu} {growth} {audit1} {} {} {first_peak} {unchanged_peak} {history} {token_rows} {audit_rows} {floor_cpu}",
            first.counts.tokens_seen,
            audit2 - audit1,
            snaps2 - snaps1,
        );
    });
}

/// A virtualenv with the official SDK, made on first use; `None` (and why) when Python or
/// PyPI is not available.
async fn sdk_python() -> Result<PathBuf, String> {
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("okta-sdk-venv");
    let python = venv.join("bin/python");
    if !python.exists() {
        let made = tokio::process::Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .await
            .map_err(|e| format!("python3: {e}"))?;
        if !made.success() {
            return Err("python3 -m venv failed".into());
        }
    }
    let pip = tokio::process::Command::new(venv.join("bin/pip"))
        .args(["install", "-q", "okta>=3,<4"])
        .status()
        .await
        .map_err(|e| format!("pip: {e}"))?;
    if !pip.success() {
        return Err("pip install okta failed".into());
    }
    Ok(python)
}

/// The SDK's listing of the org: `(tokens, wall_s, cpu_s)`.
async fn sdk_list(python: &Path, base: &str, pairs_file: &Path) -> Option<(f64, f64, f64)> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/okta_sdk_list.py");
    let out = tokio::process::Command::new(python)
        .arg(script)
        .args([OsStr::new(base), OsStr::new(TOKEN), pairs_file.as_os_str()])
        .output()
        .await
        .ok()?;
    if !out.status.success() {
        eprintln!(
            "SDK listing failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    let nums: Vec<f64> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    Some((nums[0], nums[1], nums[2]))
}

pub async fn storage(runs: usize, skip_1m: bool) {
    println!(
        "\n(e) storage and cost per sweep: dry-run, example policies, first sweep then unchanged re-sweep"
    );
    let python = sdk_python().await;
    if let Err(why) = &python {
        println!("SDK baseline skipped: {why}");
    }
    let sizes = super::org_sizes(skip_1m);
    let exe = std::env::current_exe().expect("current exe");
    for &(pairs, big) in sizes {
        let (org, dir, pairs_file) = super::ingest_org(pairs, big).await;
        let base = org.base_url().to_string();
        println!(
            "{:>4} {:>9} {:>8} {:>9} {:>9} {:>9} {:>8} {:>7} {:>7} {:>8} {:>8} {:>8} {:>7} {:>8} {:>7} {:>9}",
            "run",
            "tokens",
            "B/token",
            "first t/s",
            "unch t/s",
            "growth/t",
            "audit+",
            "snaps+",
            "RSS 1st",
            "RSS unch",
            "cpu 1st",
            "cpu unch",
            "sdk/1st",
            "sdk/unch",
            "floor s",
            "floor t/s"
        );
        let mut m: [Vec<f64>; 16] = Default::default();
        for run in 1..=runs {
            let db = dir.path().join(format!("storage-{run}.db"));
            let args = [OsStr::new("--child-storage"), base.as_ref(), db.as_ref()];
            let out = super::child_numbers(&exe, &args, &pairs_file).await;
            let [
                n,
                w1,
                c1,
                bytes,
                w2,
                c2,
                growth,
                _a1,
                a2,
                s2,
                rss1,
                rss2,
                history,
                token_rows,
                audit_rows,
                floor_cpu,
            ] = out[..]
            else {
                panic!("child printed {out:?}");
            };
            // The SDK lists a million tokens in minutes per run: its ratios are taken at 100k.
            let sdk = match &python {
                Ok(py) if n < 500_000.0 => sdk_list(py, &base, &pairs_file).await,
                _ => None,
            };
            let (r1, r2) = sdk.map_or((f64::NAN, f64::NAN), |(_, _, cpu)| (cpu / c1, cpu / c2));
            let row = [
                bytes / n,
                n / w1,
                n / w2,
                growth / n,
                a2,
                s2,
                rss1 / 1024.0,
                rss2 / 1024.0,
                r1,
                r2,
                history + token_rows + audit_rows,
                n / (history + token_rows + audit_rows),
                history,
                token_rows,
                audit_rows,
                floor_cpu,
            ];
            println!(
                "{run:>4} {n:>9.0} {:>8.0} {:>9.0} {:>9.0} {:>9.2} {:>8.0} {:>7.0} {:>7.1} {:>8.1} {c1:>8.2} {c2:>8.2} {:>7.2} {:>8.2} {:>7.2} {:>9.0}",
                row[0],
                row[1],
                row[2],
                row[3],
                row[4],
                row[5],
                row[6],
                row[7],
                row[8],
                row[9],
                row[10],
                row[11]
            );
            for (v, x) in m.iter_mut().zip(row) {
                v.push(x);
            }
        }
        let [
            b,
            r1,
            r2,
            g,
            a,
            s,
            rss1,
            rss2,
            k1,
            k2,
            f,
            fr,
            fh,
            ft,
            fa,
            fc,
        ] = m.map(median);
        println!(
            "median for {pairs} pairs: {b:.0} B/token (≤ 1,024) · first sweep {r1:.0} tokens/s · unchanged {r2:.0} tokens/s · growth {g:.2} B/token/sweep (≤ 16) · audit rows per unchanged sweep {a:.0} (0) · snapshots per unchanged sweep {s:.0} · peak RSS {rss1:.1} MiB first sweep, {rss2:.1} MiB unchanged (≤ 64) · SDK CPU ÷ ours: first {k1:.2}× (≥ 5), unchanged {k2:.2}× (≥ 8)"
        );
        println!(
            "storage floor of the first sweep's rows (INSERT … SELECT, a table per transaction): {f:.2} s, {fr:.0} tokens/s (history records {fh:.2} s, token rows {ft:.2} s, audit records {fa:.2} s; {fc:.2} s CPU)"
        );
    }
}
