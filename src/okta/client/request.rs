//! One logical request to Okta: the credential (renewed once on a 401), the rate-limit budget
//! and the concurrency limit before each attempt, retries per [`crate::okta::retry`], the
//! body read up to its cap, and Okta's answer turned into a [`Reply`] or an [`Error`]. It
//! neither builds URLs nor decodes models.

use reqwest::header::{CONTENT_TYPE, HeaderMap};
use reqwest::{Method, StatusCode};
use tracing::{debug, warn};
use url::Url;

use super::OktaClient;
use crate::okta::auth::{Credential, KeyError};
use crate::okta::concurrency::Signal;
use crate::okta::error::{Error, summarise_body};
use crate::okta::model::{self, OktaErrorBody};
use crate::okta::ratelimit::bucket_of;
use crate::okta::retry::{Attempt, RateLimitHeaders, RetryInfo, with_retries_unless};
use crate::okta::revoke::{Cleared, Unsent};

/// A successful response, with Okta's request id.
#[derive(Debug)]
pub(in crate::okta) struct Reply {
    pub(in crate::okta) status: StatusCode,
    pub(in crate::okta) headers: HeaderMap,
    pub(in crate::okta) body: String,
    pub(in crate::okta) request_id: Option<String>,
}

impl OktaClient {
    /// Sends one logical request with retries; every method revokd uses is idempotent. Under
    /// OAuth, a 401 (expired or revoked access token) renews the token and sends once more.
    pub(in crate::okta) async fn execute(&self, method: Method, url: Url) -> Result<Reply, Error> {
        self.execute_checked(method, url, None).await
    }

    /// [`OktaClient::execute`] of a revocation the gate cleared: the gate is asked again right
    /// before each attempt is sent, once the attempt holds its rate-limit budget and its
    /// concurrency permit, so nothing but the send itself lies between the two.
    pub(in crate::okta) async fn execute_checked(
        &self,
        method: Method,
        url: Url,
        cleared: Option<&Cleared>,
    ) -> Result<Reply, Error> {
        let (mut renewed, mut earlier) = (false, false);
        loop {
            let credential = self.auth.credential(&self.http, &self.stats).await?;
            let (response, attempts, maybe_applied) = self
                .send(&method, &url, &credential, cleared, earlier)
                .await?;
            if response.status == StatusCode::UNAUTHORIZED
                && !renewed
                && self.auth.unauthorized(&credential).await
            {
                debug!(http.method = %method, http.path = url.path(), "access token refused; renewing it once");
                renewed = true;
                // What the first credential's attempts may have done stays known.
                earlier = maybe_applied;
                continue;
            }
            let answer = self.finish(&method, &url, &credential, response, attempts);
            return match answer {
                // Okta's 404 to a DELETE after an attempt that may have reached it: that
                // attempt took effect; the caller records the revocation as done, not as
                // already gone.
                Err(e) if method == Method::DELETE && maybe_applied && e.is_not_found() => {
                    Ok(Reply {
                        status: StatusCode::NOT_FOUND,
                        headers: HeaderMap::new(),
                        request_id: e.request_id().map(str::to_owned),
                        body: String::new(),
                    })
                }
                answer => answer,
            };
        }
    }

    /// One credential's attempts at a request, with retries. `earlier`: an attempt under an
    /// earlier credential may have taken effect.
    async fn send(
        &self,
        method: &Method,
        url: &Url,
        credential: &Credential,
        cleared: Option<&Cleared>,
        earlier: bool,
    ) -> Result<(Received, u32, bool), Error> {
        let path = url.path().to_owned();
        let bucket = bucket_of(method, &path);
        // Whether a failed attempt may have reached Okta (a 5xx or a transport fault, not a 429).
        let maybe_applied = std::sync::atomic::AtomicBool::new(earlier);
        let (result, attempts) = with_retries_unless(
            &self.settings.retry,
            true,
            |info| {
                self.send_once(
                    method.clone(),
                    url.clone(),
                    &bucket,
                    info,
                    credential,
                    cleared,
                )
            },
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
            |e| match e {
                SendError::Withdrawn(_) => true,
                SendError::Transport(t) => t.is_connect() && !self.stats.answered(),
                SendError::Key(_) => false,
                SendError::Refused(_) => true,
            },
        )
        .await;
        let maybe_applied = maybe_applied.load(std::sync::atomic::Ordering::Relaxed);
        match result {
            Ok(response) => Ok((response, attempts, maybe_applied)),
            Err(SendError::Transport(e)) => Err(Error::Transport(e)),
            Err(SendError::Refused(e)) => Err(e),
            Err(SendError::Withdrawn(unsent)) => Err(Error::Withdrawn {
                unsent,
                maybe_applied,
            }),
            Err(SendError::Key(e)) => Err(Error::Auth {
                reason: Box::new(crate::okta::auth::AuthError::Key(e.to_string())),
                status: None,
                request_id: None,
            }),
        }
    }

    /// Turns the final response into a [`Reply`] or an [`Error`].
    fn finish(
        &self,
        method: &Method,
        url: &Url,
        credential: &Credential,
        response: Received,
        attempts: u32,
    ) -> Result<Reply, Error> {
        let Received {
            status,
            headers,
            body,
            request_id,
        } = response;
        if status == StatusCode::TOO_MANY_REQUESTS {
            return Err(Error::RateLimited {
                attempts,
                request_id,
            });
        }
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
        cleared: Option<&Cleared>,
    ) -> Result<Received, SendError> {
        let held = self.stats.held_back();
        let ticket = self.budget.acquire(bucket).await;
        drop(held);
        if !ticket.waited.is_zero() {
            self.stats.budget_waited(ticket.waited);
        }
        let permit = self.aimd.acquire().await;
        if let Some(cleared) = cleared {
            // Dropped unused, the ticket and the permit count as an attempt Okta never
            // answered: a withdrawn attempt costs its share of the window, no more.
            cleared.recheck().await.map_err(SendError::Withdrawn)?;
        }
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
                // The body is part of the attempt: one cut short (a reset, a timeout while
                // it streams) is a transport fault, retried like one.
                let (status, headers) = (response.status(), response.headers().clone());
                let request_id = Attempt::request_id(&response);
                match self.read_body(response, request_id.as_deref()).await {
                    Ok(body) => Ok(Received {
                        status,
                        headers,
                        body,
                        request_id,
                    }),
                    Err(Error::Transport(e)) => Err(SendError::Transport(e)),
                    Err(refused) => Err(SendError::Refused(refused)),
                }
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
        let announced = response.content_length();
        if announced.is_some_and(|n| n > cap as u64) {
            return Err(refused());
        }
        // Sized once where the length is announced: a page is hundreds of KiB, and growing
        // the buffer chunk by chunk copied each page about once more.
        let mut bytes = Vec::with_capacity(announced.map_or(0, |n| n as usize));
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

/// One attempt's answer: Okta's status, headers and whole body.
pub(in crate::okta) struct Received {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
    request_id: Option<String>,
}

impl Attempt for Received {
    fn status(&self) -> u16 {
        self.status.as_u16()
    }
    fn headers(&self) -> &HeaderMap {
        &self.headers
    }
    fn request_id(&self) -> Option<String> {
        self.request_id.clone()
    }
}

/// Why one attempt produced no usable answer.
enum SendError {
    /// No response, or its body cut short.
    Transport(reqwest::Error),
    /// An answer not to be retried: its body over the size cap, or not UTF-8.
    Refused(Error),
    /// The auth headers could not be built (signing a DPoP proof failed).
    Key(KeyError),
    /// The gate, asked again, no longer lets the revocation through; nothing was sent.
    Withdrawn(Unsent),
}

/// Counts one Okta request by operation (bucket) and status, for `/metrics`.
fn count_request(bucket: &str, status: &str) {
    metrics::counter!(
        crate::okta::stats::REQUESTS_METRIC,
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
