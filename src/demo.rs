//! `revokd demo`: a full pass with nothing to set up. Starts a simulated Okta org in-process
//! (loopback only), points a configuration built from the example file at it, and runs a
//! dry-run sweep followed by an enforce sweep into a fresh SQLite file, beside which it writes
//! the configuration it used (so reports on the demo database decide with the same policies)
//! and the overview page of that database. Never replaces an earlier demo's files unless told
//! to.

use std::path::{Path, PathBuf};
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
    /// Where the configuration it used was written.
    pub config_path: PathBuf,
    /// The overview page of the demo database ([`overview_path`]).
    pub overview: PathBuf,
}

/// The demo's configuration file: the database's path with the extension `.toml`
/// (`revokd-demo.db` → `revokd-demo.toml`).
pub fn config_path(db_path: &Path) -> PathBuf {
    db_path.with_extension("toml")
}

/// The configuration as written beside the demo database: everything the demo decided with
/// (policies, exemptions, the raised guard), without the simulated org, which is gone when the
/// demo ends; commands that only read the database need no Okta settings.
pub fn config_text(config: &Config, db_path: &Path) -> String {
    let mut written = config.clone();
    written.okta.org_url = None;
    written.okta.api_token = None;
    written.okta.api_token_file = None;
    let body = crate::config::effective_toml(&written).replacen(
        "\n[safety]\n",
        "\n# The guard is raised for the demo (the defaults are 500 revocations and 50 % of the\n\
         # active tokens per sweep): the simulated tokens have been idle for months, so the\n\
         # example's idle rule selects most of them and the default guard would refuse the\n\
         # enforce pass. Keep the defaults, or lower them, for a real org.\n[safety]\n",
        1,
    );
    format!(
        "{CONFIG_HEADER}{db}: the example configuration's policies\n\
         # and exemptions, mapped onto the simulated org. The simulated org is gone when the\n\
         # demo ends, so [okta] is left unset: `report`, `status` and `audit verify` need none\n\
         # of it. Use it as `revokd --config {file} report inventory`.\n{body}",
        db = db_path.display(),
        file = config_path(db_path).display(),
    )
}

/// `--force` replaces only what a demo wrote: a database whose every sweep was the demo's (no
/// offboarding job, no other revocation), a configuration that begins as [`config_text`]
/// begins, and an overview page revokd wrote. Anything else is someone's audit trail,
/// configuration or page.
async fn check_replaceable(db_path: &Path, config_file: &Path) -> anyhow::Result<()> {
    let empty = |p: &Path| std::fs::metadata(p).is_ok_and(|m| m.len() == 0);
    if db_path.exists() && !empty(db_path) && !demo_only(db_path).await {
        anyhow::bail!(
            "{} is not a database only `revokd demo` wrote (it holds other sweeps, offboarding \
             jobs or revocations, or is not revokd's); the demo does not replace it, even \
             with --force: pass --db to put the demo elsewhere",
            db_path.display()
        );
    }
    if let Ok(text) = std::fs::read_to_string(config_file)
        && !text.starts_with(CONFIG_HEADER)
        && !text.is_empty()
    {
        anyhow::bail!(
            "{} is not a configuration `revokd demo` wrote; the demo does not replace it, even \
             with --force: pass --db to put the demo elsewhere",
            config_file.display()
        );
    }
    let overview = overview_path(db_path);
    if let Ok(text) = std::fs::read_to_string(&overview)
        && !text.contains(OVERVIEW_MARK)
        && !text.is_empty()
    {
        anyhow::bail!(
            "{} is not an overview page revokd wrote; the demo does not replace it, even with \
             --force: pass --db to put the demo elsewhere",
            overview.display()
        );
    }
    Ok(())
}

/// Whether only a demo wrote the database at `path` (see [`Store::holds_only_demo_work`]);
/// a file that is not revokd's answers `false`.
async fn demo_only(path: &Path) -> bool {
    let url = crate::config::database_url(&path.display().to_string());
    match Store::connect_to_inspect(&url).await {
        Ok(store) => {
            let only = store.holds_only_demo_work().await;
            store.close().await;
            only
        }
        Err(_) => false,
    }
}

/// How every configuration the demo writes begins.
const CONFIG_HEADER: &str = "# The configuration `revokd demo` used for ";

/// What every overview page revokd writes holds: the start of its title.
const OVERVIEW_MARK: &str = "<title>revokd overview, ";

/// Where the demo writes its overview page: beside the database, `revokd-demo.db` →
/// `revokd-demo-overview.html`.
pub fn overview_path(db_path: &Path) -> PathBuf {
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

/// Runs the demo into a fresh database at `db_path` and writes its configuration and overview
/// page beside it ([`config_path`], [`overview_path`]). Refuses when any of them exists, unless
/// `force` (then they are replaced).
/// `progress` receives the live counters of each pass; `phase` hears one line per phase.
pub async fn run(
    db_path: &Path,
    force: bool,
    progress: std::sync::Arc<crate::sweep::Progress>,
    phase: impl Fn(String),
) -> anyhow::Result<DemoOutcome> {
    let config_file = config_path(db_path);
    if !force {
        for existing in [db_path, config_file.as_path(), &overview_path(db_path)] {
            if existing.exists() {
                anyhow::bail!(
                    "{} exists (an earlier demo?); pass --force to replace it, or --db to put \
                     the demo elsewhere",
                    existing.display()
                );
            }
        }
    }
    check_replaceable(db_path, &config_file).await?;
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
    let database_url = crate::config::database_url(&db_path.display().to_string());
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
                source: crate::store::TargetSource::Config,
            })
        })
        .collect::<Result<Vec<_>, crate::ids::InvalidId>>()?;
    let mut plan = SweepPlan {
        named_targets: false,
        trigger: Trigger::Demo,
        mode: Mode::DryRun,
        targets,
        wide: crate::sweep::WideTargets::default(),
    };
    phase(format!(
        "simulated org on {} with {} pairs; dry-run pass…",
        org.base_url(),
        plan.targets.len()
    ));
    let dry_run = run_once(&deps, &plan, Utc::now()).await?;
    phase(pass_line(&dry_run));
    phase("enforce pass…".to_owned());
    plan.mode = Mode::Enforce;
    let enforce = run_once(&deps, &plan, Utc::now()).await?;
    phase(pass_line(&enforce));
    let overview = overview_path(db_path);
    let page = crate::report::overview::build(&store, &config, None, Utc::now())
        .await
        .and_then(|o| crate::report::overview::to_html(&o));
    store.close().await;
    crate::report::write_atomic(&overview, page?.as_bytes())
        .with_context(|| format!("cannot write {}", overview.display()))?;
    phase(format!("wrote {}", overview.display()));
    std::fs::write(&config_file, config_text(&config, db_path))
        .with_context(|| format!("cannot write {}", config_file.display()))?;
    phase(format!("wrote {}", config_file.display()));
    Ok(DemoOutcome {
        dry_run,
        enforce,
        database_url,
        safety: config.safety,
        config_path: config_file,
        overview,
    })
}

fn pass_line(report: &SweepReport) -> String {
    format!(
        "sweep #{} ({}) {}: {} pairs, {} tokens seen, {} revocations planned, {} done",
        report.sweep_id,
        report.mode.as_str(),
        report.status.as_str(),
        report.counts.targets_total,
        report.counts.tokens_seen,
        report.counts.revocations_planned,
        report.counts.revocations_done
    )
}
