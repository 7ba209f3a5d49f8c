//! The seeded history, step by step in the order it is written (row ids are part of the
//! golden files): a finished dry-run sweep, an enforce sweep with a revocation that succeeded,
//! one that failed and an exemption, a failed offboarding with its targets, and a sweep still
//! running.

use chrono::Duration;
use revokd::config::Mode;
use revokd::store::{
    NewRevocation, RevocationState, Store, SweepCounts, SweepStatus, TargetOutcome, TargetResult,
    Trigger,
};

use super::{EVIL_ERROR, EVIL_REQUEST_ID, EVIL_SWEEP_ERROR, at, observe, revocation};

/// Sweep 1: five tokens seen, one revocation planned (dry run), finished ok.
pub(super) async fn dry_run_sweep(store: &Store) {
    let s1_start = at("2026-09-01T02:00:00Z");
    let s1 = store
        .begin_sweep(Trigger::Cli, Mode::DryRun, s1_start, "seed")
        .await
        .unwrap();
    observe(
        store,
        s1,
        &["oarA", "oarB", "oarC", "oarD", "oarE"],
        s1_start + Duration::seconds(5),
    )
    .await;
    let mut planned = revocation(
        Some("oarB"),
        "00u2bob",
        "0oa2admin",
        RevocationState::Planned,
        "2026-09-01T02:00:06.000Z",
        s1,
    );
    planned.mode = Mode::DryRun;
    planned.policy = Some("admin-scopes-7d,idle-30d".into());
    planned.reason = Some("admin-scopes-7d: older_than 7d | idle-30d: idle_for 30d".into());
    store.append_revocation(&planned).await.unwrap();
    let counts = SweepCounts {
        targets_total: 5,
        tokens_seen: 5,
        revocations_planned: 1,
        http_requests: 5,
        ..Default::default()
    };
    store
        .finish_sweep(
            s1,
            SweepStatus::Ok,
            &counts,
            None,
            s1_start + Duration::milliseconds(12_345),
        )
        .await
        .unwrap();
}

/// Sweep 2, enforce: six tokens seen; oarE revoked, oarC's DELETE failed, oarA exempt;
/// finished partial. Returns its id.
pub(super) async fn enforce_sweep(store: &Store) -> i64 {
    let s2_start = at("2026-11-28T02:00:00Z");
    let s2 = store
        .begin_sweep(Trigger::Schedule, Mode::Enforce, s2_start, "seed")
        .await
        .unwrap();
    observe(
        store,
        s2,
        &["oarA", "oarB", "oarC", "oarD", "oarE", "oarF"],
        s2_start + Duration::seconds(5),
    )
    .await;
    revoked(store, s2).await;
    failed(store, s2).await;
    exempt(store, s2).await;
    let counts = SweepCounts {
        targets_total: 6,
        targets_failed: 1,
        tokens_seen: 6,
        revocations_planned: 2,
        revocations_done: 1,
        revocations_failed: 1,
        http_requests: 9,
        http_429: 2,
        ..Default::default()
    };
    store
        .finish_sweep(
            s2,
            SweepStatus::Partial,
            &counts,
            Some(EVIL_SWEEP_ERROR),
            s2_start + Duration::seconds(9),
        )
        .await
        .unwrap();
    s2
}

/// Appends `pending` (an intent) and then its outcome, which `answer` makes from the intent.
async fn intent_then(
    store: &Store,
    pending: NewRevocation,
    answer: impl FnOnce(NewRevocation) -> NewRevocation,
) {
    let intent = store.append_revocation(&pending).await.unwrap();
    let outcome = answer(NewRevocation {
        intent_id: Some(intent),
        ..pending
    });
    store.append_revocation(&outcome).await.unwrap();
}

/// oarE: revoked.
async fn revoked(store: &Store, s2: i64) {
    let pending = NewRevocation {
        policy: Some("idle-30d".into()),
        reason: Some("idle-30d: idle_for 30d (last updated 2026-06-02)".into()),
        ..revocation(
            Some("oarE"),
            "00u5erin",
            "0oa1crm",
            RevocationState::Pending,
            "2026-11-28T02:00:06.000Z",
            s2,
        )
    };
    intent_then(store, pending, |intent| NewRevocation {
        state: RevocationState::Done,
        completed_at: Some("2026-11-28T02:00:07.500Z".into()),
        attempts: 1,
        http_status: Some(204),
        okta_request_id: Some("reqE1".into()),
        ..intent
    })
    .await;
    store
        .mark_revoked("oarE", at("2026-11-28T02:00:08Z"))
        .await
        .unwrap();
}

/// oarC: the DELETE failed.
async fn failed(store: &Store, s2: i64) {
    let pending = NewRevocation {
        policy: Some("retired-app".into()),
        reason: Some("retired-app: client 0oa3legacy".into()),
        ..revocation(
            Some("oarC"),
            "00u3carol",
            "0oa3legacy",
            RevocationState::Pending,
            "2026-11-28T02:00:06.500Z",
            s2,
        )
    };
    intent_then(store, pending, |intent| NewRevocation {
        state: RevocationState::Failed,
        completed_at: Some("2026-11-28T02:00:09.000Z".into()),
        attempts: 1,
        http_status: Some(500),
        okta_request_id: Some(EVIL_REQUEST_ID.into()),
        error: Some(EVIL_ERROR.into()),
        ..intent
    })
    .await;
}

/// oarA: exempt.
async fn exempt(store: &Store, s2: i64) {
    store
        .append_revocation(&NewRevocation {
            policy: Some("idle-30d".into()),
            reason: Some("exempt: break-glass".into()),
            ..revocation(
                Some("oarA"),
                "00u9alice",
                "0oa1crm",
                RevocationState::SkippedExempt,
                "2026-11-28T02:00:07.000Z",
                s2,
            )
        })
        .await
        .unwrap();
}

/// Dave left: an offboarding revoke-all was recorded, and failed; his token is still there.
/// Two targets were polled in sweep 2.
pub(super) async fn offboarding_and_targets(store: &Store, s2: i64) {
    let mut offboard = revocation(
        None,
        "00u4dave",
        "0oa1crm",
        RevocationState::Failed,
        "2026-11-29T09:00:00.000Z",
        s2,
    );
    offboard.trigger = revokd::store::RevocationTrigger::Offboard;
    offboard.sweep_id = None;
    offboard.reason = Some("user.lifecycle.deactivate".into());
    offboard.error = Some("503 Service Unavailable".into());
    store.append_revocation(&offboard).await.unwrap();
    for (user, client, source) in [
        ("00u2bob", "0oa2admin", revokd::store::TargetSource::Config),
        (
            "00u6frank",
            "0oa1crm",
            revokd::store::TargetSource::Offboard,
        ),
    ] {
        store
            .record_target(&TargetResult {
                user_id: user.into(),
                client_id: client.into(),
                source,
                outcome: TargetOutcome::Ok,
                error: None,
                polled_at: at("2026-11-28T02:00:05Z"),
            })
            .await
            .unwrap();
    }
}

/// Sweep 3: started, not finished.
pub(super) async fn running_sweep(store: &Store) {
    store
        .begin_sweep(
            Trigger::Cli,
            Mode::DryRun,
            at("2026-11-29T21:59:00Z"),
            "seed",
        )
        .await
        .unwrap();
}
