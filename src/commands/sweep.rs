//! `revokd sweep`: one pass now, then exit.

use anyhow::Context;
use chrono::Utc;

use super::{Exit, Failure, deps, load_config, output, progress};
use crate::cli::{Cli, SweepArgs};
use crate::config::{self, Mode};
use crate::store::{TargetSource, Trigger};
use crate::sweep::{SweepPlan, Target, WideTargets, run_once};

pub(super) async fn run(cli: &Cli, args: &SweepArgs) -> Result<Exit, Failure> {
    let config = load_config(cli)?;
    let (targets, wide) = if args.targets.is_empty() {
        (
            Target::from_config(&config)?,
            WideTargets::from_config(&config)?,
        )
    } else {
        let targets = (args.targets.iter())
            .map(|p| Target {
                user: p.user.clone(),
                client: p.client.clone(),
                source: TargetSource::Config,
            })
            .collect();
        (targets, WideTargets::default())
    };
    if targets.is_empty() && wide.is_empty() {
        return Err(config::Error::invalid(
            "targets",
            "no targets: add [[targets]] or pass --target USER:CLIENT",
        )
        .into());
    }
    let mode = match (args.dry_run, args.enforce) {
        (true, _) => Mode::DryRun,
        (_, true) => Mode::Enforce,
        _ => config.mode,
    };
    let deps = deps(&config).await?;
    let plan = SweepPlan {
        named_targets: !args.targets.is_empty(),
        trigger: Trigger::Cli,
        mode,
        targets,
        wide,
    };
    let line = progress::show(std::sync::Arc::clone(&deps.progress));
    let report = run_once(&deps, &plan, Utc::now()).await;
    line.finish().await;
    let report =
        report.with_context(|| format!("the sweep stopped: database {}", config.database.url))?;
    deps.store.close().await;
    if let Some(halt) = &report.halted {
        let stopped = output::sweep_stopped(halt, &report);
        return Ok(output::halted(&config, halt, &stopped));
    }
    let exit = if report.is_clean() {
        Exit::Success
    } else {
        Exit::Failures
    };
    output::print(output::sweep_summary(&report), exit)
}
