//! The outbox's SQL: each cause enqueues its event in its own transaction, once per subject;
//! routing gives each event one delivery per wanting receiver, once; claims lease a delivery,
//! and attempts are recorded as delivered, retried or given up.

use std::time::Duration;

use chrono::Utc;
use serde_json::Value;
use sqlx::SqlitePool;

use super::outbox::NewEvent;
use super::{
    NewJob, NewRevocation, RevocationState, RevocationTrigger, Store, SweepCounts, SweepStatus,
    Trigger,
};
use crate::config::EventKind;
use crate::config::Mode;

async fn kinds(store: &Store) -> Vec<(String, Value)> {
    store
        .outbox()
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.kind, serde_json::from_str(&e.details).unwrap()))
        .collect()
}

#[sqlx::test(migrations = "./migrations")]
async fn a_failed_sweep_and_a_tripped_guard_are_enqueued_as_they_close(pool: SqlitePool) {
    let store = Store::from_pool(pool).await.unwrap();
    let now = Utc::now();
    let counts = SweepCounts::default();
    let ok = store
        .begin_sweep(Trigger::Cli, Mode::Enforce, now, "t")
        .await
        .unwrap();
    store
        .finish_sweep(ok, SweepStatus::Ok, &counts, None, now)
        .await
        .unwrap();
    assert!(
        kinds(&store).await.is_empty(),
        "an ok sweep is news to nobody"
    );
    let failed = store
        .begin_sweep(Trigger::Cli, Mode::Enforce, now, "t")
        .await
        .unwrap();
    store
        .finish_sweep(
            failed,
            SweepStatus::Failed,
            &counts,
            Some("all failed"),
            now,
        )
        .await
        .unwrap();
    let guarded = store
        .begin_sweep(Trigger::Schedule, Mode::DryRun, now, "t")
        .await
        .unwrap();
    store
        .finish_sweep_noting(
            guarded,
            SweepStatus::Partial,
            &counts,
            None,
            Some("too many"),
            now,
        )
        .await
        .unwrap();
    let events = kinds(&store).await;
    assert_eq!(events[0].0, "sweep_failed");
    assert_eq!(events[0].1["sweep_id"], failed);
    assert_eq!(events[0].1["error"], "all failed");
    assert_eq!(events[1].0, "guard_tripped");
    assert_eq!(events[1].1["reason"], "too many");
    assert_eq!(events[1].1["mode"], "dry-run");
    let row = store.sweep(guarded).await.unwrap().unwrap();
    assert_eq!(row.error.as_deref(), Some("too many"));
}

#[sqlx::test(migrations = "./migrations")]
async fn a_sweep_closed_as_failed_by_the_daemon_is_enqueued(pool: SqlitePool) {
    let store = Store::from_pool(pool).await.unwrap();
    let now = Utc::now();
    store
        .begin_sweep(Trigger::Schedule, Mode::Enforce, now, "t")
        .await
        .unwrap();
    let closed = store
        .close_running_sweeps(
            Trigger::Schedule,
            now,
            SweepStatus::Failed,
            "disk full",
            now,
        )
        .await
        .unwrap();
    assert_eq!(closed, 1);
    let events = kinds(&store).await;
    assert_eq!(events.len(), 1);
    assert_eq!(
        (events[0].0.as_str(), &events[0].1["error"]),
        ("sweep_failed", &Value::from("disk full"))
    );
}

#[sqlx::test(migrations = "./migrations")]
async fn an_irrevocable_revocation_is_enqueued_once_per_intent(pool: SqlitePool) {
    let store = Store::from_pool(pool).await.unwrap();
    let row = |state, intent| NewRevocation {
        intent_id: intent,
        attempts: 6,
        ..NewRevocation::new(
            Some("oar1".into()),
            "00u1",
            "0oa1",
            RevocationTrigger::Policy,
            Mode::Enforce,
            state,
            "2026-12-05T00:00:00.000Z",
        )
    };
    let intent = store
        .append_revocation(&row(RevocationState::Pending, None))
        .await
        .unwrap();
    store
        .append_revocation(&row(RevocationState::Failed, Some(intent)))
        .await
        .unwrap();
    assert!(kinds(&store).await.is_empty());
    store
        .append_revocation(&row(RevocationState::Irrevocable, Some(intent)))
        .await
        .unwrap();
    store
        .append_revocation(&row(RevocationState::Irrevocable, Some(intent)))
        .await
        .unwrap();
    let events = kinds(&store).await;
    assert_eq!(events.len(), 1, "retried daily, notified once");
    assert_eq!(events[0].0, "irrevocable");
    assert_eq!(events[0].1["intent_id"], intent);
    assert_eq!(events[0].1["token_id"], "oar1");
    assert_eq!(store.verify_audit().await.unwrap(), Ok(4));
}

#[sqlx::test(migrations = "./migrations")]
async fn a_failed_or_held_offboarding_job_is_enqueued_with_its_user(pool: SqlitePool) {
    let store = Store::from_pool(pool).await.unwrap();
    let now = Utc::now();
    let job = |event: &str| NewJob {
        user_id: "00u7".into(),
        source: crate::store::JobSource::SystemLog,
        event_id: Some(event.into()),
        event_type: None,
        reason: None,
    };
    let done = store.start_job(&job("e0"), "t", now).await.unwrap();
    store
        .finish_job(done, crate::store::JobState::Done, None, now)
        .await
        .unwrap();
    let failed = store.start_job(&job("e1"), "t", now).await.unwrap();
    store
        .finish_job(
            failed,
            crate::store::JobState::Failed,
            Some("unreachable"),
            now,
        )
        .await
        .unwrap();
    let held = store.enqueue_jobs(&[job("e2")], now).await.unwrap()[0];
    let mut conn = store.pool().acquire().await.unwrap();
    assert!(
        super::insert_held_event(&mut conn, held, "breaker", now)
            .await
            .unwrap()
    );
    assert!(
        !super::insert_held_event(&mut conn, held, "breaker", now)
            .await
            .unwrap()
    );
    assert!(
        !super::insert_held_event(&mut conn, 999, "no such job", now)
            .await
            .unwrap()
    );
    drop(conn);
    let events = kinds(&store).await;
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].0, "offboarding_failed");
    assert_eq!(events[0].1["job_id"], failed);
    assert_eq!(events[0].1["error"], "unreachable");
    assert_eq!(events[1].0, "offboarding_held");
    assert_eq!(events[1].1["user_id"], "00u7");
    assert_eq!(events[1].1["source"], "system_log");
    assert_eq!(events[1].1["reason"], "breaker");
}

#[sqlx::test(migrations = "./migrations")]
async fn events_are_routed_once_to_the_receivers_that_want_them(pool: SqlitePool) {
    let store = Store::from_pool(pool).await.unwrap();
    let now = Utc::now();
    let at = super::ts(now);
    assert!(
        store
            .enqueue_event(&NewEvent::audit_broken(3, "edited", &at))
            .await
            .unwrap()
    );
    assert!(
        !store
            .enqueue_event(&NewEvent::audit_broken(3, "edited again", &at))
            .await
            .unwrap()
    );
    store
        .enqueue_event(&NewEvent::sweep_failed(1, "cli", "enforce", None, &at))
        .await
        .unwrap();
    let routes: [(&str, &[EventKind]); 2] = [
        ("all", &EventKind::ALL),
        ("audit", &[EventKind::AuditBroken]),
    ];
    assert_eq!(store.route_events(&routes, now).await.unwrap(), 2);
    assert_eq!(store.route_events(&routes, now).await.unwrap(), 0);
    let outbox = store.outbox().await.unwrap();
    let (a, b) = (outbox[0].id, outbox[1].id);
    let deliveries = store.deliveries().await.unwrap();
    let pairs: Vec<_> = deliveries
        .iter()
        .map(|d| (d.outbox_id, d.receiver.as_str()))
        .collect();
    assert_eq!(pairs, [(a, "all"), (a, "audit"), (b, "all")]);
    let ids: Vec<String> = outbox.into_iter().map(|e| e.event_id).collect();
    assert!(
        ids.iter()
            .all(|id| id.len() == 36 && id.starts_with("evt_")),
        "{ids:?}"
    );
    assert_ne!(ids[0], ids[1]);
}

#[sqlx::test(migrations = "./migrations")]
async fn a_claim_leases_the_delivery_and_attempts_are_recorded(pool: SqlitePool) {
    let store = Store::from_pool(pool).await.unwrap();
    let now = Utc::now();
    let at = super::ts(now);
    store
        .enqueue_event(&NewEvent::audit_broken(1, "x", &at))
        .await
        .unwrap();
    store
        .enqueue_event(&NewEvent::audit_broken(2, "y", &at))
        .await
        .unwrap();
    store
        .route_events(&[("r", &EventKind::ALL)], now)
        .await
        .unwrap();
    let lease = Duration::from_secs(60);
    let first = store
        .claim_delivery("r", now, lease)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((first.event.id, first.attempt), (1, 1));
    let second = store
        .claim_delivery("r", now, lease)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second.event.id, 2, "a leased delivery is not claimed twice");
    assert!(
        store
            .claim_delivery("r", now, lease)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .claim_delivery("other", now, lease)
            .await
            .unwrap()
            .is_none()
    );

    store
        .delivery_failed(&first, Some(500), "down", Some(Duration::from_secs(5)), now)
        .await
        .unwrap();
    store.delivery_succeeded(&second, 204, now).await.unwrap();
    assert!(
        store
            .claim_delivery("r", now, lease)
            .await
            .unwrap()
            .is_none(),
        "backing off"
    );
    let due = store.next_delivery_due("r").await.unwrap().unwrap();
    let later = now + chrono::Duration::seconds(6);
    assert!(due < super::ts(later));
    let again = store
        .claim_delivery("r", later, lease)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((again.event.id, again.attempt), (1, 2));
    store
        .delivery_failed(&again, None, "timeout", None, later)
        .await
        .unwrap();
    let rows = store.deliveries().await.unwrap();
    assert_eq!(
        (
            rows[0].state.as_str(),
            rows[0].attempts,
            rows[0].last_error.as_deref()
        ),
        ("failed", 2, Some("timeout"))
    );
    assert_eq!(
        (rows[1].state.as_str(), rows[1].last_status),
        ("delivered", Some(204))
    );
    assert!(store.next_delivery_due("r").await.unwrap().is_none());
}

#[sqlx::test(migrations = "./migrations")]
async fn a_receiver_configured_later_gets_only_what_comes_after(pool: SqlitePool) {
    let store = Store::from_pool(pool).await.unwrap();
    let now = Utc::now();
    let at = super::ts(now);
    store
        .enqueue_event(&NewEvent::audit_broken(1, "old news", &at))
        .await
        .unwrap();
    assert_eq!(store.route_events(&[], now).await.unwrap(), 1);
    store
        .enqueue_event(&NewEvent::audit_broken(2, "news", &at))
        .await
        .unwrap();
    store
        .route_events(&[("late", &EventKind::ALL)], now)
        .await
        .unwrap();
    let deliveries = store.deliveries().await.unwrap();
    assert_eq!(deliveries.len(), 1);
    let outbox = store.outbox().await.unwrap();
    assert_eq!(deliveries[0].outbox_id, outbox[1].id);
}
