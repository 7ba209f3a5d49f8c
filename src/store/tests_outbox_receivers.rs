//! Routing across changes: deliveries to a receiver a reload removed or renamed are given up
//! rather than left pending for ever, and an attempt that was in flight meanwhile does not
//! bring one back; events of a kind a newer version wrote hold up no other.

use std::time::Duration;

use chrono::Utc;
use sqlx::SqlitePool;

use super::Store;
use super::outbox::NewEvent;
use crate::config::EventKind;

async fn states(store: &Store) -> Vec<(String, String, Option<String>)> {
    (store.deliveries().await.unwrap().into_iter())
        .map(|d| (d.receiver, d.state, d.last_error))
        .collect()
}

#[sqlx::test(migrations = "./migrations")]
async fn pending_deliveries_to_a_receiver_no_longer_configured_are_given_up(pool: SqlitePool) {
    let store = Store::from_pool(pool).await.unwrap();
    let now = Utc::now();
    let event = NewEvent::audit_broken(1, "x", &super::ts(now));
    store.enqueue_event(&event).await.unwrap();
    let routes: [(&str, &[EventKind]); 2] = [("pager", &EventKind::ALL), ("mail", &EventKind::ALL)];
    store.route_events(&routes, now).await.unwrap();
    let lease = Duration::from_secs(60);
    let sent = store
        .claim_delivery("mail", now, lease)
        .await
        .unwrap()
        .unwrap();
    store.delivery_succeeded(&sent, 200, now).await.unwrap();
    // An attempt to `pager` is in flight when a reload renames it `oncall`.
    let in_flight = store
        .claim_delivery("pager", now, lease)
        .await
        .unwrap()
        .unwrap();

    let given_up = store
        .fail_unconfigured_deliveries(&["oncall", "mail"], now)
        .await
        .unwrap();

    assert_eq!(given_up, vec![("pager".to_owned(), 1)]);
    let gone = Some("the receiver is no longer configured".to_owned());
    let expected = vec![
        ("mail".to_owned(), "delivered".to_owned(), None),
        ("pager".to_owned(), "failed".to_owned(), gone),
    ];
    assert_eq!(states(&store).await, expected);
    // The attempt in flight fails and would be retried: the delivery stays given up.
    let retry = Some(Duration::from_secs(5));
    store
        .delivery_failed(&in_flight, Some(500), "down", retry, now)
        .await
        .unwrap();
    assert_eq!(states(&store).await, expected);
    let again = store.fail_unconfigured_deliveries(&[], now).await.unwrap();
    assert_eq!(again, vec![], "only pending deliveries are given up");
}

#[sqlx::test(migrations = "./migrations")]
async fn events_of_a_kind_a_newer_version_wrote_never_hold_up_the_ones_after(pool: SqlitePool) {
    let store = Store::from_pool(pool).await.unwrap();
    let now = Utc::now();
    // A newer version's migration would widen the kind's check; here it is set aside.
    let mut conn = store.pool().acquire().await.unwrap();
    sqlx::query("PRAGMA ignore_check_constraints = ON")
        .execute(&mut *conn)
        .await
        .unwrap();
    for n in 0..501 {
        sqlx::query(
            "INSERT INTO notify_outbox (kind, subject, occurred_at, details)
             VALUES ('kind_of_a_later_version', ?, ?, '{}')",
        )
        .bind(format!("later:{n}"))
        .bind(super::ts(now))
        .execute(&mut *conn)
        .await
        .unwrap();
    }
    sqlx::query("PRAGMA ignore_check_constraints = OFF")
        .execute(&mut *conn)
        .await
        .unwrap();
    drop(conn);
    let at = super::ts(now);
    let failed = NewEvent::sweep_failed(1, "cli", "enforce", None, &at);
    store.enqueue_event(&failed).await.unwrap();
    let routes: [(&str, &[EventKind]); 1] = [("all", &EventKind::ALL)];

    assert_eq!(store.route_events(&routes, now).await.unwrap(), 1);

    let deliveries = store.deliveries().await.unwrap();
    assert_eq!(deliveries.len(), 1, "the known event is routed");
    let unrouted: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM notify_outbox WHERE routed_at IS NULL")
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert_eq!(unrouted, 501, "the later version's events wait for it");
    assert_eq!(store.route_events(&routes, now).await.unwrap(), 0);
}
