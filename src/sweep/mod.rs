//! The sweep: the one orchestrator. A pass lists every target (bounded concurrency), records
//! each page and decides each token as it arrives, then checks the blast-radius guard over the
//! whole plan, and only then revokes (enforce) or records the plan (dry-run). One target's
//! failure never stops the others. Okta calls go through `okta`, SQL through `store`,
//! decisions through `policy`: this module only sequences them and keeps the tally.

mod apps;
mod decide;
mod deps;
mod discover;
mod enforce;
mod halt;
mod list;
mod planned;
mod progress;
mod reconcile;
mod report;
mod retry;
mod revoke;
mod standing;
mod targets;
mod unchanged;

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use tracing::{Instrument, error, info, info_span};

use crate::config::Mode;
use crate::okta::{ClientId, OktaClient, UserId};
use crate::policy::check_guard;
use crate::store::{self, PlanStage, RevocationState, StagedKind, TargetSource, Trigger};

pub use apps::AppListed;
pub(crate) use decide::observation;
pub use deps::Deps;
pub use discover::WideTargets;
pub(crate) use discover::stored_client_targets;
pub use halt::{Halt, HaltKind};
pub use list::Listed;
pub use planned::Planned;
pub use progress::{Progress, ProgressSnapshot};
pub(crate) use reconcile::INTERRUPTED_REVOKE_ALL;
pub use reconcile::{Reconciled, abort_dead_sweeps, reconcile, retry_work};
pub use report::{AppTally, PolicyTally, SweepReport, TargetFailure};
pub use retry::{OpenIntent, retry_after};
pub use revoke::{RevocationOutcome, Work, attempt as attempt_revocation};

/// One user/client pair to list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub user: UserId,
    pub client: ClientId,
    /// Where the pair came from (`targets.source`).
    pub source: TargetSource,
}

/// What this pass is.
#[derive(Debug, Clone)]
pub struct SweepPlan {
    pub trigger: Trigger,
    pub mode: Mode,
    /// Pairs named one by one.
    pub targets: Vec<Target>,
    /// Apps listed whole, and users whose clients are discovered.
    pub wide: WideTargets,
    /// Only pairs named for this pass (`revokd sweep --target`), not the configured targets.
    pub named_targets: bool,
}

/// Runs one pass. Decisions are taken as of `now`. Returns the report; fails only when the
/// database fails (Okta faults are recorded per target and the pass goes on).
pub async fn run_once(
    deps: &Deps,
    plan: &SweepPlan,
    now: DateTime<Utc>,
) -> Result<SweepReport, store::Error> {
    // One process at a time revokes per database: taken before anything is recorded.
    let lease = match plan.mode {
        Mode::Enforce => Some(deps.gate.hold("an enforce sweep").await?),
        Mode::DryRun => None,
    };
    let runner = crate::runner::current();
    let sweep_id = (deps.store)
        .begin_sweep(plan.trigger, plan.mode, Utc::now(), runner)
        .await?;
    let span = info_span!(
        "revocation_run",
        run_id = sweep_id,
        trigger = plan.trigger.as_str(),
        dry_run = plan.mode == Mode::DryRun
    );
    let result = async {
        if plan.named_targets {
            deps.store.mark_named_targets(sweep_id).await?;
        }
        let rules = deps.policies.recorded_rules();
        (deps.store)
            .record_sweep_rules(sweep_id, rules, Utc::now())
            .await?;
        sweep(deps, plan, sweep_id, now).await
    }
    .instrument(span)
    .await;
    if let Err(e) = &result {
        // Closed here, on every path that runs a pass: its row would stay `running`.
        let closed = deps
            .store
            .fail_sweep(sweep_id, &e.to_string(), Utc::now())
            .await;
        if let Err(also) = closed {
            error!(run_id = sweep_id, error.message = %also, "could not close the failed sweep's row");
        }
    }
    if let Some(lease) = lease {
        lease.release().await;
    }
    result
}

/// The pass once its `sweeps` row is open: list, decide, act on the plan, close the row.
async fn sweep(
    deps: &Deps,
    plan: &SweepPlan,
    sweep_id: i64,
    now: DateTime<Utc>,
) -> Result<SweepReport, store::Error> {
    let (okta, stats) = deps.okta.with_fresh_stats();
    let reconciled = match plan.mode {
        Mode::Enforce => reconcile(deps, &okta).await?,
        Mode::DryRun => Reconciled::default(),
    };
    let pairs = discover::pair_targets(deps, &okta, &plan.targets, &plan.wide).await;
    let apps = &plan.wide.apps_once();
    let total = pairs.targets.len() + apps.len() + pairs.failures.len();
    deps.progress.start(total, Some(Arc::clone(&stats)));
    let mut report = SweepReport::new(sweep_id, plan.mode, total);
    report.reconciled(reconciled);
    for failure in pairs.failures {
        deps.progress.target_done(0);
        report.discovery_failed(failure);
    }
    let targets = &pairs.targets;
    let scope = Scope {
        okta: &okta,
        sweep_id,
        mode: plan.mode,
        targets,
        apps,
        now,
    };
    let decided = list_all(deps, &scope, &stats, &mut report).await?;
    act(deps, &scope, decided, &mut report).await?;
    finish(deps, &stats, report).await
}

/// What one pass works on.
struct Scope<'s> {
    okta: &'s OktaClient,
    sweep_id: i64,
    mode: Mode,
    targets: &'s [Target],
    apps: &'s [ClientId],
    now: DateTime<Utc>,
}

/// What the listings decided: the staged plan, settled to the completed listings.
struct Gathered {
    stage: PlanStage,
    /// Revocations the completed listings planned (a token Okta listed twice counts once).
    planned: u64,
    /// Pairs listed unchanged (`[user, client]`): none staged, their standing records stand.
    unchanged: Vec<[String; 2]>,
}

/// Lists every pair and app of the pass (bounded concurrency) through one observation writer,
/// staging the plan as it is decided, and settles the plan to the completed listings.
async fn list_all(
    deps: &Deps,
    scope: &Scope<'_>,
    stats: &Arc<crate::okta::stats::HttpStats>,
    report: &mut SweepReport,
) -> Result<Gathered, store::Error> {
    let (okta, sweep_id, now) = (scope.okta, scope.sweep_id, scope.now);
    let ingest = deps.store.ingest().await?;
    let stage = deps.store.plan_stage().await?;
    let breaker = halt::Breaker::new(Arc::clone(stats));
    let lister = list::Lister {
        deps,
        okta,
        ingest: &ingest,
        stage: &stage,
        sweep_id,
        mode: scope.mode,
        now,
        breaker: &breaker,
        apps: scope.apps,
    };
    let lister = &lister;
    // Fingerprints are read a chunk of pairs at a time, as their listings' turn nears; each
    // pair's listing is made when its turn comes, not all up front: a made listing holds a
    // few KiB whether it runs or waits, 13 MiB for 5,000 pairs. Boxed with its type spelled
    // out, so `run_once` stays provably `Send`.
    let listing = move |(target, known)| -> list::Listing<'_, '_> {
        Box::pin(list::list_target(lister, target, known))
    };
    // App listings all run at once (they are few), so they are made up front.
    let app_listings: Vec<_> = (scope.apps.iter())
        .map(|app| apps::list_app(deps, okta, &ingest, &stage, sweep_id, app, now, &breaker))
        .collect();
    let pair_listings: list::Listings<'_, '_> = Box::pin(
        futures::stream::iter(scope.targets.chunks(list::PRINTS_AT_ONCE))
            .then(move |chunk| lister.known(chunk))
            .flat_map(futures::stream::iter)
            .map(listing)
            .buffer_unordered(deps.concurrency.max(1))
            .collect(),
    );
    let (fetched, apps_listed) =
        futures::join!(pair_listings, futures::future::join_all(app_listings));
    ingest.close().await;
    let (mut pairs, mut complete_apps) = (HashSet::new(), HashSet::new());
    // Pairs whose listing was unchanged: their standing records stand as they are.
    let (mut unchanged, mut unchanged_planned) = (Vec::new(), 0);
    let mut all_completed = true;
    for listed in apps_listed {
        let listed = listed?;
        let app = listed.app.to_string();
        match report.app(listed) {
            Some(_) => {
                complete_apps.insert(app);
            }
            None => all_completed = false,
        }
    }
    let mut seen = Vec::new();
    for fetched in fetched {
        let mut fetched = fetched?;
        seen.extend(fetched.unchanged.take());
        let (target, outcome) = fetched.committed().await?;
        match outcome {
            Ok(listed) => {
                report.absorb(&listed);
                let pair = (target.user.as_str(), target.client.as_str());
                if listed.unchanged {
                    unchanged_planned += listed.to_revoke;
                    unchanged.push(pair);
                } else {
                    pairs.insert(pair);
                }
            }
            Err(error) => {
                all_completed = false;
                report.target_failed(target, &error);
            }
        }
    }
    report.halted = breaker.take();
    deps.store.record_unchanged(&seen).await?;
    let planned = stage.settle(&pairs, &complete_apps, all_completed).await?;
    let unchanged = unchanged
        .iter()
        .map(|&(u, c)| [u.to_owned(), c.to_owned()])
        .collect();
    Ok(Gathered {
        stage,
        planned: planned + unchanged_planned,
        unchanged,
    })
}

/// Records the exemptions, checks the blast-radius guard over the whole plan, then records the
/// plan (dry-run) or revokes it (enforce); closes the stage.
async fn act(
    deps: &Deps,
    scope: &Scope<'_>,
    gathered: Gathered,
    report: &mut SweepReport,
) -> Result<(), store::Error> {
    let (sweep_id, mode) = (scope.sweep_id, scope.mode);
    let Gathered {
        stage: staged,
        planned,
        unchanged,
    } = gathered;
    let stage = &staged;
    let exempt_now = RevocationState::SkippedExempt;
    let exempt = Some(StagedKind::Exempt);
    standing::reconcile(deps, stage, sweep_id, mode, exempt_now, exempt).await?;

    report.counts.revocations_planned = planned;
    match check_guard(planned, report.active_seen, &deps.safety) {
        Err(trip) => {
            let reason = trip.to_string();
            standing::record_skipped_safety(deps, stage, &unchanged, scope, &reason).await?;
            report.guard = Some(reason);
        }
        // Okta is out of reach or refuses us: retries of earlier intents would fail too.
        Ok(()) if report.halted.is_some() => {}
        Ok(()) if mode == Mode::DryRun => {
            let planned_now = RevocationState::Planned;
            let planned = Some(StagedKind::Planned);
            standing::reconcile(deps, stage, sweep_id, mode, planned_now, planned).await?;
        }
        Ok(()) => {
            // Dry-run plans of these pairs stand no more: enforcement has intents of its own.
            let none = RevocationState::Planned;
            standing::reconcile(deps, stage, sweep_id, mode, none, None).await?;
            // The guard bounds what an enforce sweep attempts: its work is held whole.
            let planned = stage.all_entries(StagedKind::Planned).await?;
            let planned = planned.into_iter().map(Planned::from_entry).collect();
            enforce::revoke_all(deps, scope, planned, report).await?;
        }
    }
    staged.close().await;
    Ok(())
}

/// Closes the pass: HTTP counts and status into the `sweeps` row, the audit head logged, the
/// WAL started over, the summary logged.
async fn finish(
    deps: &Deps,
    stats: &crate::okta::stats::HttpStats,
    mut report: SweepReport,
) -> Result<SweepReport, store::Error> {
    let http = stats.snapshot();
    let counts = &mut report.counts;
    counts.http_requests = http.requests;
    counts.http_429 = http.http_429();
    counts.http_429_concurrency = http.concurrency_429;
    counts.wait_ms = http.wait_ms;
    counts.budget_wait_ms = http.budget_wait_ms;
    counts.budget_wall_ms = http.budget_wall_ms;
    report.status = report.derive_status();
    if let Some((id, hash)) = deps.store.audit_head().await? {
        info!(audit.head_id = id, audit.head_hash = %hash, "audit chain head");
    }
    let error = report.halted.as_ref().map(Halt::message);
    deps.store
        .finish_sweep_noting(
            report.sweep_id,
            report.status,
            &report.counts,
            error.as_deref(),
            report.guard.as_deref(),
            Utc::now(),
        )
        .await?;
    // The sweep's writes made the WAL as large as they were: start it over.
    if let Err(e) = deps.store.truncate_wal().await {
        tracing::warn!(error.message = %e, "WAL truncation failed; the next sweep retries");
    }
    report.db_bytes = deps.store.size_bytes().await.ok();
    report.log_summary();
    Ok(report)
}

/// `run_once` can be spawned onto any runtime thread (the daemon does): a compile-time check.
#[allow(dead_code)]
fn run_once_is_send(deps: &Deps, plan: &SweepPlan) {
    fn send<T: Send>(_: T) {}
    send(run_once(deps, plan, Utc::now()));
}
