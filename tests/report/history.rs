//! Inventory at past instants over real sweeps of the simulated org, and the real binary.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use figment::Figment;
use figment::providers::{Format as _, Toml};
use revokd::config::{Config, Mode};
use revokd::okta::{ClientId, UserId};
use revokd::report::{self, Kind, Request};
use revokd::sim::{SimConfig, SimOrg, SimToken};
use revokd::store::{Store, Trigger};
use revokd::sweep::{Deps, SweepPlan, Target, run_once};

const TOKEN: &str = "report-test-token";

fn sim_config() -> SimConfig {
    SimConfig {
        seed: 42,
        now: "2026-11-29T22:00:00Z".parse().unwrap(),
        users: 6,
        clients: 2,
        pairs: 8,
        big_pairs: 0,
        api_token: TOKEN.into(),
        rate_limit_per_window: 0,
        ..SimConfig::default()
    }
}

fn config_toml(org: &SimOrg, database_url: &str) -> String {
    format!(
        r#"
        [okta]
        org_url = "{}"
        api_token = "{TOKEN}"
        min_backoff = "1ms"
        max_backoff = "10ms"

        [database]
        url = "{database_url}"

        [[policies]]
        name = "old-180d"
        older_than = "180d"
        "#,
        org.base_url()
    )
}

struct World {
    org: SimOrg,
    store: Store,
    deps: Deps,
    config: Config,
    _dir: tempfile::TempDir,
    config_path: std::path::PathBuf,
}

async fn world() -> World {
    let org = SimOrg::start(sim_config()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("revokd.db").display());
    let text = config_toml(&org, &url);
    let config_path = dir.path().join("revokd.toml");
    std::fs::write(&config_path, &text).unwrap();
    let config: Config = Figment::from(Toml::string(&text)).extract().unwrap();
    config.validate().unwrap();
    let store = Store::connect(&url).await.unwrap();
    let deps = Deps::from_config(&config, store.clone()).unwrap();
    World {
        org,
        store,
        deps,
        config,
        _dir: dir,
        config_path,
    }
}

async fn sweep(w: &World) {
    let targets = w
        .org
        .pairs()
        .into_iter()
        .map(|(u, c)| Target {
            user: UserId::new(u).unwrap(),
            client: ClientId::new(c).unwrap(),
            source: revokd::store::TargetSource::Config,
        })
        .collect();
    let plan = SweepPlan {
        named_targets: false,
        trigger: Trigger::Cli,
        mode: Mode::DryRun,
        targets,
        wide: revokd::sweep::WideTargets::default(),
    };
    // Decided as of the org's own instant: its tokens' ages are fixed there, and by the clock
    // more of them cross `old-180d` each day, until the guard holds the sweep back.
    let report = run_once(&w.deps, &plan, sim_config().now).await.unwrap();
    assert!(report.is_clean());
}

fn sim_ids(org: &SimOrg) -> BTreeSet<String> {
    org.all_tokens().into_iter().map(|t| t.id).collect()
}

async fn inventory_ids(w: &World, at: Option<DateTime<Utc>>) -> BTreeSet<String> {
    let request = Request {
        at,
        ..Request::all(Kind::Inventory)
    };
    let table = report::build(&w.store, &w.config, &request, Utc::now())
        .await
        .unwrap();
    table
        .column("token_id")
        .into_iter()
        .map(|c| match c {
            report::Cell::Text(s) => s.clone(),
            other => panic!("token id {other:?}"),
        })
        .collect()
}

/// Waits (without sleeping) until the clock has moved past `t` by a few milliseconds, so
/// stored millisecond timestamps fall strictly after it.
async fn clock_past(t: DateTime<Utc>) {
    while Utc::now() <= t + chrono::Duration::milliseconds(3) {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inventory_at_a_past_instant_shows_the_state_between_sweeps() {
    let w = world().await;
    sweep(&w).await;
    let first = sim_ids(&w.org);
    assert!(first.len() >= 3, "the seeded org has tokens");
    let between = Utc::now();
    clock_past(between).await;

    // Another admin revokes two tokens; two new ones are issued.
    for t in w.org.all_tokens().into_iter().take(2) {
        assert!(w.org.revoke_out_of_band(&t.user_id, &t.client_id, &t.id));
    }
    let template = w.org.all_tokens()[0].clone();
    for id in ["oarNEW00000000000001", "oarNEW00000000000002"] {
        w.org.add_token(SimToken {
            id: id.into(),
            ..template.clone()
        });
    }
    sweep(&w).await;
    let second = sim_ids(&w.org);
    assert_ne!(first, second);

    assert_eq!(inventory_ids(&w, Some(between)).await, first);
    assert_eq!(inventory_ids(&w, None).await, second);
    assert_eq!(inventory_ids(&w, Some(Utc::now())).await, second);
    // Before revokd's first sweep of every target, it cannot say what Okta held.
    let request = Request {
        at: Some("2020-01-01T00:00:00Z".parse().unwrap()),
        ..Request::all(Kind::Inventory)
    };
    let refused = report::build(&w.store, &w.config, &request, Utc::now()).await;
    assert!(
        matches!(&refused, Err(report::Error::Usage(why)) if why.contains("first sweep")),
        "{:?}",
        refused.map(|_| ())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_prints_the_inventory_as_json_and_exits_0() {
    let w = world().await;
    sweep(&w).await;
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_revokd"))
        .args(["report", "inventory", "--format", "json", "--config"])
        .arg(&w.config_path)
        .env_remove("REVOKD_CONFIG")
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(60), output)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap();
    let ids: BTreeSet<String> = rows
        .iter()
        .map(|r| r["token_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, sim_ids(&w.org));
    assert!(rows[0]["scopes"].is_array());
    assert!(rows[0]["age_days"].is_i64());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_writes_csv_atomically_to_output_and_refuses_a_bad_time() {
    let w = world().await;
    sweep(&w).await;
    let out = w.config_path.with_file_name("sweeps.csv");
    let run = |args: Vec<String>| {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_revokd"));
        cmd.args(args)
            .arg("--config")
            .arg(&w.config_path)
            .env_remove("REVOKD_CONFIG")
            .kill_on_drop(true);
        cmd.output()
    };
    let ok = run(vec![
        "report".into(),
        "sweeps".into(),
        "--since".into(),
        "30d".into(),
        "--format".into(),
        "csv".into(),
        "--output".into(),
        out.display().to_string(),
    ])
    .await
    .unwrap();
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(ok.stdout.is_empty());
    let text = std::fs::read_to_string(&out).unwrap();
    assert_eq!(text.lines().count(), 2, "header and one sweep: {text}");

    let bad = run(vec![
        "report".into(),
        "sweeps".into(),
        "--since".into(),
        "lately".into(),
    ])
    .await
    .unwrap();
    assert_eq!(
        bad.status.code(),
        Some(64),
        "a command-line mistake (EX_USAGE)"
    );
}
