//! The access token: obtained from the org authorization server's token endpoint
//! (`{org}/oauth2/v1/token`, client credentials with a `private_key_jwt` assertion), cached,
//! and renewed before it expires. One `tokio::sync::Mutex` around the cache makes renewal
//! single-flight: concurrent requests wait for the one renewal instead of each minting a token.
//!
//! The token endpoint exchange, per attempt:
//! * 5xx, 429 and transport faults are retried per [`crate::okta::retry`], each attempt with a
//!   fresh assertion (a `jti` is never sent twice).
//! * 400 `use_dpop_nonce` with a `DPoP-Nonce` header: sent once more with that nonce.
//! * `invalid_client`: sent once more with a fresh assertion (covers a `jti` the server took
//!   for a replay), then reported as [`AuthError::ClientRefused`].
//! * any other error body: reported at once, naming the OAuth error.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{CONTENT_TYPE, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio::sync::Mutex;
use tracing::{debug, warn};
use url::Url;

use super::dpop::{DpopKey, ProofFor};
use super::keys::{KeyError, SigningKey};
use super::token_refusal::{ErrorResponse, Resends};
use super::{AuthError, assertion};
use crate::okta::error::Error;
use crate::okta::retry::{Attempt, RetryPolicy, with_retries_unless};
use crate::okta::stats::HttpStats;

/// Most renewal lead time: renew when five minutes of the token's life remain (as
/// okta-sdk-python's `oauthTokenRenewalOffset`).
pub const MAX_RENEWAL_MARGIN: Duration = Duration::from_secs(300);

/// How long before expiry a token of this lifetime is renewed: five minutes, or a tenth of
/// the lifetime for tokens shorter than fifty minutes.
pub fn renewal_margin(lifetime: Duration) -> Duration {
    MAX_RENEWAL_MARGIN.min(lifetime / 10)
}

/// Whether a token `age` old with this `lifetime` should be renewed before use.
pub fn needs_renewal(age: Duration, lifetime: Duration) -> bool {
    age + renewal_margin(lifetime) >= lifetime
}

/// How the token is presented on API calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `Authorization: Bearer <token>`.
    Bearer,
    /// `Authorization: DPoP <token>` plus a `DPoP` proof.
    Dpop,
}

/// A cached access token.
#[derive(Debug)]
pub struct AccessToken {
    pub(super) value: SecretString,
    pub(super) scheme: Scheme,
    /// Granted scopes, from the response's `scope` (else the requested ones).
    pub(super) scopes: Vec<String>,
    obtained: Instant,
    lifetime: Duration,
    generation: u64,
}

#[derive(Debug, Default)]
struct State {
    token: Option<Arc<AccessToken>>,
    /// The last `DPoP-Nonce` the token endpoint sent.
    nonce: Option<String>,
    generation: u64,
    /// The endpoint's last refusal of the app's credentials or scopes, when it came, and its
    /// request id: told to the callers of the next [`REFUSAL_MEMORY`] without asking again.
    refused: Option<(Instant, AuthError, Option<String>)>,
}

/// How long a refusal of the credentials or scopes answers for the endpoint: long enough for
/// the requests of one burst (a run's listings in flight, which wait on the same fetch) to get
/// it without a token request each, short enough that a fix in Okta is seen at once.
const REFUSAL_MEMORY: Duration = Duration::from_secs(10);

/// The token endpoint's success body (RFC 6749 §5.1).
#[derive(Deserialize)]
struct TokenResponse {
    token_type: String,
    expires_in: u64,
    access_token: SecretString,
    scope: Option<String>,
}

enum SendError {
    Key(KeyError),
    Http(reqwest::Error),
}

/// Largest token-endpoint body read.
const MAX_BODY: usize = 64 * 1024;

/// Mints, caches and renews access tokens for one service app.
#[derive(Debug)]
pub struct TokenSource {
    pub(super) client_id: String,
    pub(super) key: SigningKey,
    pub(super) scopes: Vec<String>,
    pub(super) token_url: Url,
    pub(super) dpop: Option<DpopKey>,
    pub(super) retry: RetryPolicy,
    state: Mutex<State>,
}

impl TokenSource {
    pub(super) fn new(
        settings: &super::OAuthSettings,
        token_url: Url,
        retry: RetryPolicy,
    ) -> Result<TokenSource, KeyError> {
        Ok(TokenSource {
            client_id: settings.client_id.clone(),
            key: settings.key.clone(),
            scopes: settings.scopes.clone(),
            token_url,
            dpop: settings.dpop.then(DpopKey::generate).transpose()?,
            retry,
            state: Mutex::default(),
        })
    }

    /// A token good for the next request: the cached one, or a new one (single-flight).
    pub async fn token(
        &self,
        http: &reqwest::Client,
        stats: &HttpStats,
    ) -> Result<Arc<AccessToken>, Error> {
        let mut state = self.state.lock().await;
        if let Some(token) = &state.token
            && !needs_renewal(token.obtained.elapsed(), token.lifetime)
        {
            return Ok(Arc::clone(token));
        }
        if let Some((at, reason, request_id)) = &state.refused
            && at.elapsed() < REFUSAL_MEMORY
        {
            return Err(auth_error(reason.clone(), request_id.clone()));
        }
        let token = match self.fetch(http, stats, &mut state).await {
            Ok(token) => Arc::new(token),
            Err(e) => {
                if let Error::Auth {
                    reason, request_id, ..
                } = &e
                    && matches!(
                        **reason,
                        AuthError::ClientRefused { .. } | AuthError::ScopeRefused { .. }
                    )
                {
                    state.refused = Some((Instant::now(), (**reason).clone(), request_id.clone()));
                }
                return Err(e);
            }
        };
        state.refused = None;
        state.token = Some(Arc::clone(&token));
        Ok(token)
    }

    /// Forgets `used` if it is still the cached token (Okta refused it), so the next call
    /// mints a new one; a token already replaced by a concurrent renewal is left alone.
    pub async fn invalidate(&self, used: &AccessToken) {
        let mut state = self.state.lock().await;
        if state
            .token
            .as_ref()
            .is_some_and(|t| t.generation == used.generation)
        {
            state.token = None;
        }
    }

    /// Obtains a new token: sends until the endpoint grants one, resending once for a DPoP
    /// nonce and once with a fresh assertion, and reports any other refusal.
    async fn fetch(
        &self,
        http: &reqwest::Client,
        stats: &HttpStats,
        state: &mut State,
    ) -> Result<AccessToken, Error> {
        let mut resends = Resends {
            nonce: self.dpop.is_some(),
            fresh: true,
        };
        loop {
            let response = self.send(http, stats, state.nonce.as_deref()).await?;
            let status = response.status().as_u16();
            let request_id = Attempt::request_id(&response);
            let sent_nonce = response
                .headers()
                .get("dpop-nonce")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            if sent_nonce.is_some() {
                state.nonce.clone_from(&sent_nonce);
            }
            let body = read_capped(response)
                .await
                .map_err(|e| auth_error(AuthError::Unreachable(e), request_id.clone()))?;
            if (200..300).contains(&status) {
                state.generation += 1;
                return self
                    .accept(&body, state.generation)
                    .map_err(|reason| auth_error(reason, request_id));
            }
            let Ok(refusal) = serde_json::from_slice::<ErrorResponse>(&body) else {
                return Err(auth_error(AuthError::Unexpected { status }, request_id));
            };
            refusal
                .judge(status, sent_nonce.is_some(), &self.scopes, &mut resends)
                .map_err(|reason| auth_error(reason, request_id))?;
        }
    }

    /// One exchange, retried on transient faults per `self.retry`: the answer, or the fault.
    async fn send(
        &self,
        http: &reqwest::Client,
        stats: &HttpStats,
        nonce: Option<&str>,
    ) -> Result<reqwest::Response, Error> {
        let (result, _) = with_retries_unless(
            &self.retry,
            true,
            |_| self.post(http, stats, nonce),
            |delay, attempt, status| {
                warn!(
                    http.status = status,
                    attempt,
                    http.retry_in_ms = u64::try_from(delay.wait.as_millis()).unwrap_or(u64::MAX),
                    "token request will be retried"
                );
            },
            // Okta has never answered: a connect error (DNS, refused, TLS) says it is out of
            // reach, as for an API call, and retrying would only delay saying so.
            |e| matches!(e, SendError::Http(e) if e.is_connect() && !stats.answered()),
        )
        .await;
        result.map_err(|e| match e {
            // No connection at all: the error an API call gives, so a run halts on it.
            SendError::Http(e) if e.is_connect() => Error::Transport(e),
            SendError::Http(e) => auth_error(AuthError::Unreachable(e.to_string()), None),
            SendError::Key(e) => auth_error(AuthError::Key(e.to_string()), None),
        })
    }

    /// One token request with a fresh assertion (and proof).
    async fn post(
        &self,
        http: &reqwest::Client,
        stats: &HttpStats,
        nonce: Option<&str>,
    ) -> Result<reqwest::Response, SendError> {
        let now = SystemTime::now();
        let assertion =
            assertion::client_assertion(&self.key, &self.client_id, self.token_url.as_str(), now)
                .map_err(SendError::Key)?;
        let scope = self.scopes.join(" ");
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "client_credentials")
            .append_pair("scope", &scope)
            .append_pair(
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            )
            .append_pair("client_assertion", assertion.expose_secret())
            .finish();
        let mut request = http
            .post(self.token_url.clone())
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(form);
        if let Some(dpop) = &self.dpop {
            let what = ProofFor {
                htm: "POST",
                url: &self.token_url,
                nonce,
                ath: None,
            };
            let proof = dpop.proof(what, now).map_err(SendError::Key)?;
            let mut value =
                HeaderValue::from_str(&proof).map_err(|_| SendError::Key(KeyError::Signing))?;
            value.set_sensitive(true);
            request = request.header("DPoP", value);
        }
        stats.request_sent();
        let response = request.send().await.map_err(|e| {
            stats.transport_failed();
            SendError::Http(e.without_url())
        })?;
        stats.status_seen(response.status().as_u16(), false);
        Ok(response)
    }

    fn accept(&self, body: &[u8], generation: u64) -> Result<AccessToken, AuthError> {
        let parsed: TokenResponse = serde_json::from_slice(body).map_err(|e| {
            // serde's message could quote the token; keep only the position.
            AuthError::BadTokenResponse(format!("line {}, column {}", e.line(), e.column()))
        })?;
        let scheme = match parsed.token_type.to_ascii_lowercase().as_str() {
            "bearer" => Scheme::Bearer,
            "dpop" if self.dpop.is_some() => Scheme::Dpop,
            other => {
                return Err(AuthError::BadTokenResponse(format!(
                    "unexpected token_type `{}`",
                    sanitize(other)
                )));
            }
        };
        let scopes = parsed.scope.map_or_else(
            || self.scopes.clone(),
            |s| s.split_whitespace().map(str::to_owned).collect(),
        );
        debug!(
            oauth.token_type = parsed.token_type,
            oauth.expires_in = parsed.expires_in,
            oauth.scope = scopes.join(" "),
            "access token obtained"
        );
        Ok(AccessToken {
            value: parsed.access_token,
            scheme,
            scopes,
            obtained: Instant::now(),
            lifetime: Duration::from_secs(parsed.expires_in),
            generation,
        })
    }
}

fn auth_error(reason: AuthError, request_id: Option<String>) -> Error {
    Error::Auth {
        reason: Box::new(reason),
        status: None,
        request_id,
    }
}

async fn read_capped(mut response: reqwest::Response) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| e.without_url().to_string())?
    {
        if bytes.len() + chunk.len() > MAX_BODY {
            return Err(format!("token endpoint body larger than {MAX_BODY} bytes"));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// Server-supplied text as it may appear in errors and logs: printable, at most 200
/// characters, and with anything shaped like a JWT (which could be a credential) removed.
pub(crate) fn sanitize(text: &str) -> String {
    let cleaned: String = text
        .split_whitespace()
        .map(|word| {
            if word.contains("eyJ") && word.matches('.').count() >= 2 {
                "[jwt removed]"
            } else {
                word
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    if cleaned.is_empty() {
        "no description".into()
    } else {
        cleaned
    }
}
