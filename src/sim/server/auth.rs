//! Who may call the simulated org: `SSWS <api token>` or an access token the token endpoint
//! issued, with the scope each route needs (and DPoP when the app is bound to it); and
//! `POST /oauth2/v1/token` itself, answered by `oauth` outside the API's rate limits but
//! counted and logged like every request.

use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::http::request::Parts;
use axum::response::Response;
use chrono::Utc;

use super::{Shared, header_text};
use crate::sim::limits::{RateHeaders, epoch_after};
use crate::sim::types::{RequestRecord, RouteKind};

/// The scope each operation's `security` names in the management spec: `listLogEvents`
/// `okta.logs.read`; the ApplicationTokens operations `okta.apps.read` / `okta.apps.manage`;
/// the user's clients and tokens `okta.users.read` / `okta.users.manage`. Kept apart from the
/// client's own table, so that a client mistake shows as a refusal.
fn needed_scope(method: &axum::http::Method, path: &str) -> &'static str {
    let get = method == axum::http::Method::GET;
    if path == "/api/v1/logs" || path.starts_with("/api/v1/logs/") {
        "okta.logs.read"
    } else if path.starts_with("/api/v1/apps/") {
        if get {
            "okta.apps.read"
        } else {
            "okta.apps.manage"
        }
    } else if get {
        "okta.users.read"
    } else {
        "okta.users.manage"
    }
}

impl Shared {
    /// `SSWS <api_token>`, or an access token the token endpoint issued (`Err(401)` / `Err(403)`).
    pub(super) fn authorize(&self, req: &Parts) -> Result<(), u16> {
        let value = req
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or(401_u16)?;
        if let Some(token) = value.strip_prefix("SSWS ") {
            return if token == self.api_token {
                Ok(())
            } else {
                Err(401)
            };
        }
        let htu = format!("{}{}", self.origin, req.uri.path());
        let needed = needed_scope(&req.method, req.uri.path());
        let dpop = header_text(req, "dpop");
        self.oauth
            .authorize(value, dpop.as_deref(), req.method.as_str(), &htu, needed)
    }

    /// `POST /oauth2/v1/token`: the OAuth token endpoint, outside the API's limits.
    pub(super) async fn token_endpoint(&self, req: Request) -> Response {
        let received_at = (Instant::now(), Utc::now());
        let (parts, body) = req.into_parts();
        let request_id = self.request_id();
        let body = axum::body::to_bytes(body, 64 * 1024)
            .await
            .unwrap_or_default();
        let token_url = format!("{}/oauth2/v1/token", self.origin);
        let dpop = header_text(&parts, "dpop");
        let reply = self
            .oauth
            .token_endpoint(&token_url, dpop.as_deref(), &body);
        let unlimited = RateHeaders {
            limit: u32::MAX,
            remaining: u32::MAX,
            reset: epoch_after(Duration::from_secs(60)),
        };
        self.recorder
            .count(RouteKind::Token, reply.status, unlimited);
        self.recorder.arrived(RequestRecord {
            method: parts.method.to_string(),
            path_and_query: parts
                .uri
                .path_and_query()
                .map_or_else(String::new, ToString::to_string),
            route: RouteKind::Token,
            token_id: None,
            status: reply.status,
            answered: true,
            concurrency: 0,
            received_at: received_at.0,
            received_at_utc: received_at.1,
            request_id: request_id.clone(),
            retry_for: header_text(&parts, "x-okta-retry-for"),
            retry_count: header_text(&parts, "x-okta-retry-count"),
        });
        let mut response = Response::new(axum::body::Body::from(reply.body.to_string()));
        *response.status_mut() = axum::http::StatusCode::from_u16(reply.status)
            .unwrap_or(axum::http::StatusCode::BAD_REQUEST);
        let h = response.headers_mut();
        let pairs = [
            ("content-type", Some("application/json".to_owned())),
            ("cache-control", Some("no-store".to_owned())),
            ("x-okta-request-id", Some(request_id)),
            ("dpop-nonce", reply.nonce),
        ];
        for (name, value) in pairs {
            if let Some(v) = value.and_then(|v| axum::http::HeaderValue::from_str(&v).ok()) {
                h.insert(name, v);
            }
        }
        response
    }
}
