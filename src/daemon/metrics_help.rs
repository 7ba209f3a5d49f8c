//! The help text and unit of each of the daemon's metrics, given to the recorder once as it
//! is installed (see [`super::install`]).

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};

use super::*;

/// Describes every metric.
pub(super) fn describe() {
    describe_counter!(
        SWEEPS,
        "Sweeps in the database that ended, by final status."
    );
    describe_gauge!(SWEEPS_RUNNING, "Sweeps in the database still running.");
    describe_gauge!(
        LAST_SWEEP_STATUS,
        "1 for the final status of the sweep that finished last, 0 for the others."
    );
    describe_histogram!(
        SWEEP_DURATION,
        Unit::Seconds,
        "How long this process's sweeps took."
    );
    describe_gauge!(
        LAST_SUCCESS,
        Unit::Seconds,
        "When the newest sweep with status ok finished, in Unix seconds."
    );
    describe_gauge!(ACTIVE_TOKENS, "Tokens the database holds as active.");
    describe_gauge!(
        REVOCATIONS,
        "Revocation intents at their latest state, by state."
    );
    describe_gauge!(
        POLICY_REVOCATIONS,
        "Revocation intents by policy rule and latest state."
    );
    describe_counter!(
        REQUESTS_METRIC,
        "Requests sent to Okta, by operation (rate-limit bucket) and HTTP status."
    );
    describe_gauge!(
        RATE_LIMIT_REMAINING_METRIC,
        "X-Rate-Limit-Remaining last seen, by rate-limit bucket."
    );
    describe_counter!(
        OKTA_429,
        "429 responses from Okta, by kind (rate or concurrency)."
    );
    describe_counter!(
        RUNS_SKIPPED,
        "Scheduled ticks skipped because the job's previous run was still going."
    );
    describe_counter!(RUNS, "Job runs, by job and outcome.");
    describe_gauge!(
        OFFBOARDING_QUEUE_DEPTH,
        "Offboarding jobs queued or running in the database."
    );
    describe_gauge!(
        OFFBOARDING_OLDEST_WAITING,
        Unit::Seconds,
        "When the oldest offboarding job still queued or running was enqueued; 0 when none is."
    );
    describe_histogram!(
        OFFBOARDING_LATENCY,
        Unit::Seconds,
        "Seconds from an offboarding job's enqueueing to its tokens verified gone."
    );
    describe_counter!(
        OFFBOARDING_JOBS,
        "Offboarding job attempts ended, by source and outcome."
    );
    describe_gauge!(
        OFFBOARDING_JOB_STATES,
        "Offboarding jobs by state now; `held` jobs wait for `revokd offboard release`."
    );
    describe_gauge!(
        OFFBOARDING_UNSETTLED_FAILURES,
        "Failed offboarding jobs no later job of their user settled: their users may still \
         hold tokens."
    );
    describe_counter!(HOOK_REQUESTS, "Event hook requests, by result.");
    describe_counter!(
        NOTIFICATIONS,
        "Notification delivery attempts, by receiver and outcome."
    );
    describe_gauge!(
        NOTIFICATION_DELIVERIES,
        "Notification deliveries by state now; `failed` ones were given up."
    );
    describe_gauge!(
        NOTIFICATION_LAST_GIVEN_UP,
        Unit::Seconds,
        "When the latest notification delivery still given up was given up; 0 when none is."
    );
    describe_gauge!(
        SWEEP_INTERVAL,
        Unit::Seconds,
        "Longest gap between two coming runs of schedule.sweep."
    );
    describe_gauge!(START_TIME, Unit::Seconds, "When this process started.");
    describe_gauge!(
        AUDIT_VALID,
        "1 when the audit hash chain verifies, 0 when it is broken."
    );
    describe_gauge!(
        AUDIT_RECORDS,
        "Records in the audit chain when it last verified."
    );
    describe_counter!(
        BUDGET_WAIT,
        Unit::Milliseconds,
        "Milliseconds requests were held back to stay within revokd's share of Okta's rate limits, summed over requests."
    );
    describe_gauge!(
        RATE_LIMIT_LIMIT,
        "X-Rate-Limit-Limit last seen, by rate-limit bucket."
    );
    describe_counter!(RELOADS, "Configuration reloads (SIGHUP), by result.");
}
