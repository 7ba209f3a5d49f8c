//! `revokd status`: how things stand, from the database alone: the last sweeps, revocation
//! intents and offboarding jobs by state, the audit chain's head and whether it verifies, the
//! database's size, and (given a configuration file) when the daemon runs next. Exit 3 when
//! something needs attention.

use std::fmt::Write as _;

use anyhow::Context;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};

use super::{Exit, Failure, load_database_config, open_existing_store, output};
use crate::cli::{Cli, StatusArgs, StatusFormat};
use crate::config::{Config, cron};
use crate::store::{
    AppListing, AuditBreak, RevocationState, StatusCounts, Store, SweepStatus, Trigger,
};

/// Sweeps shown, newest first.
const RECENT_SWEEPS: i64 = 5;

/// Revocation states shown even when none is in them.
const REVOCATION_STATES: [&str; 3] = ["pending", "failed", "irrevocable"];

/// Offboarding job states shown even when none is in them.
const JOB_STATES: [&str; 6] = ["queued", "running", "held", "done", "failed", "skipped"];
const DELIVERY_STATES: [&str; 3] = ["pending", "delivered", "failed"];

/// Everything the command shows.
struct Status {
    database_url: String,
    counts: StatusCounts,
    head: Option<(i64, String)>,
    audit: Result<u64, AuditBreak>,
    next_runs: Vec<(&'static str, Option<DateTime<Utc>>)>,
    /// The sweep schedule's longest gap between two runs, when a configuration was given.
    sweep_gap: Option<TimeDelta>,
    /// When the reading was taken.
    now: DateTime<Utc>,
    /// Each app target's listing: complete, or under way (continued by the next sweep).
    apps: Vec<AppListing>,
}

pub(super) async fn run(cli: &Cli, args: &StatusArgs) -> Result<Exit, Failure> {
    let config = load_database_config(cli)?;
    let store = open_existing_store(&config).await?;
    let status = read(&store, &config, cli.config.is_some()).await;
    store.close().await;
    let status = status?;
    let attention = attention(&status);
    let text = match args.format {
        StatusFormat::Table => table(&status, &attention),
        StatusFormat::Json => format!("{:#}\n", to_json(&status, &attention)),
    };
    let exit = if attention.is_empty() {
        Exit::Success
    } else {
        Exit::Failures
    };
    output::print(text, exit)
}

async fn read(store: &Store, config: &Config, daemon: bool) -> Result<Status, Failure> {
    let now = Utc::now();
    let counts = store
        .status_counts(RECENT_SWEEPS, now)
        .await
        .context("cannot read the database")?;
    let audit = store
        .verify_audit()
        .await
        .context("cannot read the audit trail")?;
    let head = store
        .audit_head()
        .await
        .context("cannot read the audit head")?;
    let (next_runs, sweep_gap) = if daemon {
        let gap = cron::longest_gap(&config.schedule.sweep, now);
        (next_runs(config, now), gap)
    } else {
        (Vec::new(), None)
    };
    let apps = store
        .app_listings()
        .await
        .context("cannot read the app listings")?;
    Ok(Status {
        database_url: config.database.url.clone(),
        counts,
        head,
        audit,
        next_runs,
        sweep_gap,
        now,
        apps,
    })
}

/// When each of the daemon's schedules fires next (UTC).
fn next_runs(config: &Config, now: DateTime<Utc>) -> Vec<(&'static str, Option<DateTime<Utc>>)> {
    let s = &config.schedule;
    let mut runs = vec![
        ("sweep", cron::next_fire(&s.sweep, now)),
        ("prune", cron::next_fire(&s.prune, now)),
    ];
    if let Some(report) = &s.report {
        runs.push(("report", cron::next_fire(report, now)));
    }
    runs
}

fn count(by_state: &[(String, i64)], state: &str) -> i64 {
    by_state
        .iter()
        .find(|(s, _)| s == state)
        .map_or(0, |(_, n)| *n)
}

/// What needs an operator: irrevocable revocations, failed or held offboarding jobs, a last
/// finished sweep (or recent scheduled sweep) that ended badly, no sweep succeeded for over
/// twice the schedule's interval (given a configuration), notifications given up in the last
/// day, a broken audit chain. The schedule and the notifications are judged as
/// `contrib/prometheus`' alerts judge them.
fn attention(status: &Status) -> Vec<String> {
    let c = &status.counts;
    let mut out = Vec::new();
    let irrevocable = count(
        &c.revocations_by_state,
        RevocationState::Irrevocable.as_str(),
    );
    if irrevocable > 0 {
        out.push(format!("{irrevocable} irrevocable revocation(s)"));
    }
    // A failed job settled since (`v_offboarding_problems`) is not counted.
    for (state, n) in [
        ("failed", c.failed_jobs_unresolved),
        ("held", count(&c.jobs_by_state, "held")),
    ] {
        if n > 0 {
            out.push(format!("{n} {state} offboarding job(s)"));
        }
    }
    out.extend(ended_badly(c.last_finished_status.as_deref(), "sweep"));
    // An ad-hoc sweep that finished since does not hide a failing schedule; a schedule that
    // ran no sweep for over a week (the daemon retired) is not judged.
    let recent = (c.last_scheduled_finished_at.as_deref())
        .and_then(|at| at.parse::<DateTime<Utc>>().ok())
        .is_some_and(|at| Utc::now() - at <= SCHEDULE_JUDGED_FOR);
    if recent && c.last_finished_trigger.as_deref() != Some(Trigger::Schedule.as_str()) {
        let scheduled = c.last_scheduled_status.as_deref();
        out.extend(ended_badly(scheduled, "scheduled sweep"));
    }
    out.extend(overdue(status));
    let n = c.deliveries_given_up_last_day;
    out.extend((n > 0).then(|| {
        format!("{n} notification delivery(ies) given up in the last day (`revokd notify resend` once the receiver is fixed)")
    }));
    if let Err(broken) = &status.audit {
        out.push(format!("audit chain broken at record {}", broken.id));
    }
    out
}

/// No sweep has succeeded for over twice the sweep schedule's longest interval (as
/// `RevokdSweepNotRun` judges it): the daemon is down, or every sweep fails. Judged only when
/// a configuration names the schedule and a daemon ever ran a scheduled sweep on the
/// database.
fn overdue(status: &Status) -> Option<String> {
    let gap = status.sweep_gap?;
    let since: DateTime<Utc> = status.counts.no_sweep_ok_since.as_deref()?.parse().ok()?;
    let quiet = status.now - since;
    (quiet > gap * 2).then(|| {
        format!(
            "no sweep has succeeded since {} ({} ago; the sweep schedule's interval is {})",
            stamp(since),
            human_span(quiet),
            human_span(gap)
        )
    })
}

/// How long after it finished a scheduled sweep that ended badly is judged when an ad-hoc
/// sweep finished after it: a week and a day, so a weekly schedule's next run comes first.
const SCHEDULE_JUDGED_FOR: chrono::TimeDelta = chrono::TimeDelta::days(8);

/// What needs saying of the last finished `what` that ended in `status`, if anything.
fn ended_badly(status: Option<&str>, what: &str) -> Option<String> {
    let status = status?;
    let said = if status == SweepStatus::Failed.as_str() {
        "failed"
    } else if status == SweepStatus::Partial.as_str() {
        // Some targets failed, or the blast-radius guard held its revocations back.
        "ended partial"
    } else if status == SweepStatus::Aborted.as_str() {
        // Cut short (a shutdown, a crash found by the next run): it proves nothing swept.
        "was aborted"
    } else {
        return None;
    };
    Some(format!("the last finished {what} {said}"))
}

fn table(status: &Status, attention: &[String]) -> String {
    let c = &status.counts;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "database     {} ({})",
        status.database_url,
        human_bytes(c.database_bytes)
    );
    if c.recent_sweeps.is_empty() {
        let _ = writeln!(out, "sweeps       none yet");
    } else {
        let _ = writeln!(out, "sweeps       (newest first)");
        for s in &c.recent_sweeps {
            let took = s.duration_ms.map_or_else(
                || "running".to_owned(),
                |ms| format!("{:.1} s", ms as f64 / 1000.0),
            );
            let _ = writeln!(
                out,
                "  #{:<5} {}  {:<8} {:<8} {:<8} {:>9}  pairs {} ({} failed) · revoked {} · failed {}",
                s.id,
                s.started_at,
                s.trigger,
                s.mode,
                s.status,
                took,
                s.targets_total,
                s.targets_failed,
                s.revocations_done,
                s.revocations_failed
            );
            if let Some(error) = s
                .error
                .as_deref()
                .filter(|_| s.status != SweepStatus::Ok.as_str())
            {
                let _ = writeln!(out, "         {error}");
            }
        }
    }
    let _ = writeln!(
        out,
        "revocations  {}",
        states(&c.revocations_by_state, &REVOCATION_STATES)
    );
    let _ = writeln!(
        out,
        "offboarding  {}",
        states(&c.jobs_by_state, &JOB_STATES)
    );
    let _ = writeln!(
        out,
        "notify       {}",
        states(&c.deliveries_by_state, &DELIVERY_STATES)
    );
    let head = status
        .head
        .as_ref()
        .map_or_else(|| "empty".to_owned(), |(id, hash)| format!("{id}:{hash}"));
    let verdict = match &status.audit {
        Ok(n) => format!("intact, {n} record(s)"),
        Err(b) => format!("BROKEN at record {}: {}", b.id, b.problem),
    };
    for a in &status.apps {
        let state = match (a.state(), &a.completed_at, &a.last_error) {
            ("complete", Some(at), _) => format!("listed {at}"),
            ("failed", _, Some(e)) => format!("failed: {e}"),
            (_, _, e) => format!(
                "under way since {}, continued by the next sweep{}",
                a.started_at,
                e.as_ref()
                    .map_or_else(String::new, |e| format!(" (last error: {e})"))
            ),
        };
        let _ = writeln!(
            out,
            "app          {}: {state} · pages {} · tokens {}",
            a.app_id, a.pages, a.tokens
        );
    }
    let _ = writeln!(out, "audit chain  head {head} ({verdict})");
    if !status.next_runs.is_empty() {
        let runs: Vec<String> = status
            .next_runs
            .iter()
            .map(|(name, at)| format!("{name} {}", at.map_or_else(|| "never".into(), stamp)))
            .collect();
        let _ = writeln!(out, "next runs    {}", runs.join(" · "));
    }
    if attention.is_empty() {
        let _ = writeln!(out, "attention    nothing needs attention");
    } else {
        let _ = writeln!(out, "ATTENTION    {}", attention.join("; "));
    }
    out
}

/// `pending 0 · failed 2 · …`: the listed states always, then any other state present.
fn states(by_state: &[(String, i64)], listed: &[&str]) -> String {
    let mut parts: Vec<String> = listed
        .iter()
        .map(|s| format!("{s} {}", count(by_state, s)))
        .collect();
    parts.extend(
        by_state
            .iter()
            .filter(|(s, _)| !listed.contains(&s.as_str()))
            .map(|(s, n)| format!("{s} {n}")),
    );
    parts.join(" · ")
}

fn to_json(status: &Status, attention: &[String]) -> Value {
    let c = &status.counts;
    let by_state = |rows: &[(String, i64)], listed: &[&str]| {
        let mut map = serde_json::Map::new();
        for s in listed {
            map.insert((*s).to_owned(), json!(count(rows, s)));
        }
        for (s, n) in rows {
            map.insert(s.clone(), json!(n));
        }
        Value::Object(map)
    };
    let sweeps: Vec<Value> = c
        .recent_sweeps
        .iter()
        .map(|s| {
            json!({
                "id": s.id, "started_at": s.started_at, "finished_at": s.finished_at,
                "trigger": s.trigger, "mode": s.mode, "status": s.status,
                "duration_ms": s.duration_ms, "targets_total": s.targets_total,
                "targets_failed": s.targets_failed, "revocations_done": s.revocations_done,
                "revocations_failed": s.revocations_failed, "error": s.error,
            })
        })
        .collect();
    let audit = match &status.audit {
        Ok(n) => json!({ "intact": true, "records": n }),
        Err(b) => json!({ "intact": false, "broken_at": b.id, "problem": b.problem }),
    };
    let mut audit = audit;
    audit["head"] = status
        .head
        .as_ref()
        .map_or(Value::Null, |(id, hash)| json!({ "id": id, "hash": hash }));
    let next_runs = if status.next_runs.is_empty() {
        Value::Null
    } else {
        status
            .next_runs
            .iter()
            .map(|(name, at)| ((*name).to_owned(), json!(at.map(stamp))))
            .collect::<serde_json::Map<_, _>>()
            .into()
    };
    json!({
        "database": { "url": status.database_url, "bytes": c.database_bytes },
        "sweeps": sweeps,
        "last_finished_sweep_status": c.last_finished_status,
        "last_finished_scheduled_sweep_status": c.last_scheduled_status,
        "revocations": by_state(&c.revocations_by_state, &REVOCATION_STATES),
        "offboarding_jobs": by_state(&c.jobs_by_state, &JOB_STATES),
        "notify_deliveries": by_state(&c.deliveries_by_state, &DELIVERY_STATES),
        "audit": audit,
        "app_listings": status.apps.iter().map(|a| json!({
            "app_id": a.app_id, "started_at": a.started_at, "under_way": a.under_way(),
            "completed_at": a.completed_at, "pages": a.pages, "tokens": a.tokens,
            "sweeps": a.sweeps, "state": a.state(), "last_error": a.last_error,
        })).collect::<Vec<_>>(),
        "next_runs": next_runs,
        "attention": attention,
    })
}

fn stamp(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A span as `90d`, `1h 30m` or `45s`: whole minutes from an hour up, else whole seconds.
fn human_span(span: TimeDelta) -> String {
    let secs = span.num_seconds().max(0) as u64;
    let secs = if secs >= 3_600 { secs / 60 * 60 } else { secs };
    crate::config::duration::format(std::time::Duration::from_secs(secs))
}

fn human_bytes(bytes: i64) -> String {
    let b = bytes as f64;
    if b >= 1024.0 * 1024.0 {
        format!("{:.1} MiB", b / (1024.0 * 1024.0))
    } else {
        format!("{:.0} KiB", b / 1024.0)
    }
}
