//! (b) ingest: 100k and 1M tokens, no rate limit: tokens per second into SQLite and peak RSS.
//! The sweep runs in a child process (this binary again) so the simulated org's own memory,
//! in the parent, is not counted. Then, for scale, the store alone: as many observations, each
//! an item made from Okta's record of a token the sweep stored (its own ids, the record's
//! values), written through the sweep's writer with no org and no HTTP.

use std::ffi::OsStr;
use std::path::Path;
use std::time::Instant;

use chrono::Utc;
use revokd::store::{ObservedRecord, Store, TokenObservation};
use revokd::sweep::{Deps, run_once};

use super::common::median;
use super::{child, config_for, dry_run, ingest_org, peak_rss_kib, read_pairs, runtime};

pub async fn ingest(runs: usize, skip_1m: bool) {
    println!(
        "\n(b) ingest into SQLite, no rate limit (sweep in a child process; RSS is the child's peak)"
    );
    println!(
        "{:>6} {:>4} {:>10} {:>8} {:>12} {:>13}",
        "pairs", "run", "tokens", "wall s", "tokens/s", "peak RSS MiB"
    );
    let sizes = super::org_sizes(skip_1m);
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
    let raw: String = sqlx::query_scalar("SELECT okta_json FROM v_token_records LIMIT 1")
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
/// random token ids, each an item made from the sample (its ids the token's and its pair's,
/// its values the sample's, as a sweep reads them); prints `tokens wall_s peak_kib`.
pub fn child_store(db: &str, sample: &str, tokens: &str) {
    let sample = Sample::read(sample);
    let tokens: usize = tokens.parse().expect("token count");
    runtime().block_on(async {
        let store = Store::connect(&format!("sqlite://{db}"))
            .await
            .expect("store");
        let started = Instant::now();
        let ingest = store.ingest().await.expect("writer");
        let mut writes = Vec::new();
        for first in (0..tokens).step_by(200) {
            let pair = (first / 200) % 500;
            let rows = (first..tokens.min(first + 200))
                .map(|i| observation(pair, i, &sample))
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

/// Okta's record of one token, and what a sweep reads of it.
struct Sample {
    raw: String,
    ids: [String; 3],
    values: serde_json::Value,
}

impl Sample {
    fn read(path: &str) -> Sample {
        let raw = std::fs::read_to_string(path).expect("sample");
        let values: serde_json::Value = serde_json::from_str(&raw).expect("sample JSON");
        let ids = ["id", "userId", "clientId"].map(|k| values[k].as_str().expect(k).to_owned());
        Sample { raw, ids, values }
    }

    fn text(&self, key: &str) -> Option<String> {
        self.values[key].as_str().map(str::to_owned)
    }
}

/// A token of pair `pair` with an id as random as Okta's (`oar` + 17 characters).
fn observation(pair: usize, i: usize, sample: &Sample) -> TokenObservation {
    let id = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 4;
    let ids = [
        format!("oar{id:017x}"),
        format!("00u{pair:017}"),
        "0oa00000000000000001".to_owned(),
    ];
    let mut raw = sample.raw.clone();
    for (from, to) in sample.ids.iter().zip(&ids) {
        raw = raw.replace(&format!("\"{from}\""), &format!("\"{to}\""));
    }
    let [token_id, user_id, client_id] = ids;
    TokenObservation {
        token_id,
        user_id,
        client_id,
        issuer: sample.text("issuer"),
        status: sample.text("status"),
        scopes_json: sample.values["scopes"].to_string(),
        created_at: sample.text("created"),
        last_updated_at: sample.text("lastUpdated"),
        expires_at: sample.text("expiresAt"),
        record: ObservedRecord::Sent(raw),
        policy_matches: "[]".into(),
    }
}

/// The child side of (b): one dry-run sweep with no policies; prints `seen wall_s peak_kib`.
pub fn child_ingest(base: &str, db: &str, pairs_file: &str) {
    runtime().block_on(async {
        let pairs = read_pairs(pairs_file);
        let config = config_for(base, Path::new(db), 0.5);
        let store = Store::connect(&config.database.url).await.expect("store");
        let deps = Deps::from_config(&config, store).expect("deps");
        let plan = dry_run(&pairs);
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
