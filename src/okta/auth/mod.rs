//! How revokd proves itself to Okta: an SSWS API token, or an OAuth 2.0 service app (client
//! credentials with a `private_key_jwt` assertion, optionally DPoP-bound; `shared/okta/FACTS.md`
//! §2). This module owns the credentials and builds the `Authorization` (and `DPoP`) headers,
//! marked sensitive; the HTTP client only asks it for them. Secrets never reach logs, `Debug`
//! output or error messages: errors name the cause and the config key to check instead.

pub mod assertion;
pub mod dpop;
mod key_files;
pub mod keys;
pub mod token;
mod token_refusal;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_http;
#[cfg(test)]
mod tests_key_files;

use std::sync::Arc;

use reqwest::Method;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

pub use keys::{Algorithm, KeyError, SigningKey};
pub use token::{needs_renewal, renewal_margin};

use self::dpop::ProofFor;
use self::token::{AccessToken, Scheme, TokenSource};
use super::error::Error;
use super::model::OktaErrorBody;
use super::retry::RetryPolicy;
use super::stats::HttpStats;
use crate::config::{self, OktaConfig};

/// How revokd proves itself to Okta.
#[derive(Clone)]
pub enum Auth {
    /// `Authorization: SSWS <token>`.
    Ssws(SecretString),
    /// An OAuth 2.0 service app.
    OAuth(OAuthSettings),
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::Ssws(_) => f.write_str("Ssws([redacted])"),
            Auth::OAuth(s) => f.debug_tuple("OAuth").field(s).finish(),
        }
    }
}

/// An OAuth 2.0 service app, from `[okta]` (`client_id`, `private_key_file`, `key_id`,
/// `scopes`, `dpop`).
#[derive(Debug, Clone)]
pub struct OAuthSettings {
    /// The service app's client id (`iss` and `sub` of the assertion).
    pub client_id: String,
    /// Its private key; the public half is registered with the app in Okta.
    pub key: SigningKey,
    /// Scopes requested, e.g. `okta.users.read okta.users.manage`.
    pub scopes: Vec<String>,
    /// Bind tokens to an ephemeral key with DPoP (RFC 9449).
    pub dpop: bool,
}

/// Why OAuth authentication failed. Messages name the cause and what to check; they never
/// contain the key, an assertion or a token.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AuthError {
    /// `invalid_client`: wrong key, `kid` or client id, or an assertion the server refused.
    #[error(
        "the token endpoint refused the client assertion (invalid_client: {description}); check \
         okta.client_id, okta.private_key_file and okta.key_id against the Okta service app, \
         and this host's clock (an assertion is good for 5 minutes from its signing)"
    )]
    ClientRefused { description: String },
    /// `invalid_scope`: a requested scope is not granted to the app.
    #[error(
        "the token endpoint refused the requested scopes `{requested}` (invalid_scope: \
         {description}); grant them to the service app (Okta API Scopes tab) or fix okta.scopes"
    )]
    ScopeRefused {
        requested: String,
        description: String,
    },
    /// Any other OAuth error body.
    #[error("the token endpoint refused the token request (HTTP {status}, {error}: {description})")]
    Refused {
        status: u16,
        error: String,
        description: String,
    },
    /// An error status without an OAuth error body.
    #[error("the token endpoint answered HTTP {status} without an OAuth error body")]
    Unexpected { status: u16 },
    /// A success status whose body is not a usable token response.
    #[error("the token endpoint's answer is not a usable token response ({0})")]
    BadTokenResponse(String),
    /// No exchange with the token endpoint.
    #[error("cannot reach the token endpoint: {0}")]
    Unreachable(String),
    /// The key could not sign (see okta.private_key_file).
    #[error("cannot sign with okta.private_key_file: {0}")]
    Key(String),
    /// An API call was refused (403) for lack of a scope the token does not carry.
    #[error(
        "Okta refused {method} {path} (403 {code}): the access token's scopes `{granted}` lack \
         {needed}; add it to okta.scopes and grant it to the service app"
    )]
    MissingScope {
        method: String,
        path: String,
        code: String,
        needed: String,
        granted: String,
    },
    /// An API call was refused (403) although the token has the scope: the app's admin role.
    #[error(
        "Okta refused {method} {path} (403 {code}: {summary}); the access token has {needed}, so \
         the service app's admin role lacks this permission"
    )]
    RoleForbidden {
        method: String,
        path: String,
        code: String,
        summary: String,
        needed: String,
    },
}

/// The OAuth scope Okta requires for a management call (the operations' `security` in the
/// management spec): `okta.logs.read` for `listLogEvents`; `okta.apps.read` /
/// `okta.apps.manage` for the ApplicationTokens operations on `/api/v1/apps/{appId}/tokens…`;
/// `okta.users.read` / `okta.users.manage` for those on `/api/v1/users/{userId}/clients…`, and
/// `okta.users.read` for `getUser` (`GET /api/v1/users/{id}`).
pub fn required_scope(method: &Method, path: &str) -> &'static str {
    const API: &str = "/api/v1/";
    let api = path.find(API).map_or(path, |i| &path[i + API.len()..]);
    let read = method == Method::GET;
    match api.split('/').next() {
        Some("logs") => "okta.logs.read",
        Some("apps") if read => "okta.apps.read",
        Some("apps") => "okta.apps.manage",
        _ if read => "okta.users.read",
        _ => "okta.users.manage",
    }
}

/// The client's authenticator: fixed SSWS header, or a token source.
#[derive(Debug, Clone)]
pub(crate) enum Authorizer {
    Ssws(HeaderValue),
    OAuth(Arc<TokenSource>),
}

/// The credential one logical request uses (kept across its retries).
#[derive(Debug)]
pub(crate) enum Credential {
    Ssws(HeaderValue),
    OAuth(Arc<AccessToken>),
}

impl Authorizer {
    /// Builds the authenticator; `base` is the org URL (the token endpoint is
    /// `{base}/oauth2/v1/token`).
    pub(crate) fn new(auth: &Auth, base: &Url, retry: &RetryPolicy) -> Result<Authorizer, Error> {
        match auth {
            Auth::Ssws(token) => {
                let mut value = HeaderValue::from_str(&format!("SSWS {}", token.expose_secret()))
                    .map_err(|_| Error::Refused {
                    reason: "the API token contains characters not allowed in an HTTP header"
                        .into(),
                    request_id: None,
                })?;
                value.set_sensitive(true);
                Ok(Authorizer::Ssws(value))
            }
            Auth::OAuth(settings) => {
                let token_url = base.join("oauth2/v1/token").map_err(|e| Error::Refused {
                    reason: format!("cannot derive the token URL: {e}"),
                    request_id: None,
                })?;
                let source = TokenSource::new(settings, token_url, retry.clone()).map_err(|e| {
                    Error::Auth {
                        reason: Box::new(AuthError::Key(e.to_string())),
                        status: None,
                        request_id: None,
                    }
                })?;
                Ok(Authorizer::OAuth(Arc::new(source)))
            }
        }
    }

    /// The credential for the next request (may mint a token).
    pub(crate) async fn credential(
        &self,
        http: &reqwest::Client,
        stats: &HttpStats,
    ) -> Result<Credential, Error> {
        match self {
            Authorizer::Ssws(v) => Ok(Credential::Ssws(v.clone())),
            Authorizer::OAuth(source) => source.token(http, stats).await.map(Credential::OAuth),
        }
    }

    /// The `Authorization` header (and `DPoP` proof) for one attempt, marked sensitive.
    pub(crate) fn headers(
        &self,
        credential: &Credential,
        method: &Method,
        url: &Url,
    ) -> Result<HeaderMap, KeyError> {
        let mut headers = HeaderMap::new();
        let (Authorizer::OAuth(source), Credential::OAuth(token)) = (self, credential) else {
            if let Credential::Ssws(v) = credential {
                headers.insert(AUTHORIZATION, v.clone());
            }
            return Ok(headers);
        };
        let secret = token.value.expose_secret();
        let scheme = match (token.scheme, &source.dpop) {
            (Scheme::Dpop, Some(dpop)) => {
                let ath = dpop::ath(secret);
                let what = ProofFor {
                    htm: method.as_str(),
                    url,
                    nonce: None,
                    ath: Some(&ath),
                };
                let mut proof =
                    HeaderValue::from_str(&dpop.proof(what, std::time::SystemTime::now())?)
                        .map_err(|_| KeyError::Signing)?;
                proof.set_sensitive(true);
                headers.insert("DPoP", proof);
                "DPoP"
            }
            _ => "Bearer",
        };
        let mut value =
            HeaderValue::from_str(&format!("{scheme} {secret}")).map_err(|_| KeyError::Signing)?;
        value.set_sensitive(true);
        headers.insert(AUTHORIZATION, value);
        Ok(headers)
    }

    /// After a 401 with an OAuth token: forget the token; `true` if one renewal and retry
    /// is worth it.
    pub(crate) async fn unauthorized(&self, credential: &Credential) -> bool {
        match (self, credential) {
            (Authorizer::OAuth(source), Credential::OAuth(token)) => {
                source.invalidate(token).await;
                true
            }
            _ => false,
        }
    }

    /// A 403 under OAuth, explained: which scope the call needs and whether the token has it.
    pub(crate) fn forbidden(
        &self,
        credential: &Credential,
        method: &Method,
        path: &str,
        body: &OktaErrorBody,
    ) -> Option<AuthError> {
        let Credential::OAuth(token) = credential else {
            return None;
        };
        let needed = required_scope(method, path).to_owned();
        let code = body
            .error_code
            .clone()
            .unwrap_or_else(|| "no errorCode".into());
        let (method, path) = (method.to_string(), path.to_owned());
        Some(if token.scopes.contains(&needed) {
            let summary = body.error_summary.clone().unwrap_or_default();
            AuthError::RoleForbidden {
                method,
                path,
                code,
                summary,
                needed,
            }
        } else {
            let granted = token.scopes.join(" ");
            AuthError::MissingScope {
                method,
                path,
                code,
                needed,
                granted,
            }
        })
    }
}

/// The `Auth` that `[okta]` describes for `auth = "oauth"`: reads and checks the key file.
pub fn oauth_from_config(okta: &OktaConfig) -> Result<Auth, config::Error> {
    let client_id = okta
        .client_id
        .clone()
        .filter(|c| !c.is_empty())
        .ok_or_else(|| {
            config::Error::invalid("okta.client_id", "required with auth = \"oauth\"")
        })?;
    let path = okta.private_key_file.as_deref().ok_or_else(|| {
        config::Error::invalid("okta.private_key_file", "required with auth = \"oauth\"")
    })?;
    let key = SigningKey::from_file(path, okta.key_id.as_deref()).map_err(|e| {
        let message = match e {
            KeyError::Read(_) => e.to_string(),
            _ => format!("{}: {e}", path.display()),
        };
        config::Error::invalid("okta.private_key_file", message)
    })?;
    Ok(Auth::OAuth(OAuthSettings {
        client_id,
        key,
        scopes: okta.scopes.clone(),
        dpop: okta.dpop,
    }))
}
