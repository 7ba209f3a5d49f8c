//! The request pipeline every request goes through, in Okta's order: concurrency admission
//! (held for the whole request, including the configured latency), the rate-limit bucket,
//! auth (`SSWS`, or an OAuth access token checked by `oauth`; see `server/auth.rs`), injected
//! faults, the operation itself, then the headers every Okta response carries
//! (`X-Okta-Request-Id`, `Date`, `X-Rate-Limit-*`, `Link`). Counters and the request log are
//! `record`'s. What each operation answers lives in `routes`; `POST /oauth2/v1/token` is
//! handed to `oauth` before any of this (Okta meters it separately).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::request::Parts;
use axum::response::Response;
use chrono::Utc;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::sync::Arc;
use tokio::sync::oneshot;

use super::conn::{ConnControl, SimListener};
use super::faults::Faults;
use super::limits::{Charge, Limits, RateHeaders, epoch_after};
use super::oauth::OAuth;
use super::record::Recorder;
use super::reply::{Reply, shape};
use super::routes::{self, Outcome, Route};
use super::store::Store;
use super::types::{FaultKind, LinkStyle, RequestRecord, RouteKind, SimStats, SimToken};
use super::{SimConfig, seed};

mod auth;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// State shared by the handle and the server task.
pub(crate) struct Shared {
    pub(crate) base_url: url::Url,
    /// `http://127.0.0.1:PORT`, no trailing slash.
    origin: String,
    api_token: String,
    pub(crate) link_style: LinkStyle,
    /// [`super::SimConfig::clock_skew_secs`].
    pub(crate) clock_skew_secs: i64,
    latency: Duration,
    /// Read by token listings several at once, written by everything else.
    store: RwLock<Store>,
    pub(crate) limits: Limits,
    pub(crate) faults: Faults,
    pub(crate) oauth: OAuth,
    recorder: Recorder,
    next_request: AtomicU64,
    /// Randomness for request and error ids (seeded, though ids also carry a counter).
    ids: Mutex<StdRng>,
    /// Requests parked by `HangBefore` / `HangAfter`, and a signal for each.
    pub(crate) hung: AtomicU64,
    pub(crate) hung_signal: tokio::sync::Notify,
}

impl Shared {
    pub(crate) fn new(config: SimConfig, base_url: url::Url) -> Result<Shared, String> {
        let origin = base_url.as_str().trim_end_matches('/').to_owned();
        let store = seed::seed(&config, &origin);
        let oauth = OAuth::new(
            &config.service_apps,
            config.access_token_lifetime,
            config.seed,
        )?;
        Ok(Shared {
            base_url,
            origin,
            limits: Limits::new(
                config.rate_limit_per_window,
                config.apps_rate_limit_per_window,
                config.logs_rate_limit_per_window,
                config.window,
                config.concurrency_limit,
                config.bucket_model,
            ),
            api_token: config.api_token,
            link_style: config.link_style,
            clock_skew_secs: config.clock_skew_secs,
            latency: config.latency,
            store: RwLock::new(store),
            faults: Faults::default(),
            recorder: Recorder::new(config.record_requests),
            next_request: AtomicU64::new(1),
            ids: Mutex::new(StdRng::seed_from_u64(config.seed.rotate_left(17))),
            hung: AtomicU64::new(0),
            hung_signal: tokio::sync::Notify::new(),
            oauth,
        })
    }

    pub(crate) fn store(&self) -> RwLockWriteGuard<'_, Store> {
        self.store.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn store_read(&self) -> RwLockReadGuard<'_, Store> {
        self.store.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn stats(&self) -> SimStats {
        let mut stats = self.recorder.counters();
        stats.peak_concurrency = self.limits.peak();
        stats.peak_arrivals = self.limits.peak_arrivals();
        stats.in_flight = self.limits.in_flight();
        stats
    }

    pub(crate) fn requests(&self) -> Vec<RequestRecord> {
        self.recorder.requests()
    }

    fn random_alnum(&self, len: usize) -> String {
        const ALNUM: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        let mut rng = lock(&self.ids);
        (0..len)
            .map(|_| char::from(ALNUM[rng.random_range(0..ALNUM.len())]))
            .collect()
    }

    /// [`FaultKind::IssuedFirst`]: a fresh token of the request's pair, like the pair's first
    /// token (its issuer), with `offline_access` alone, created now.
    fn issue_first(&self, route: &Route) {
        let (Some(user), Some(client)) = (route.user.as_deref(), route.client.as_deref()) else {
            return;
        };
        let id = format!("oar{}", self.random_alnum(17));
        let mut store = self.store();
        let issuer = store.tokens(user, client).first().map_or_else(
            || format!("{}/oauth2/default", self.origin),
            |t| t.issuer.clone(),
        );
        let now = Utc::now();
        store.add(SimToken {
            id,
            user_id: user.to_owned(),
            client_id: client.to_owned(),
            issuer,
            scopes: vec!["offline_access".to_owned()],
            created: now,
            last_updated: now,
            expires_at: None,
        });
    }

    /// A unique `X-Okta-Request-Id`: random text plus a sequence number.
    fn request_id(&self) -> String {
        let n = self.next_request.fetch_add(1, Ordering::SeqCst);
        format!("{}{n:011}", self.random_alnum(16))
    }

    fn error_id(&self) -> String {
        format!("oae{}", self.random_alnum(22))
    }

    fn error_reply(&self, status: u16, rate: RateHeaders) -> Reply {
        Reply::from_outcome(Outcome::error(status, None, &[], &self.error_id()), rate)
    }

    /// Everything after concurrency admission.
    async fn serve_admitted(
        &self,
        route: &Route,
        req: &Parts,
        request_id: &str,
    ) -> (Reply, Vec<FaultKind>) {
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        let rate = match self.limits.charge(route.kind) {
            Charge::Allowed(h) => h,
            Charge::Exhausted(h) => return (self.error_reply(429, h), Vec::new()),
        };
        if let Err(status) = self.authorize(req) {
            return (self.error_reply(status, rate), Vec::new());
        }
        let faults = self
            .faults
            .take(route.user.as_deref(), route.client.as_deref(), route.kind);
        for fault in &faults {
            if let FaultKind::Latency(d) = fault {
                tokio::time::sleep(*d).await;
            }
        }
        if let Some(reply) = self.replacement(&faults, rate) {
            return (reply, faults);
        }
        if faults.iter().any(|f| matches!(f, FaultKind::HangBefore(_))) {
            self.park().await;
        }
        if faults.contains(&FaultKind::IssuedFirst) {
            self.issue_first(route);
        }
        if faults.contains(&FaultKind::IgnoreRevocation) {
            let mut reply = Reply::raw(204, "application/json", Vec::new(), rate);
            reply.body = None;
            return (reply, faults);
        }
        let path = req.uri.path();
        let query = req.uri.query().unwrap_or_default();
        let reads_tokens = matches!(route.kind, RouteKind::ListTokens | RouteKind::GetToken);
        let outcome = if reads_tokens && !route.wrong_method {
            let store = self.store_read();
            let omitted: Vec<&str> = (faults.iter())
                .filter_map(|f| match f {
                    FaultKind::OmitToken { token, .. } => Some(token.as_str()),
                    _ => None,
                })
                .collect();
            let id = self.error_id();
            routes::read_tokens(&store, route, (&self.origin, path, query), &id, &omitted)
        } else {
            let mut store = self.store();
            routes::dispatch(
                &mut store,
                route,
                &self.origin,
                path,
                query,
                &self.error_id(),
            )
        };
        if faults.iter().any(|f| matches!(f, FaultKind::HangAfter(_))) {
            self.recorder.decided(request_id, outcome.status, false);
            self.park().await;
        }
        if let Some(status) = faults.iter().find_map(|f| match f {
            FaultKind::AppliedThenStatus(s) => Some(*s),
            _ => None,
        }) {
            return (self.error_reply(status, rate), faults);
        }
        (Reply::from_outcome(outcome, rate), faults)
    }

    /// The reply the first injected fault that replaces the operation's answer gives instead
    /// of it (an error status, a 429, an empty or malformed body), if any.
    fn replacement(&self, faults: &[FaultKind], rate: RateHeaders) -> Option<Reply> {
        faults.iter().find_map(|fault| match fault {
            FaultKind::Status(s) | FaultKind::RevocationStatus(s) => {
                Some(self.error_reply(*s, rate))
            }
            FaultKind::RateLimited { reset_in } => Some(self.error_reply(
                429,
                RateHeaders {
                    limit: rate.limit,
                    remaining: 0,
                    reset: epoch_after(*reset_in),
                },
            )),
            FaultKind::RateLimitedBare { retry_after } => {
                let mut reply = self.error_reply(429, rate);
                reply.not_okta = true;
                reply.retry_after = *retry_after;
                Some(reply)
            }
            FaultKind::ConcurrencyLimited => Some(self.concurrency_reply()),
            // The operation must not run when the client can never hear its outcome.
            FaultKind::ResetConnection => {
                Some(Reply::raw(200, "application/json", Vec::new(), rate))
            }
            FaultKind::GatewayStatus { status, .. } => {
                let mut reply = Reply::raw(
                    *status,
                    "text/html; charset=utf-8",
                    format!("<html><head><title>{status}</title></head><body><h1>{status}</h1><hr>gateway</body></html>").into_bytes(),
                    rate,
                );
                reply.not_okta = true;
                Some(reply)
            }
            FaultKind::MalformedJson => Some(Reply::raw(
                200,
                "application/json",
                b"{\"id\": oar<<not json".to_vec(),
                rate,
            )),
            _ => None,
        })
    }

    /// Never answers: counts and signals the parked request, then waits forever (until the
    /// client goes away or the sim stops).
    async fn park(&self) {
        self.hung.fetch_add(1, Ordering::SeqCst);
        self.hung_signal.notify_waiters();
        std::future::pending::<()>().await;
    }

    /// Okta's concurrency 429: limit and remaining both 0, reset a suggestion one second out.
    fn concurrency_reply(&self) -> Reply {
        self.error_reply(
            429,
            RateHeaders {
                limit: 0,
                remaining: 0,
                reset: epoch_after(Duration::from_secs(1)),
            },
        )
    }
}

fn header_text(req: &Parts, name: &str) -> Option<String> {
    req.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(conn): ConnectInfo<ConnControl>,
    req: Request,
) -> Response {
    if req.method() == axum::http::Method::POST && req.uri().path() == "/oauth2/v1/token" {
        return shared.token_endpoint(req).await;
    }
    let received_at = Instant::now();
    let received_at_utc = Utc::now();
    // Only the head is needed; the body type is not `Sync`, so it must not be held across awaits.
    let (req, _body) = req.into_parts();
    let request_id = shared.request_id();
    let route = routes::parse(&req.method, req.uri.path());
    let arrival = shared.limits.admit();
    // Logged on arrival, so requests parked by hang faults are on record too.
    shared.recorder.arrived(RequestRecord {
        method: req.method.to_string(),
        path_and_query: req
            .uri
            .path_and_query()
            .map_or_else(String::new, ToString::to_string),
        route: route.kind,
        token_id: route.token.clone(),
        status: 0,
        answered: false,
        concurrency: arrival.concurrency,
        received_at,
        received_at_utc,
        request_id: request_id.clone(),
        retry_for: header_text(&req, "x-okta-retry-for"),
        retry_count: header_text(&req, "x-okta-retry-count"),
    });
    let (reply, faults) = match arrival.admitted {
        Some(_in_flight) => shared.serve_admitted(&route, &req, &request_id).await,
        None => (shared.concurrency_reply(), Vec::new()),
    };
    let self_url = format!(
        "{}{}",
        shared.origin,
        req.uri.path_and_query().map_or("", |p| p.as_str())
    );
    let shaped = shape(reply, &faults, &self_url);
    if shaped.strip_date {
        conn.strip_next_date();
    }
    let status = if shaped.reset { 0 } else { shaped.reply.status };
    shared
        .recorder
        .count(route.kind, shaped.reply.status, shaped.reply.rate);
    shared.recorder.decided(&request_id, status, !shaped.reset);
    if shaped.reset {
        conn.kill();
    }
    let mut reply = shaped.reply;
    let okta_now = reply.on_oktas_clock(shared.clock_skew_secs);
    let date = (!shaped.strip_date).then(|| httpdate::fmt_http_date(okta_now));
    reply.into_response(
        &request_id,
        date.as_deref(),
        shared.link_style,
        shaped.duplicate_rate,
    )
}

/// Serve `shared` on `listener` until `stop` fires (or its sender is dropped).
pub(crate) fn spawn(listener: SimListener, shared: Arc<Shared>, stop: oneshot::Receiver<()>) {
    let app = Router::new().fallback(handle).with_state(shared);
    let server = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<ConnControl>(),
    )
    .with_graceful_shutdown(async move {
        // A dropped sender means the last handle is gone: stop as well.
        let _ = stop.await;
    });
    tokio::spawn(async move {
        if let Err(e) = server.await {
            tracing::warn!(error.message = %e, "simulated Okta org stopped with an error");
        }
    });
}
