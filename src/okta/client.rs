//! The Okta HTTP client: one reqwest client built once (rustls, timeouts, no redirects,
//! `User-Agent: revokd/<version>`, `Accept: application/json`), authentication per
//! [`super::auth`] (headers marked sensitive; under OAuth a 401 renews the token and retries
//! once), retries per [`super::retry`], capped bodies,
//! and the operations revokd needs on `/api/v1/users/{userId}/clients…`. It talks HTTP only:
//! no storage, no policy, no logging of errors (callers log them once, where handled).

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use tracing::{debug, warn};
use url::Url;

pub use super::auth::Auth;
use super::auth::{Authorizer, Credential, KeyError, oauth_from_config};
use super::concurrency::{Aimd, Signal};
use super::error::{Error, excerpt, summarise_body};
use super::ids::{ClientId, TokenId, UserId};
use super::model::{self, ObservedToken, OktaErrorBody, UserClient};
use super::page::{Cursor, parse_link_header};
use super::ratelimit::{Budget, BudgetSettings, bucket_of};
use super::retry::{Attempt, RateLimitHeaders, RetryInfo, RetryPolicy, with_retries_unless};
use super::stats::HttpStats;
use crate::config::{self, AuthMode, OktaConfig};

/// Okta's largest page for token listings.
pub const MAX_PAGE_SIZE: u32 = 200;
/// Largest response body read; a page of 200 tokens is well under 1 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
/// Pages followed in one listing before giving up (200 × 10,000 = two million tokens a pair).
pub const MAX_PAGES: usize = 10_000;

/// Client settings, from `[okta]`.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub page_size: u32,
    pub retry: RetryPolicy,
    pub budget: BudgetSettings,
    /// Requests in flight at most; lowered adaptively on Okta's concurrency 429.
    pub concurrency: usize,
    pub max_body_bytes: usize,
}

impl Default for ClientSettings {
    fn default() -> Self {
        ClientSettings {
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            page_size: MAX_PAGE_SIZE,
            retry: RetryPolicy::default(),
            budget: BudgetSettings::default(),
            concurrency: 8,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }
}

/// A client for one Okta org. Cheap to clone; clones share the connection pool and counters.
#[derive(Debug, Clone)]
pub struct OktaClient {
    http: reqwest::Client,
    base: Url,
    auth: Authorizer,
    settings: ClientSettings,
    budget: Arc<Budget>,
    aimd: Arc<Aimd>,
    stats: Arc<HttpStats>,
}

/// A successful response, with Okta's request id.
#[derive(Debug)]
pub(super) struct Reply {
    pub(super) status: StatusCode,
    pub(super) headers: HeaderMap,
    pub(super) body: String,
    pub(super) request_id: Option<String>,
}

/// One page of a token listing.
#[derive(Debug)]
pub struct TokenPage {
    pub tokens: Vec<ObservedToken>,
    pub request_id: Option<String>,
    pub rate_limit: RateLimitHeaders,
}

impl OktaClient {
    /// Builds the client. `base_url` is the org URL (`https://{yourOktaDomain}`); tests point
    /// it at the simulated org.
    pub fn new(base_url: Url, auth: &Auth, settings: ClientSettings) -> Result<Self, Error> {
        let mut defaults = HeaderMap::new();
        defaults.insert(ACCEPT, HeaderValue::from_static("application/json"));
        let http = reqwest::Client::builder()
            .user_agent(concat!(
                env!("CARGO_PKG_NAME"),
                "/",
                env!("CARGO_PKG_VERSION")
            ))
            .default_headers(defaults)
            .timeout(settings.timeout)
            .connect_timeout(settings.connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(Error::Transport)?;
        let auth = Authorizer::new(auth, &base_url, &settings.retry)?;
        let budget = Arc::new(Budget::new(settings.budget));
        let settings_concurrency = settings.concurrency;
        Ok(OktaClient {
            http,
            base: base_url,
            auth,
            settings,
            budget,
            aimd: Arc::new(Aimd::new(settings_concurrency)),
            stats: Arc::default(),
        })
    }

    /// Carries `old`'s pacing into this client, under this client's settings: what is known
    /// of each rate-limit bucket and revokd's requests in flight to any of them. A reload
    /// builds a new client; with this, the process keeps one view of Okta's buckets, so runs
    /// on the old and the new configuration together still take no more than one share.
    pub fn carry_pacing_from(&mut self, old: &OktaClient) {
        old.budget.put_in_force(self.settings.budget);
        self.budget = Arc::clone(&old.budget);
    }

    /// The client `[okta]` describes. Configuration problems name their key.
    pub fn from_config(okta: &OktaConfig) -> Result<Self, config::Error> {
        let org = okta.org_url.as_deref().unwrap_or_default();
        let base =
            Url::parse(org).map_err(|e| config::Error::invalid("okta.org_url", e.to_string()))?;
        let auth = match okta.auth {
            AuthMode::Oauth => oauth_from_config(okta)?,
            AuthMode::Ssws => Auth::Ssws(okta.api_token.clone().ok_or_else(|| {
                config::Error::invalid("okta.api_token", "required with auth = \"ssws\"")
            })?),
        };
        let settings = ClientSettings {
            timeout: okta.timeout,
            page_size: okta.page_size,
            retry: RetryPolicy {
                max_retries: okta.max_retries,
                min_backoff: okta.min_backoff,
                max_backoff: okta.max_backoff,
                rate_limit_jitter: okta.max_backoff.min(Duration::from_secs(1)),
            },
            budget: BudgetSettings {
                max_share: okta.rate_limit.max_share,
                requests_per_minute: okta.rate_limit.requests_per_minute,
                // A window is at most a minute; this only guards against a bogus Reset.
                max_wait: Duration::from_secs(120),
            },
            concurrency: okta.concurrency,
            ..ClientSettings::default()
        };
        OktaClient::new(base, &auth, settings).map_err(|e| {
            config::Error::invalid("okta", format!("cannot build the HTTP client: {e}"))
        })
    }

    /// A clone that counts into fresh counters (one per sweep).
    pub fn with_fresh_stats(&self) -> (OktaClient, Arc<HttpStats>) {
        let stats = Arc::new(HttpStats::default());
        (
            OktaClient {
                stats: Arc::clone(&stats),
                ..self.clone()
            },
            stats,
        )
    }

    /// The org URL.
    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// Tokens asked for per page.
    pub(super) fn page_size(&self) -> u32 {
        self.settings.page_size
    }

    pub(super) fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        url.set_query(None);
        if let Ok(mut path) = url.path_segments_mut() {
            path.clear().extend(segments);
        }
        url
    }

    pub(super) fn tokens_url(&self, user: &UserId, client: &ClientId) -> Url {
        self.url(&[
            "api",
            "v1",
            "users",
            user.as_str(),
            "clients",
            client.as_str(),
            "tokens",
        ])
    }

    /// The first page URL of `GET /api/v1/users/{userId}/clients/{clientId}/tokens`.
    pub fn first_tokens_page(&self, user: &UserId, client: &ClientId) -> Url {
        let mut url = self.tokens_url(user, client);
        url.query_pairs_mut()
            .append_pair("expand", "scope")
            .append_pair("limit", &self.settings.page_size.to_string());
        url
    }

    /// Lists a pair's refresh tokens page by page (`expand=scope`, `limit` = page size),
    /// following `Link rel="next"` verbatim.
    pub fn list_tokens(&self, user: &UserId, client: &ClientId) -> TokenPages<'_> {
        self.pages_from(self.first_tokens_page(user, client))
    }

    /// The pages of a token listing that starts at `first` (on this org's origin).
    pub(super) fn pages_from(&self, first: Url) -> TokenPages<'_> {
        TokenPages {
            cursor: Cursor::new(&self.base, &first, MAX_PAGES),
            next: Some(first),
            client: self,
        }
    }

    /// Fetches one page of tokens from a URL (the first page or a vetted `next` link).
    async fn token_page(&self, url: &Url) -> Result<(TokenPage, Option<String>), Error> {
        let reply = self.execute(Method::GET, url.clone()).await?;
        let next = parse_link_header(&reply.headers);
        let tokens = model::decode_tokens(&reply.body).map_err(|source| Error::Decode {
            source,
            body: excerpt(&reply.body),
            request_id: reply.request_id.clone(),
        })?;
        let rate_limit = RateLimitHeaders::parse(&reply.headers);
        Ok((
            TokenPage {
                tokens,
                request_id: reply.request_id,
                rate_limit,
            },
            next,
        ))
    }

    /// `GET …/tokens/{tokenId}?expand=scope`; `None` when Okta answers 404.
    pub async fn get_token(
        &self,
        user: &UserId,
        client: &ClientId,
        token: &TokenId,
    ) -> Result<Option<ObservedToken>, Error> {
        let mut url = self.tokens_url(user, client);
        if let Ok(mut p) = url.path_segments_mut() {
            p.push(token.as_str());
        }
        url.query_pairs_mut().append_pair("expand", "scope");
        let reply = match self.execute(Method::GET, url).await {
            Err(e) if e.is_not_found() => return Ok(None),
            other => other?,
        };
        let token = model::decode(&reply.body).map_err(|source| Error::Decode {
            source,
            body: excerpt(&reply.body),
            request_id: reply.request_id.clone(),
        })?;
        Ok(Some(ObservedToken {
            token,
            raw_json: reply.body,
        }))
    }

    /// `GET /api/v1/users/{userId}/clients`: the clients the user holds tokens for.
    pub async fn list_user_clients(&self, user: &UserId) -> Result<Vec<UserClient>, Error> {
        let url = self.url(&["api", "v1", "users", user.as_str(), "clients"]);
        let reply = self.execute(Method::GET, url).await?;
        model::decode(&reply.body).map_err(|source| Error::Decode {
            source,
            body: excerpt(&reply.body),
            request_id: reply.request_id,
        })
    }

    /// Sends one logical request with retries; every method revokd uses is idempotent. Under
    /// OAuth, a 401 (expired or revoked access token) renews the token and sends once more.
    pub(super) async fn execute(&self, method: Method, url: Url) -> Result<Reply, Error> {
        let mut renewed = false;
        loop {
            let credential = self.auth.credential(&self.http, &self.stats).await?;
            let (response, attempts, maybe_applied) = self.send(&method, &url, &credential).await?;
            if response.status() == StatusCode::UNAUTHORIZED
                && !renewed
                && self.auth.unauthorized(&credential).await
            {
                debug!(http.method = %method, http.path = url.path(), "access token refused; renewing it once");
                renewed = true;
                continue;
            }
            if method == Method::DELETE
                && maybe_applied
                && response.status() == StatusCode::NOT_FOUND
            {
                // An earlier attempt may have reached Okta and taken effect; the caller records
                // the revocation as done, not as already gone.
                return Ok(Reply {
                    status: response.status(),
                    headers: response.headers().clone(),
                    request_id: Attempt::request_id(&response),
                    body: String::new(),
                });
            }
            return self
                .finish(&method, &url, &credential, response, attempts)
                .await;
        }
    }

    /// One credential's attempts at a request, with retries.
    async fn send(
        &self,
        method: &Method,
        url: &Url,
        credential: &Credential,
    ) -> Result<(reqwest::Response, u32, bool), Error> {
        let path = url.path().to_owned();
        let bucket = bucket_of(method, &path);
        // Whether a failed attempt may have reached Okta (a 5xx or a transport fault, not a 429).
        let maybe_applied = std::sync::atomic::AtomicBool::new(false);
        let (result, attempts) = with_retries_unless(
            &self.settings.retry,
            true,
            |info| self.send_once(method.clone(), url.clone(), &bucket, info, credential),
            |delay, attempt, status| {
                if status != Some(429) {
                    maybe_applied.store(true, std::sync::atomic::Ordering::Relaxed);
                }
                self.stats.waited(delay.kind, delay.wait);
                warn!(
                    http.method = %method,
                    http.path = %path,
                    http.status = status,
                    attempt,
                    wait.kind = delay.kind.as_str(),
                    http.retry_in_ms = u64::try_from(delay.wait.as_millis()).unwrap_or(u64::MAX),
                    "Okta request will be retried"
                );
            },
            // Okta has never answered: a connect error (DNS, refused, TLS) says it is out of
            // reach, and retrying would only delay saying so.
            |e| matches!(e, SendError::Transport(t) if t.is_connect()) && !self.stats.answered(),
        )
        .await;
        match result {
            Ok(response) => Ok((
                response,
                attempts,
                maybe_applied.load(std::sync::atomic::Ordering::Relaxed),
            )),
            Err(SendError::Transport(e)) => Err(Error::Transport(e)),
            Err(SendError::Key(e)) => Err(Error::Auth {
                reason: Box::new(super::auth::AuthError::Key(e.to_string())),
                status: None,
                request_id: None,
            }),
        }
    }

    /// Turns the final response into a [`Reply`] or an [`Error`].
    async fn finish(
        &self,
        method: &Method,
        url: &Url,
        credential: &Credential,
        response: reqwest::Response,
        attempts: u32,
    ) -> Result<Reply, Error> {
        let status = response.status();
        let request_id = Attempt::request_id(&response);
        if status == StatusCode::TOO_MANY_REQUESTS {
            return Err(Error::RateLimited {
                attempts,
                request_id,
            });
        }
        let headers = response.headers().clone();
        let body = self.read_body(response, request_id.as_deref()).await?;
        if !status.is_success() {
            let body = model::decode::<OktaErrorBody>(&body).unwrap_or_else(|_| OktaErrorBody {
                error_summary: Some(summarise_body(
                    headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()),
                    &body,
                )),
                ..OktaErrorBody::default()
            });
            if status == StatusCode::FORBIDDEN
                && let Some(reason) = self.auth.forbidden(credential, method, url.path(), &body)
            {
                return Err(Error::Auth {
                    reason: Box::new(reason),
                    status: Some(403),
                    request_id,
                });
            }
            return Err(Error::Api {
                status: status.as_u16(),
                body,
                request_id,
            });
        }
        if status != StatusCode::NO_CONTENT && !is_json(&headers) {
            return Err(Error::Refused {
                reason: format!(
                    "expected application/json, got {}",
                    headers
                        .get(CONTENT_TYPE)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("no content type")
                ),
                request_id,
            });
        }
        Ok(Reply {
            status,
            headers,
            body,
            request_id,
        })
    }

    async fn send_once(
        &self,
        method: Method,
        url: Url,
        bucket: &str,
        info: RetryInfo,
        credential: &Credential,
    ) -> Result<reqwest::Response, SendError> {
        let held = self.stats.held_back();
        let ticket = self.budget.acquire(bucket).await;
        drop(held);
        if !ticket.waited.is_zero() {
            self.stats.budget_waited(ticket.waited);
        }
        let permit = self.aimd.acquire().await;
        let auth = self
            .auth
            .headers(credential, &method, &url)
            .map_err(SendError::Key)?;
        let mut request = self.http.request(method, url).headers(auth);
        if info.retry_count > 0 {
            request = request.header("X-Okta-Retry-Count", info.retry_count);
            if let Some(id) = &info.retry_for {
                request = request.header("X-Okta-Retry-For", id);
            }
        }
        self.stats.request_sent();
        match request.send().await {
            Ok(response) => {
                let rl = RateLimitHeaders::parse(response.headers());
                let status = response.status().as_u16();
                let concurrency = status == 429 && rl.is_concurrency_signal();
                permit.finish(if concurrency {
                    Signal::Concurrency
                } else {
                    Signal::Other
                });
                ticket.complete(&rl, status);
                self.stats.status_seen(status, concurrency);
                count_request(bucket, &status.to_string());
                Ok(response)
            }
            Err(e) => {
                self.stats.transport_failed();
                count_request(bucket, "error");
                Err(SendError::Transport(e))
            }
        }
    }

    /// Reads a body up to the size cap; a larger one is refused, not buffered.
    async fn read_body(
        &self,
        mut response: reqwest::Response,
        request_id: Option<&str>,
    ) -> Result<String, Error> {
        let cap = self.settings.max_body_bytes;
        let refused = || Error::Refused {
            reason: format!("response body larger than {cap} bytes"),
            request_id: request_id.map(str::to_owned),
        };
        if response.content_length().is_some_and(|n| n > cap as u64) {
            return Err(refused());
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(Error::Transport)? {
            if bytes.len() + chunk.len() > cap {
                return Err(refused());
            }
            bytes.extend_from_slice(&chunk);
        }
        String::from_utf8(bytes).map_err(|_| Error::Refused {
            reason: "response body is not UTF-8".into(),
            request_id: request_id.map(str::to_owned),
        })
    }
}

/// Why one attempt produced no response.
enum SendError {
    Transport(reqwest::Error),
    /// The auth headers could not be built (signing a DPoP proof failed).
    Key(KeyError),
}

/// Counts one Okta request by operation (bucket) and status, for `/metrics`.
fn count_request(bucket: &str, status: &str) {
    metrics::counter!(
        super::stats::REQUESTS_METRIC,
        "operation" => bucket.to_owned(),
        "status" => status.to_owned()
    )
    .increment(1);
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|mime| {
            let mime = mime.trim().to_ascii_lowercase();
            mime == "application/json" || mime.ends_with("+json")
        })
}

/// The pages of one token listing. Call [`TokenPages::next_page`] until it returns `None`.
pub struct TokenPages<'c> {
    client: &'c OktaClient,
    cursor: Cursor,
    next: Option<Url>,
}

impl TokenPages<'_> {
    /// The URL of the page [`TokenPages::next_page`] fetches next (Okta's `next` link after
    /// the first page), or `None` once the listing is complete.
    pub fn next_url(&self) -> Option<&Url> {
        self.next.as_ref()
    }

    /// The next page, or `None` after the last. A `next` link that is foreign, loops or
    /// runs past the page cap ends the listing with [`Error::Refused`].
    pub async fn next_page(&mut self) -> Result<Option<TokenPage>, Error> {
        let Some(url) = self.next.take() else {
            return Ok(None);
        };
        let (page, next) = self.client.token_page(&url).await?;
        if let Some(next) = next {
            let url = self
                .cursor
                .advance(&next)
                .map_err(|refusal| Error::Refused {
                    reason: refusal.to_string(),
                    request_id: page.request_id.clone(),
                })?;
            self.next = Some(url);
        }
        Ok(Some(page))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    #[test]
    fn debug_output_never_shows_the_token() {
        let auth = Auth::Ssws(SecretString::from("00SECRETsecret-token-value"));
        let client = OktaClient::new(
            Url::parse("https://o.okta.com").unwrap(),
            &auth,
            ClientSettings::default(),
        )
        .unwrap();
        let shown = format!("{auth:?} {client:?}");
        assert!(!shown.contains("00SECRET"), "{shown}");
    }

    #[test]
    fn a_client_built_by_a_reload_paces_with_the_buckets_of_the_one_before() {
        let auth = Auth::Ssws(SecretString::from("t"));
        let url = Url::parse("https://o.okta.com/").unwrap();
        let old = OktaClient::new(url.clone(), &auth, ClientSettings::default()).unwrap();
        let mut new = OktaClient::new(url, &auth, ClientSettings::default()).unwrap();
        assert!(!Arc::ptr_eq(&old.budget, &new.budget));
        new.carry_pacing_from(&old);
        assert!(Arc::ptr_eq(&old.budget, &new.budget));
    }

    #[test]
    fn ids_are_placed_as_path_segments_with_expand_and_limit() {
        let auth = Auth::Ssws(SecretString::from("t"));
        let client = OktaClient::new(
            Url::parse("https://o.okta.com/").unwrap(),
            &auth,
            ClientSettings::default(),
        )
        .unwrap();
        let url = client.first_tokens_page(
            &UserId::new("00u1").unwrap(),
            &ClientId::new("0oa2").unwrap(),
        );
        assert_eq!(
            url.as_str(),
            "https://o.okta.com/api/v1/users/00u1/clients/0oa2/tokens?expand=scope&limit=200"
        );
    }
}
