//! The daemon's HTTP surface (axum): `/healthz` (the process answers), `/readyz` (the
//! process can work: the database answers and the scheduler runs; how the last sweep ended
//! is not the process's readiness, and shows in `/metrics` and `revokd status`), `/metrics`
//! (Prometheus text), and `/hooks/okta` (see [`super::hook`]). These handlers only read; the
//! hook only enqueues.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::Utc;
use serde_json::json;
use tokio::time::Instant;
use tracing::warn;

use super::context::Context;
use super::jobs::JobKind;
use super::metrics;

/// How old the database gauges `/metrics` serves may be while a sweep of this process runs:
/// at a million tokens one recount takes about a second of CPU.
const GAUGES_WHILE_SWEEPING: Duration = Duration::from_secs(30);

/// The routes, over the shared context.
pub fn router(ctx: Arc<Context>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .merge(super::hook::routes())
        .with_state(ctx)
}

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "alive" }))
}

async fn readyz(State(ctx): State<Arc<Context>>) -> Response {
    match not_ready_because(&ctx).await {
        None => (StatusCode::OK, Json(json!({ "status": "ready" }))).into_response(),
        Some(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "not ready", "reason": reason })),
        )
            .into_response(),
    }
}

/// Why the daemon is not ready, or `None` when it is.
async fn not_ready_because(ctx: &Context) -> Option<String> {
    if let Err(e) = ctx.store.ping().await {
        return Some(format!("the database does not answer: {e}"));
    }
    if !ctx.scheduler_running() {
        return Some("the scheduler is not running".into());
    }
    None
}

async fn metrics_text(State(ctx): State<Arc<Context>>) -> Response {
    let read = async {
        let version = ctx.db_version.current(&ctx.store).await?;
        // While a sweep runs it commits every second or so: a reading younger than
        // GAUGES_WHILE_SWEEPING stands, rather than a recount of every token at each scrape.
        let bound = if ctx.guard(JobKind::Sweep).busy() {
            GAUGES_WHILE_SWEEPING
        } else {
            Duration::ZERO
        };
        let gauges = ctx
            .gauges
            .get_within(version, bound, Instant::now(), || ctx.store.gauges());
        let gauges = gauges.await?;
        let audit = ctx.audit_check.verdict(&ctx.store, version).await?;
        let waiting = ctx.store.waiting_jobs().await?;
        Ok::<_, crate::store::Error>((gauges, audit, waiting))
    }
    .await;
    match read {
        Ok((gauges, audit, waiting)) => {
            metrics::set_db_gauges(&gauges);
            metrics::set_audit(&audit);
            metrics::set_sweep_interval(&ctx.current().config.schedule.sweep, Utc::now());
            metrics::set_waiting_jobs(waiting);
        }
        Err(e) => {
            // Stale numbers would disagree with the database: refuse rather than mislead.
            warn!(error.message = %e, error.cause_chain = ?e, "metrics scrape: database unreadable");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("cannot read the database: {e}\n"),
            )
                .into_response();
        }
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        metrics::render(&ctx.metrics),
    )
        .into_response()
}
