//! Plain data the simulated org exposes to its users: tokens as tests see them, revocation
//! records, statistics, the request log and the fault-injection vocabulary. No behaviour
//! lives here beyond small accessors.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

/// An ACTIVE refresh token as the org holds it (the fields of Okta's `OAuth2RefreshToken`
/// that vary per token; `status` is always `ACTIVE` and `_links` are derived).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimToken {
    /// Token id, `oar` + 17 alphanumerics for seeded tokens.
    pub id: String,
    /// Owning user's id (`00u…`).
    pub user_id: String,
    /// The client's `client_id` (`0oa…`).
    pub client_id: String,
    /// Custom authorization server URL, `{base}oauth2/aus…`.
    pub issuer: String,
    /// Scope names; seeded tokens always include `offline_access`.
    pub scopes: Vec<String>,
    /// Creation time, millisecond precision.
    pub created: DateTime<Utc>,
    /// Last use or rotation, between `created` and the seeding `now`.
    pub last_updated: DateTime<Utc>,
    /// Expiry; `None` for non-expiring tokens (then omitted from the JSON).
    pub expires_at: Option<DateTime<Utc>>,
}

/// How a token was revoked through the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevokeHow {
    /// `DELETE …/tokens/{tokenId}`.
    Single,
    /// `DELETE …/tokens` (every token of the pair).
    AllForPair,
    /// `DELETE /api/v1/apps/{appId}/tokens` (every token of the app).
    AllForApp,
}

/// A token revoked through the API, with how and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedToken {
    /// The token as it was when revoked.
    pub token: SimToken,
    /// Which DELETE revoked it.
    pub how: RevokeHow,
    /// Wall-clock time of the revocation.
    pub at: DateTime<Utc>,
}

/// The kind of route a request hit; also the rate-limit bucket (method + path template).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RouteKind {
    /// `GET /api/v1/users/{id}/clients`.
    ListClients,
    /// `GET /api/v1/users/{id}/clients/{id}/tokens`.
    ListTokens,
    /// `DELETE /api/v1/users/{id}/clients/{id}/tokens`.
    RevokeAll,
    /// `GET /api/v1/users/{id}/clients/{id}/tokens/{id}`.
    GetToken,
    /// `DELETE /api/v1/users/{id}/clients/{id}/tokens/{id}`.
    RevokeToken,
    /// Anything else (answered 404 or 405).
    Other,
    /// `POST /oauth2/v1/token` (the OAuth token endpoint).
    Token,
    /// `GET /api/v1/logs` (the System Log).
    Logs,
    /// `GET /api/v1/apps/{appId}/tokens` (every user's tokens of the app).
    AppListTokens,
    /// `GET /api/v1/apps/{appId}/tokens/{tokenId}`.
    AppGetToken,
    /// `DELETE /api/v1/apps/{appId}/tokens/{tokenId}`.
    AppRevokeToken,
    /// `DELETE /api/v1/apps/{appId}/tokens` (every token of the app).
    AppRevokeAll,
    /// `GET /api/v1/users/{id}` (getUser: the user's status).
    GetUser,
}

impl RouteKind {
    /// Whether the route is under `/api/v1/apps`, which Okta meters in a bucket of its own.
    pub fn is_apps(self) -> bool {
        matches!(
            self,
            RouteKind::AppListTokens
                | RouteKind::AppGetToken
                | RouteKind::AppRevokeToken
                | RouteKind::AppRevokeAll
        )
    }
}

/// Counters of what the org has served.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Every request answered (or reset), whatever the status.
    pub requests: u64,
    /// Requests by route kind.
    pub by_route: BTreeMap<RouteKind, u64>,
    /// 429s for an exhausted rate-limit bucket (including injected ones).
    pub rate_limited: u64,
    /// 429s for the concurrency limit (including injected ones).
    pub concurrency_limited: u64,
    /// 5xx responses served.
    pub server_errors: u64,
    /// Highest number of admitted requests in flight at once.
    pub peak_concurrency: usize,
    /// Highest number of requests in flight at any arrival, counting the arriving request
    /// whether it was admitted or refused: what the client sent at once.
    pub peak_arrivals: usize,
    /// Requests in flight right now.
    pub in_flight: usize,
}

impl SimStats {
    /// Requests served for one route kind.
    pub fn route(&self, kind: RouteKind) -> u64 {
        self.by_route.get(&kind).copied().unwrap_or(0)
    }
}

/// One entry of the request log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// HTTP method, e.g. `GET`.
    pub method: String,
    /// Path plus query, as received.
    pub path_and_query: String,
    /// Route kind the path matched.
    pub route: RouteKind,
    /// The token id the path names (`…/tokens/{tokenId}`), percent-decoded.
    pub token_id: Option<String>,
    /// The status the org decided on: sent, or withheld by a `HangAfter` fault (a revocation
    /// then took effect unanswered); `0` when the connection was reset, or while the request is
    /// parked before its operation ran.
    pub status: u16,
    /// Whether a response was sent.
    pub answered: bool,
    /// Requests in flight when it arrived, itself included, whether it was admitted or
    /// refused for concurrency; `0` for the token endpoint, which is not throttled.
    pub concurrency: usize,
    /// When the request arrived (monotonic).
    pub received_at: Instant,
    /// When the request arrived (wall clock).
    pub received_at_utc: DateTime<Utc>,
    /// The `X-Okta-Request-Id` sent back.
    pub request_id: String,
    /// `X-Okta-Retry-For` as sent by the client, if any.
    pub retry_for: Option<String>,
    /// `X-Okta-Retry-Count` as sent by the client, if any.
    pub retry_count: Option<String>,
}

/// How `Link` relations are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LinkStyle {
    /// One `Link` header line per relation (Okta's form).
    #[default]
    Separate,
    /// One comma-joined `Link` header.
    Joined,
    /// One header per relation, each link an absolute-path reference (`</api/v1/…>`), which
    /// RFC 8288 allows and Okta does not promise never to send.
    Relative,
}

/// A fault to inject into matching requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// Only requests whose path names this user; `None` matches every request.
    pub user: Option<String>,
    /// Only requests whose path also names this client; `None` matches any.
    pub client: Option<String>,
    /// What goes wrong.
    pub kind: FaultKind,
    /// How many matching requests it applies to; `None` means every one, forever.
    pub times: Option<u32>,
}

impl FaultKind {
    /// The routes this kind is limited to, if any; others do not consume the fault's `times`.
    pub(crate) fn applies_to(&self, route: RouteKind) -> bool {
        match self {
            // Tokens are issued to a user and client: an app's revocations are not theirs.
            FaultKind::IssuedFirst => {
                matches!(route, RouteKind::RevokeToken | RouteKind::RevokeAll)
            }
            FaultKind::IgnoreRevocation
            | FaultKind::RevocationStatus(_)
            | FaultKind::AppliedThenStatus(_) => {
                matches!(
                    route,
                    RouteKind::RevokeToken
                        | RouteKind::RevokeAll
                        | RouteKind::AppRevokeToken
                        | RouteKind::AppRevokeAll
                )
            }
            FaultKind::OmitToken { .. } => route == RouteKind::ListTokens,
            FaultKind::HangBefore(r)
            | FaultKind::HangAfter(r)
            | FaultKind::HangBeforeNth { route: r, .. }
            | FaultKind::GatewayStatus { route: r, .. } => *r == route,
            _ => true,
        }
    }
}

impl Fault {
    /// A fault on every request, forever.
    pub fn always(kind: FaultKind) -> Fault {
        Fault {
            user: None,
            client: None,
            kind,
            times: None,
        }
    }

    /// A fault on the next `times` requests.
    pub fn times(kind: FaultKind, times: u32) -> Fault {
        Fault {
            user: None,
            client: None,
            kind,
            times: Some(times),
        }
    }
}

/// What an injected fault does. Response-shaping faults (links, headers, bodies) apply to the
/// response the request would otherwise get; the others replace it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultKind {
    /// That status with an Okta error body (500 → E0000009, 503 → E0000010, …).
    Status(u16),
    /// 429 E0000047 with `X-Rate-Limit-Remaining: 0` and Reset = now + `reset_in`, rounded up.
    RateLimited {
        /// How far in the future the reset lies.
        reset_in: Duration,
    },
    /// 429 E0000047 without any `X-Rate-Limit-*` header (an edge or a proxy that strips
    /// them), with `Retry-After: N` seconds when given.
    RateLimitedBare { retry_after: Option<u64> },
    /// Okta's concurrency 429: `X-Rate-Limit-Limit: 0`, `-Remaining: 0`, Reset = now + 1 s.
    ConcurrencyLimited,
    /// Extra delay, counted as in flight; the response is otherwise normal.
    Latency(Duration),
    /// 200, `application/json`, a body that is not JSON.
    MalformedJson,
    /// The normal JSON body cut in half (Content-Length matches the cut body).
    TruncatedBody,
    /// `rel="next"` is exactly this URL (normally on another origin).
    ForeignNextLink(url::Url),
    /// `rel="next"` repeats the request's own URL.
    CursorLoop,
    /// Every `X-Rate-Limit-*` header twice: the true value, then a larger one.
    DuplicateRateLimitHeaders,
    /// The response carries no `Date` header.
    MissingDateHeader,
    /// 200 with a valid JSON array body of at least that many bytes.
    OversizedBody(usize),
    /// 200 with `Content-Type: text/html` and an HTML body.
    WrongContentType,
    /// The connection is closed without any response.
    ResetConnection,
    /// The headers (with the whole body's `Content-Length`) and the first half of the body
    /// are sent, then the connection is broken off: a page cut short mid-stream.
    CutBody,
    /// A revocation (`DELETE` of one token or of all the pair's) answered 204 without
    /// revoking anything: the "a 204 is not proof" case.
    IgnoreRevocation,
    /// Revocations (`DELETE` of one token or of all) answered with this status and Okta's
    /// error body, while listings of the pair work.
    RevocationStatus(u16),
    /// Revocations that take effect and are then answered with this status and Okta's error
    /// body: a 5xx does not say the change did not happen.
    AppliedThenStatus(u16),
    /// A token is issued to the pair just before a revocation (`DELETE` of one token or of
    /// all) runs: its client refreshed while the request was on its way, so no listing before
    /// the revocation showed the token.
    IssuedFirst,
    /// The matching request of this route is received and never answered: the sim parks it
    /// before running the operation (and signals [`super::SimOrg::hung`]).
    HangBefore(RouteKind),
    /// Like `HangBefore`, once `after` matching requests of the route have passed untouched:
    /// a listing stopped half-way, at a known page.
    HangBeforeNth { route: RouteKind, after: u32 },
    /// Like `HangBefore`, but the operation runs first (a revocation takes effect) and only
    /// the answer is withheld.
    HangAfter(RouteKind),
    /// A listing of the pair (`GET …/clients/{id}/tokens`) leaves out this token although the
    /// org still holds it (a lagging read), once `after` listings of the pair have passed
    /// untouched; GETs and DELETEs of the token still find it.
    OmitToken { token: String, after: u32 },
    /// Requests of this route answered with this status by something in front of Okta (a
    /// gateway, a proxy, a host that is not Okta): an HTML body without Okta's error code or
    /// rate-limit headers.
    /// The operation does not run.
    GatewayStatus { route: RouteKind, status: u16 },
}

/// A service app registered with the sim (Okta: an API Services app with a public key,
/// granted Okta API scopes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceApp {
    /// Its client id (`0oa…`).
    pub client_id: String,
    /// Its public key: `PUBLIC KEY` / `RSA PUBLIC KEY` PEM, or a public JWK.
    pub public_key: String,
    /// Scopes granted to it.
    pub scopes: Vec<String>,
    /// Require DPoP-bound tokens (Okta's "Require DPoP header in token requests").
    pub require_dpop: bool,
}

/// What the token endpoint and the token check have done.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OAuthStats {
    /// Access tokens issued.
    pub tokens_issued: u64,
    /// Token requests refused, by reason (e.g. `"bad signature"`, `"jti already used"`).
    pub refused: BTreeMap<String, u64>,
    /// `use_dpop_nonce` challenges sent.
    pub nonce_challenges: u64,
    /// API calls refused 401 for an unknown, expired or wrongly presented access token.
    pub api_unauthorized: u64,
    /// API calls refused 403 for a missing scope.
    pub api_forbidden: u64,
}

impl OAuthStats {
    /// Refusals for one reason.
    pub fn refused_for(&self, reason: &str) -> u64 {
        self.refused.get(reason).copied().unwrap_or(0)
    }
}
