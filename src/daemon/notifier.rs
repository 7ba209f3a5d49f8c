//! The daemon's notification dispatcher: routes new outbox events to the `[[notify]]`
//! receivers in force, then delivers each receiver's due deliveries one at a time, every
//! attempt in a task of its own (so a receiver that hangs, fails or answers huge bodies only
//! ever holds up itself). A failed attempt is retried with exponential backoff (no sooner than
//! a 429's `Retry-After`) until the receiver's `max_attempts`; one the receiver refused (a 4xx
//! other than 408, 425 and 429) is given up at once, for `revokd notify resend`. It wakes when
//! this process may have enqueued an event, when an attempt ends, when a retry comes due, and
//! every [`IDLE_RECHECK`] (other processes, such as `revokd sweep`, enqueue too). Never on a
//! sweep's path.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tracing::{error, info, warn};

use super::context::Context;
use super::metrics;
use crate::notify::{self, EventKind, Outcome, Receiver, Retry, payload::Event};
use crate::store::{Claimed, Store};

/// The longest the dispatcher sleeps without looking at the outbox.
pub const IDLE_RECHECK: Duration = Duration::from_secs(2);

/// How long past its timeout a claimed attempt stays leased: a process that died mid-attempt
/// has its delivery retried after that.
const LEASE_MARGIN: Duration = Duration::from_secs(2);

/// Starts the dispatcher; it ends when `stop` turns true, after the attempts in flight end
/// (cut after `server.shutdown_timeout`, then retried once their lease ends).
pub(super) fn spawn(ctx: &Arc<Context>, stop: &watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(dispatcher(Arc::clone(ctx), stop.clone()))
}

async fn dispatcher(ctx: Arc<Context>, mut stop: watch::Receiver<bool>) {
    let client = notify::client();
    let mut in_flight = JoinSet::new();
    let mut busy: HashMap<tokio::task::Id, String> = HashMap::new();
    loop {
        if *stop.borrow() {
            break;
        }
        let current = ctx.current();
        let receivers = &current.receivers;
        let mut wait = IDLE_RECHECK;
        // Routed even with no receivers: one configured later is sent only what comes after.
        route(&ctx.store, receivers).await;
        let taken: HashSet<&str> = busy.values().map(String::as_str).collect();
        let idle: Vec<&Receiver> = receivers
            .iter()
            .filter(|r| !taken.contains(r.name.as_str()))
            .collect();
        for receiver in &idle {
            let lease = receiver.timeout + LEASE_MARGIN;
            match ctx
                .store
                .claim_delivery(&receiver.name, Utc::now(), lease)
                .await
            {
                Ok(Some(claimed)) => {
                    let task = attempt(
                        ctx.store.clone(),
                        client.clone(),
                        (*receiver).clone(),
                        claimed,
                    );
                    let handle = in_flight.spawn(task);
                    busy.insert(handle.id(), receiver.name.clone());
                }
                Ok(None) => {
                    wait = wait.min(next_due(&ctx.store, &receiver.name).await);
                }
                Err(e) => {
                    error!(notify.receiver = %receiver.name, error.message = %e, "cannot read the notification outbox");
                }
            }
        }
        drop(current);
        tokio::select! {
            Some(done) = in_flight.join_next_with_id(), if !in_flight.is_empty() => {
                let id = match done {
                    Ok((id, ())) => id,
                    Err(e) => e.id(),
                };
                busy.remove(&id);
            }
            () = ctx.notify_wake.notified() => {}
            () = tokio::time::sleep(wait) => {}
            _ = stop.changed() => break,
        }
    }
    // Attempts in flight may finish (and be recorded) within `server.shutdown_timeout`; the
    // rest are cut and sent again once their lease ends.
    let deadline = tokio::time::Instant::now() + ctx.current().config.server.shutdown_timeout;
    while let Ok(Some(_)) = tokio::time::timeout_at(deadline, in_flight.join_next()).await {}
    in_flight.shutdown().await;
}

/// Gives new events their deliveries, for the receivers in force now.
async fn route(store: &Store, receivers: &[Receiver]) {
    let routes: Vec<(&str, &[EventKind])> = receivers
        .iter()
        .map(|r| (r.name.as_str(), r.events()))
        .collect();
    if let Err(e) = store.route_events(&routes, Utc::now()).await {
        error!(error.message = %e, error.cause_chain = ?e, "cannot route notifications");
    }
    let names: Vec<&str> = routes.iter().map(|(name, _)| *name).collect();
    match store.fail_unconfigured_deliveries(&names, Utc::now()).await {
        Ok(stranded) => {
            for (receiver, n) in stranded {
                warn!(notify.receiver = %receiver, deliveries = n, "notifications to a receiver no longer configured are given up");
                metrics::notifications_given_up(&receiver, n);
            }
        }
        Err(e) => {
            error!(error.message = %e, error.cause_chain = ?e, "cannot give up the deliveries of removed receivers");
        }
    }
}

/// How long until `receiver`'s next pending delivery comes due (at most [`IDLE_RECHECK`]).
async fn next_due(store: &Store, receiver: &str) -> Duration {
    let due = store.next_delivery_due(receiver).await.ok().flatten();
    due.and_then(|at| at.parse::<DateTime<Utc>>().ok())
        .map_or(IDLE_RECHECK, |at| {
            (at - Utc::now())
                .to_std()
                .unwrap_or(Duration::ZERO)
                .min(IDLE_RECHECK)
        })
}

/// One attempt of one delivery, and its outcome recorded.
async fn attempt(store: Store, client: reqwest::Client, receiver: Receiver, claimed: Claimed) {
    let row = &claimed.event;
    let details: Value = serde_json::from_str(&row.details).unwrap_or(Value::Null);
    let Some(kind) = EventKind::parse(&row.kind) else {
        return;
    };
    let event = Event {
        id: &row.event_id,
        kind,
        occurred_at: &row.occurred_at,
        details: &details,
    };
    let outcome = notify::send(&client, &receiver, &event).await;
    let now = Utc::now();
    let name = receiver.name.as_str();
    let at = (row.event_id.as_str(), row.kind.as_str(), claimed.attempt);
    // Logged once recorded: a line saying "delivered" means the database says so too.
    match outcome {
        Outcome::Delivered { status } => {
            let recorded = store.delivery_succeeded(&claimed, status, now).await;
            report(recorded, name, at, "delivered", None, None);
        }
        Outcome::Failed {
            status,
            error,
            retry,
        } => {
            let wait = (claimed.attempt < i64::from(receiver.max_attempts))
                .then(|| {
                    retry.wait(
                        claimed.attempt,
                        receiver.min_backoff,
                        receiver.max_backoff,
                        rand::random(),
                    )
                })
                .flatten();
            let recorded = store
                .delivery_failed(&claimed, status, &error, wait, now)
                .await;
            let outcome = match wait {
                Some(_) => "retry",
                None => "given_up",
            };
            let failure = Failure {
                error: &error,
                wait,
                refused: retry == Retry::Refused,
            };
            report(recorded, name, at, outcome, status, Some(failure));
        }
    }
}

/// How a failed attempt ended: retried after `wait`, or given up (`None`), at once when the
/// receiver `refused` the request itself.
#[derive(Clone, Copy)]
struct Failure<'a> {
    error: &'a str,
    wait: Option<Duration>,
    refused: bool,
}

/// Logs and counts one recorded attempt: `(event id, kind, attempt)` at `at`.
fn report(
    recorded: Result<(), crate::store::Error>,
    name: &str,
    (event_id, kind, attempt): (&str, &str, i64),
    outcome: &'static str,
    status: Option<u16>,
    failure: Option<Failure<'_>>,
) {
    if let Err(e) = recorded {
        error!(notify.receiver = name, notify.event_id = event_id, error.message = %e, "cannot record a notification attempt");
        return;
    }
    metrics::notification(name, outcome);
    let Some(Failure {
        error,
        wait,
        refused,
    }) = failure
    else {
        info!(
            notify.receiver = name,
            notify.event_id = event_id,
            notify.kind = kind,
            attempt,
            "notification delivered"
        );
        return;
    };
    match wait {
        None => error!(
            notify.receiver = name,
            notify.event_id = event_id,
            notify.kind = kind,
            attempt,
            http.status = status,
            error.message = error,
            notify.refused = refused,
            "notification given up (refused by its receiver, or out of attempts); once the \
             receiver is fixed, `revokd notify resend` sends it again"
        ),
        Some(wait) => warn!(
            notify.receiver = name,
            notify.event_id = event_id,
            notify.kind = kind,
            attempt,
            http.status = status,
            http.retry_in_ms = wait.as_millis() as u64,
            error.message = error,
            "notification not delivered; will be retried"
        ),
    }
}
