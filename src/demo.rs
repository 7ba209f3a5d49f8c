//! `revokd demo`: a full pass with nothing to set up. Starts a simulated Okta org in-process
//! (loopback only), points a configuration built from the example file at it, and runs a
//! dry-run sweep followed by an enforce sweep into a fresh SQLite file, then writes the
//! overview page of that database beside it.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use figment::Figment;
use figment::providers::{Format, Toml};
use secrecy::SecretString;

use crate::config::{Config, EXAMPLE, Mode};
use crate::okta::{ClientId, UserId};
use crate::sim::{SimConfig, SimOrg};
use crate::store::{Store, Trigger};
use crate::sweep::{Deps, SweepPlan, SweepReport, Target, run_once};

/// The simulated org the demo sweeps: 240 pairs, four of them with hundreds of tokens, and a
/// modest rate limit (300 requests per 1 s window per bucket, of which revokd takes its
/// `max_share`) so pacing on the budget is visible.
pub fn demo_org() -> SimConfig {
    SimConfig {
        seed: 2026,
        now: Utc::now(),
        users: 120,
        clients: 6,
        pairs: 240,
        big_pairs: 4,
        api_token: "demo-only-token".into(),
        rate_limit_per_window: 300,
        window: Duration::from_secs(1),
        ..SimConfig::default()
    }
}

/// What the demo did.
#[derive(Debug)]
pub struct DemoOutcome {
    pub dry_run: SweepReport,
    pub enforce: SweepReport,
    pub database_url: String,
    pub safety: crate::config::SafetyConfig,
    /// The overview page of the demo database ([`overview_path`]).
    pub overview: std::path::PathBuf,
}

/// Where the demo writes its overview page: beside the database, `revokd-demo.db` →
/// `revokd-demo-overview.html`.
pub fn overview_path(db_path: &Path) -> std::path::PathBuf {
    let stem = db_path.file_stem().map_or_else(
        || "revokd-demo".into(),
        |s| s.to_string_lossy().into_owned(),
    );
    db_path.with_file_name(format!("{stem}-overview.html"))
}

/// The example configuration pointed at the simulated org and the demo database. The
/// example's placeholder ids are mapped onto the org (its retired client becomes the org's
/// last client, its exempt users the org's first user) so every rule kind has something to do.
pub fn demo_config(org: &SimOrg, api_token: &str, database_url: &str) -> anyhow::Result<Config> {
    let mut config: Config = Figment::from(Toml::string(EXAMPLE))
        .extract()
        .context("the built-in example configuration does not parse")?;
    config.okta.org_url = Some(org.base_url().to_string());
    config.okta.api_token_file = None;
    config.okta.api_token = Some(SecretString::from(api_token.to_owned()));
    config.okta.max_retries = 10;
    config.database.url = database_url.to_owned();
    let pairs = org.pairs();
    if let (Some((first_user, _)), Some((_, last_client))) = (pairs.first(), pairs.last()) {
        for policy in config.policies.iter_mut().filter(|p| !p.clients.is_empty()) {
            policy.clients = vec![last_client.clone()];
        }
        for exemption in config.exemptions.iter_mut().filter(|e| !e.users.is_empty()) {
            exemption.users = vec![first_user.clone()];
        }
    }
    // Simulated tokens are idle for months; the demo lets the example's idle rule act on them.
    config.safety.max_revocations_per_sweep = 100_000;
    config.safety.max_revocation_fraction = 0.95;
    config.targets.clear();
    config.validate()?;
    Ok(config)
}

/// Runs the demo against a fresh database at `db_path` (an existing one is replaced).
/// `progress` receives the live counters of each pass.
pub async fn run(
    db_path: &Path,
    progress: std::sync::Arc<crate::sweep::Progress>,
) -> anyhow::Result<DemoOutcome> {
    for suffix in ["", "-wal", "-shm"] {
        let file = format!("{}{suffix}", db_path.display());
        match std::fs::remove_file(&file) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).with_context(|| format!("cannot replace {file}"));
            }
            _ => {}
        }
    }
    let sim = demo_org();
    let api_token = sim.api_token.clone();
    let org = SimOrg::start(sim)
        .await
        .context("cannot start the simulated org")?;
    let database_url = format!("sqlite://{}", db_path.display());
    let config = demo_config(&org, &api_token, &database_url)?;
    let store = Store::connect(&database_url)
        .await
        .with_context(|| format!("cannot create {database_url}"))?;
    let mut deps = Deps::from_config(&config, store.clone())?;
    deps.progress = progress;
    let targets = org
        .pairs()
        .into_iter()
        .map(|(u, c)| {
            Ok(Target {
                user: UserId::new(u)?,
                client: ClientId::new(c)?,
                source: "config",
            })
        })
        .collect::<Result<Vec<_>, crate::okta::ids::InvalidId>>()?;
    let mut plan = SweepPlan {
        trigger: Trigger::Demo,
        mode: Mode::DryRun,
        targets,
    };
    let dry_run = run_once(&deps, &plan, Utc::now()).await?;
    plan.mode = Mode::Enforce;
    let enforce = run_once(&deps, &plan, Utc::now()).await?;
    let overview = overview_path(db_path);
    let page = crate::report::overview::build(&store, &config, None, Utc::now())
        .await
        .and_then(|o| crate::report::overview::to_html(&o));
    store.close().await;
    crate::report::write_atomic(&overview, page?.as_bytes())
        .with_context(|| format!("cannot write {}", overview.display()))?;
    Ok(DemoOutcome {
        dry_run,
        enforce,
        database_url,
        safety: config.safety,
        overview,
    })
}
