//! The daemon's Prometheus metrics: names and how each is fed (help texts: `help`). Everything goes
//! through the `metrics` facade into one process-wide metrics-exporter-prometheus recorder,
//! whose [`PrometheusHandle::render`] answers `/metrics`; nothing here formats exposition
//! text by hand. Values the database holds (sweeps by status, active tokens, revocations by
//! state) are read from it at scrape time, so `/metrics` agrees with the database; the rest
//! (durations, Okta traffic, skipped runs) are counted as they happen.

use std::sync::OnceLock;
use std::time::Duration;

use chrono::{DateTime, Utc};
use metrics::{counter, gauge};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::okta::stats::{RATE_LIMIT_REMAINING_METRIC, REQUESTS_METRIC};
use crate::store::{DbGauges, DeliveryState, JobState, RevocationState, SweepStatus, WaitingJobs};

#[path = "metrics_help.rs"]
mod help;
use help::describe;

/// Counter: sweeps in the database that ended, by `status` (`ok|partial|failed|aborted`).
pub const SWEEPS: &str = "revokd_sweeps_total";
/// Gauge: sweeps in the database still `running`.
pub const SWEEPS_RUNNING: &str = "revokd_sweeps_running";
/// Histogram: how long this process's sweeps took.
pub const SWEEP_DURATION: &str = "revokd_sweep_duration_seconds";
/// Gauge: when the newest `ok` sweep in the database finished (Unix seconds).
pub const LAST_SUCCESS: &str = "revokd_last_successful_sweep_timestamp_seconds";
/// Gauge: 1 for the `status` of the sweep that finished last, 0 for the other final statuses.
pub const LAST_SWEEP_STATUS: &str = "revokd_last_sweep_status";
/// Gauge: tokens the database holds as active (`v_active_tokens`).
pub const ACTIVE_TOKENS: &str = "revokd_active_tokens";
/// Gauge: revocation intents at their latest state (`v_revocation_state`), by `state`.
pub const REVOCATIONS: &str = "revokd_revocations";
/// Gauge: revocation intents by `policy` (rule name) and latest `state`.
pub const POLICY_REVOCATIONS: &str = "revokd_policy_revocations";
/// Counter: 429 responses from Okta, by `kind` (`rate` or `concurrency`).
pub const OKTA_429: &str = crate::okta::stats::RATE_LIMITED_METRIC;
/// Counter: scheduled ticks skipped because the job's previous run was still going.
pub const RUNS_SKIPPED: &str = "revokd_job_runs_skipped_total";
/// Counter: job runs, by `job` and `outcome` (`ok|failed|aborted`).
pub const RUNS: &str = "revokd_job_runs_total";
/// Counter: SIGHUP reloads, by `result` (`applied|rejected`).
pub const RELOADS: &str = "revokd_config_reloads_total";

/// Gauge: offboarding jobs `queued` or `running` in the database.
pub const OFFBOARDING_QUEUE_DEPTH: &str = "revokd_offboarding_queue_depth";
/// Gauge: when the oldest offboarding job still `queued` or `running` was enqueued, Unix
/// seconds (0: none is).
pub const OFFBOARDING_OLDEST_WAITING: &str = "revokd_offboarding_oldest_waiting_timestamp_seconds";
/// Histogram: seconds from a job's enqueueing to its tokens verified gone.
pub const OFFBOARDING_LATENCY: &str = "revokd_offboarding_latency_seconds";
/// Counter: offboarding jobs ended by this process, by `source` and `outcome`
/// (`done|failed|retry|held|skipped`).
pub const OFFBOARDING_JOBS: &str = "revokd_offboarding_jobs_total";
/// Gauge: failed offboarding jobs no later job of their user settled (`v_offboarding_problems`).
pub const OFFBOARDING_UNSETTLED_FAILURES: &str = "revokd_offboarding_unsettled_failures";
/// Gauge: offboarding jobs in the database, by `state` (`queued|running|held|done|failed|skipped`);
/// `held` ones wait for `revokd offboard release`.
pub const OFFBOARDING_JOB_STATES: &str = "revokd_offboarding_jobs";
/// Counter: event hook requests, by `result` ([`HOOK_RESULTS`]).
pub const HOOK_REQUESTS: &str = "revokd_hook_requests_total";
/// What becomes of an event hook request, each exported from 0.
pub const HOOK_RESULTS: [&str; 9] = [
    "accepted",
    "duplicate",
    "ignored",
    "unauthorized",
    "disabled",
    "malformed",
    "too_large",
    "slow_body",
    "failed",
];
/// Counter: notification delivery attempts, by `receiver` and `outcome`
/// (`delivered|retry|given_up`).
pub const NOTIFICATIONS: &str = "revokd_notification_attempts_total";

/// Gauge of notification deliveries by `state` (`pending|delivered|failed`), from the
/// database: `failed` ones were given up (attempts spent, or their receiver removed).
pub const NOTIFICATION_DELIVERIES: &str = "revokd_notification_deliveries";
/// Gauge: when the latest delivery still given up was given up, Unix seconds (0: none is).
pub const NOTIFICATION_LAST_GIVEN_UP: &str = "revokd_notification_last_given_up_timestamp_seconds";

/// Gauge: the longest gap between two runs of `schedule.sweep` over its next runs, seconds.
pub const SWEEP_INTERVAL: &str = "revokd_sweep_schedule_interval_seconds";
/// Gauge: when this process started (Unix seconds).
pub const START_TIME: &str = "revokd_start_time_seconds";
/// Gauge: 1 when the audit hash chain verifies, 0 when it is broken.
pub const AUDIT_VALID: &str = "revokd_audit_chain_valid";
/// Gauge: records in the audit chain when it last verified.
pub const AUDIT_RECORDS: &str = "revokd_audit_chain_records";
/// Counter: milliseconds requests were held back to stay within revokd's share of the rate
/// limit, summed over requests.
pub use crate::okta::stats::BUDGET_WAIT_METRIC as BUDGET_WAIT;
/// Gauge: `X-Rate-Limit-Limit` last seen, by `bucket`.
pub use crate::okta::stats::RATE_LIMIT_LIMIT_METRIC as RATE_LIMIT_LIMIT;

/// Offboarding latency buckets, in seconds: the target is minutes, the usual case seconds.
const LATENCY_BUCKETS: &[f64] = &[0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0];

/// Sweep duration buckets, in seconds: a small org sweeps in seconds, a large one in an hour.
const DURATION_BUCKETS: &[f64] = &[
    0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0,
];

/// Final sweep statuses, each exported (at 0 when absent).
const FINAL_SWEEP_STATUSES: [SweepStatus; 4] = [
    SweepStatus::Ok,
    SweepStatus::Partial,
    SweepStatus::Failed,
    SweepStatus::Aborted,
];

static HANDLE: OnceLock<Result<PrometheusHandle, String>> = OnceLock::new();

/// Installs the process-wide recorder (once; later calls return the same handle) and
/// describes every metric.
pub fn install() -> Result<PrometheusHandle, String> {
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(SWEEP_DURATION.into()), DURATION_BUCKETS)
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full(OFFBOARDING_LATENCY.into()),
                        LATENCY_BUCKETS,
                    )
                })
                .and_then(PrometheusBuilder::install_recorder)
                .map_err(|e| e.to_string())?;
            describe();
            let started = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64());
            gauge!(START_TIME).set(started);
            counter!(BUDGET_WAIT).increment(0);
            // From 0, so the first refusal is an increase an alert sees.
            for result in HOOK_RESULTS {
                counter!(HOOK_REQUESTS, "result" => result).increment(0);
            }
            Ok(handle)
        })
        .clone()
}

/// Exposition text: the scrape answer.
pub fn render(handle: &PrometheusHandle) -> String {
    handle.run_upkeep();
    handle.render()
}

/// Sets every database-derived metric from one reading of the database.
pub fn set_db_gauges(g: &DbGauges) {
    let count = |rows: &[(String, i64)], key: &str| {
        rows.iter().find(|(k, _)| k == key).map_or(0, |(_, n)| *n)
    };
    for status in FINAL_SWEEP_STATUSES.map(SweepStatus::as_str) {
        let n = count(&g.sweeps_by_status, status);
        counter!(SWEEPS, "status" => status).absolute(u64::try_from(n).unwrap_or(0));
    }
    let running = count(&g.sweeps_by_status, SweepStatus::Running.as_str());
    gauge!(SWEEPS_RUNNING).set(running as f64);
    if let Some(at) = g
        .last_ok_sweep_at
        .as_deref()
        .and_then(|t| t.parse::<DateTime<Utc>>().ok())
    {
        gauge!(LAST_SUCCESS).set(at.timestamp_millis() as f64 / 1000.0);
    }
    gauge!(ACTIVE_TOKENS).set(g.active_tokens as f64);
    let last = g.last_finished_status.as_deref();
    for status in FINAL_SWEEP_STATUSES.map(SweepStatus::as_str) {
        let on = if last == Some(status) { 1.0 } else { 0.0 };
        gauge!(LAST_SWEEP_STATUS, "status" => status).set(on);
    }
    // Every job and delivery state is exported, at 0 when absent.
    for state in JobState::ALL.map(JobState::as_str) {
        let n = count(&g.offboarding_by_state, state);
        gauge!(OFFBOARDING_JOB_STATES, "state" => state).set(n as f64);
    }
    gauge!(OFFBOARDING_UNSETTLED_FAILURES).set(g.offboarding_unsettled_failures as f64);
    for state in DeliveryState::ALL.map(DeliveryState::as_str) {
        let n = count(&g.deliveries_by_state, state);
        gauge!(NOTIFICATION_DELIVERIES, "state" => state).set(n as f64);
    }
    let given_up =
        (g.last_delivery_given_up_at.as_deref()).and_then(|t| t.parse::<DateTime<Utc>>().ok());
    gauge!(NOTIFICATION_LAST_GIVEN_UP)
        .set(given_up.map_or(0.0, |at| at.timestamp_millis() as f64 / 1000.0));

    // Every state is exported, at 0 when absent, so alerts on `pending` or `irrevocable` see
    // a series from the start.
    let mut states: Vec<&str> = RevocationState::ALL.iter().map(|s| s.as_str()).collect();
    for (state, _) in &g.revocations_by_state {
        if !states.contains(&state.as_str()) {
            states.push(state);
        }
    }
    for state in &states {
        let n = count(&g.revocations_by_state, state);
        gauge!(REVOCATIONS, "state" => state.to_string()).set(n as f64);
    }
    let mut policies: Vec<&str> = g
        .revocations_by_policy
        .iter()
        .map(|(p, _, _)| p.as_str())
        .collect();
    policies.dedup();
    for policy in policies {
        for state in &states {
            let n = g
                .revocations_by_policy
                .iter()
                .find(|(p, s, _)| p == policy && s == state)
                .map_or(0, |(_, _, n)| *n);
            gauge!(POLICY_REVOCATIONS, "policy" => policy.to_owned(), "state" => state.to_string())
                .set(n as f64);
        }
    }
}

/// Sets the sweep schedule's interval: the longest gap between two of its next
/// 16 runs after `now` (alerts compare the time since the last good sweep
/// with twice this). A schedule that does not parse leaves the gauge as it was.
pub fn set_sweep_interval(cron: &str, now: DateTime<Utc>) {
    if let Some(gap) = crate::config::cron::longest_gap(cron, now) {
        gauge!(SWEEP_INTERVAL).set(gap.num_milliseconds() as f64 / 1000.0);
    }
}

/// Sets the audit chain gauges: whether it verifies and, if so, how many records it has.
pub fn set_audit<E>(verified: &Result<u64, E>) {
    match verified {
        Ok(records) => {
            gauge!(AUDIT_VALID).set(1.0);
            gauge!(AUDIT_RECORDS).set(*records as f64);
        }
        Err(_) => gauge!(AUDIT_VALID).set(0.0),
    }
}

/// Records one finished sweep's duration (its 429s are counted as they come).
pub fn record_sweep_duration(took: Duration) {
    metrics::histogram!(SWEEP_DURATION).record(took.as_secs_f64());
}

/// Counts a tick skipped because the job's previous run was still going.
pub fn run_skipped(job: &'static str) {
    counter!(RUNS_SKIPPED, "job" => job).increment(1);
}

/// Counts a finished run.
pub fn run_finished(job: &'static str, outcome: &'static str) {
    counter!(RUNS, "job" => job, "outcome" => outcome).increment(1);
}

/// Counts a reload.
pub fn reloaded(applied: bool) {
    let result = if applied { "applied" } else { "rejected" };
    counter!(RELOADS, "result" => result).increment(1);
}

/// Makes the per-job and per-kind counters visible at 0 before anything happens.
pub fn register_jobs(jobs: impl IntoIterator<Item = &'static str>) {
    for job in jobs {
        counter!(RUNS_SKIPPED, "job" => job).increment(0);
    }
    for kind in ["rate", "concurrency"] {
        counter!(OKTA_429, "kind" => kind).increment(0);
    }
}

/// Sets the offboarding queue's depth and the age of its oldest job.
pub fn set_waiting_jobs(waiting: WaitingJobs) {
    gauge!(OFFBOARDING_QUEUE_DEPTH).set(waiting.count as f64);
    gauge!(OFFBOARDING_OLDEST_WAITING)
        .set((waiting.oldest).map_or(0.0, |at| at.timestamp_millis() as f64 / 1000.0));
}

/// Records one ended offboarding attempt and, when verified, its enqueue→verified latency.
pub fn offboarding_job(source: &str, outcome: &'static str, latency: Option<Duration>) {
    counter!(OFFBOARDING_JOBS, "source" => source.to_owned(), "outcome" => outcome).increment(1);
    if let Some(latency) = latency {
        metrics::histogram!(OFFBOARDING_LATENCY).record(latency.as_secs_f64());
    }
}

/// Counts an event hook request by result.
pub fn hook_request(result: &'static str) {
    counter!(HOOK_REQUESTS, "result" => result).increment(1);
}

/// Counts a notification delivery attempt by receiver and outcome.
pub fn notification(receiver: &str, outcome: &'static str) {
    counter!(NOTIFICATIONS, "receiver" => receiver.to_owned(), "outcome" => outcome).increment(1);
}

/// Counts `n` deliveries given up without an attempt (their receiver no longer configured).
pub fn notifications_given_up(receiver: &str, n: i64) {
    let n = u64::try_from(n).unwrap_or_default();
    counter!(NOTIFICATIONS, "receiver" => receiver.to_owned(), "outcome" => "given_up")
        .increment(n);
}
