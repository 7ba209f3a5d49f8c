//! The sim's OAuth 2.0 side: the org authorization server's token endpoint
//! (`POST /oauth2/v1/token`, client credentials with a `private_key_jwt` assertion, optional
//! DPoP with `use_dpop_nonce`) and the check of `Bearer` / `DPoP` access tokens on API calls,
//! with Okta's answers: RFC 6749 error bodies at the token endpoint, 401 `E0000011` for an
//! unknown or expired token, 403 `E0000006` for a missing scope. It keeps counters and every
//! credential it saw, so tests can check that none of them leaked.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::jws::PublicKey;
use super::oauth_grant::{Grant, Refused, check};
use super::oauth_keys::check_token;
use super::types::{OAuthStats, ServiceApp};

/// The token endpoint's answer.
#[derive(Debug)]
pub(crate) struct TokenReply {
    pub(crate) status: u16,
    pub(crate) body: Value,
    pub(crate) nonce: Option<String>,
}

/// A registered service app.
pub(super) struct App {
    pub(super) key: PublicKey,
    pub(super) scopes: Vec<String>,
    pub(super) require_dpop: bool,
}

pub(crate) struct Issued {
    pub(crate) scopes: Vec<String>,
    pub(crate) expires: Instant,
    /// Thumbprint of the DPoP key the token is bound to.
    pub(crate) jkt: Option<String>,
}

#[derive(Default)]
pub(crate) struct Inner {
    pub(super) apps: HashMap<String, App>,
    pub(super) used_jtis: HashSet<String>,
    pub(crate) proof_jtis: HashSet<String>,
    pub(crate) tokens: HashMap<String, Issued>,
    pub(super) replay_next: u32,
    stats: OAuthStats,
    pub(super) seen: Vec<String>,
}

/// The OAuth state of one sim org.
pub(crate) struct OAuth {
    lifetime: Duration,
    nonce: String,
    inner: Mutex<Inner>,
}

/// Okta's most distant allowed assertion expiry.
pub(super) const MAX_ASSERTION_AHEAD: u64 = 3600;

pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn oauth_error(status: u16, error: &str, description: &str) -> TokenReply {
    TokenReply {
        status,
        body: json!({ "error": error, "error_description": description }),
        nonce: None,
    }
}

impl OAuth {
    pub(crate) fn new(apps: &[ServiceApp], lifetime: Duration, seed: u64) -> Result<OAuth, String> {
        let oauth = OAuth {
            lifetime,
            nonce: format!("sim-nonce-{seed:x}"),
            inner: Mutex::default(),
        };
        for app in apps {
            oauth.register(app)?;
        }
        Ok(oauth)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn register(&self, app: &ServiceApp) -> Result<(), String> {
        let key = PublicKey::parse(&app.public_key)
            .map_err(|e| format!("service app {}: {e}", app.client_id))?;
        self.lock().apps.insert(
            app.client_id.clone(),
            App {
                key,
                scopes: app.scopes.clone(),
                require_dpop: app.require_dpop,
            },
        );
        Ok(())
    }

    pub(crate) fn stats(&self) -> OAuthStats {
        self.lock().stats.clone()
    }

    pub(crate) fn treat_next_as_replayed(&self, n: u32) {
        self.lock().replay_next += n;
    }

    pub(crate) fn expire_access_tokens(&self) {
        let now = Instant::now();
        for issued in self.lock().tokens.values_mut() {
            issued.expires = now;
        }
    }

    pub(crate) fn credentials_seen(&self) -> Vec<String> {
        self.lock().seen.clone()
    }

    /// `POST /oauth2/v1/token` with a form `body` and an optional `DPoP` header.
    pub(crate) fn token_endpoint(
        &self,
        token_url: &str,
        dpop: Option<&str>,
        body: &[u8],
    ) -> TokenReply {
        let form: HashMap<String, String> =
            url::form_urlencoded::parse(body).into_owned().collect();
        let mut inner = self.lock();
        let reply = self.token_request(&mut inner, token_url, dpop, &form);
        if reply.status != 200
            && reply.body.get("error").and_then(Value::as_str) == Some("use_dpop_nonce")
        {
            inner.stats.nonce_challenges += 1;
        }
        reply
    }

    /// Answers one token request: checks it, then issues a token or says why not.
    fn token_request(
        &self,
        inner: &mut Inner,
        token_url: &str,
        dpop: Option<&str>,
        form: &HashMap<String, String>,
    ) -> TokenReply {
        match check(inner, &self.nonce, token_url, dpop, form) {
            Ok(grant) => self.issue(inner, grant, dpop.is_some()),
            Err(Refused::Error {
                reason,
                error,
                description,
            }) => {
                *inner.stats.refused.entry(reason.to_owned()).or_insert(0) += 1;
                oauth_error(400, error, &description)
            }
            Err(Refused::NonceChallenge) => {
                let mut reply = oauth_error(
                    400,
                    "use_dpop_nonce",
                    "Authorization server requires nonce in DPoP proof.",
                );
                reply.nonce = Some(self.nonce.clone());
                reply
            }
        }
    }

    /// Issues an access token for `grant` and answers with it; a DPoP request also gets the
    /// current nonce.
    fn issue(&self, inner: &mut Inner, grant: Grant, dpop: bool) -> TokenReply {
        let access_token = format!(
            "sim-at-{}",
            URL_SAFE_NO_PAD.encode(rand::random::<[u8; 24]>())
        );
        inner.seen.push(access_token.clone());
        inner.stats.tokens_issued += 1;
        let token_type = if grant.jkt.is_some() {
            "DPoP"
        } else {
            "Bearer"
        };
        let scope = grant.scopes.join(" ");
        inner.tokens.insert(
            access_token.clone(),
            Issued {
                scopes: grant.scopes,
                expires: Instant::now() + self.lifetime,
                jkt: grant.jkt,
            },
        );
        TokenReply {
            status: 200,
            body: json!({
                "token_type": token_type,
                "expires_in": self.lifetime.as_secs().max(1),
                "access_token": access_token,
                "scope": scope,
            }),
            nonce: dpop.then(|| self.nonce.clone()),
        }
    }

    /// Checks an API call's `Authorization` (`Bearer …` or `DPoP …` + proof): `Err(401)` for
    /// an unknown, expired or wrongly presented token, `Err(403)` without `needed` scope.
    pub(crate) fn authorize(
        &self,
        authorization: &str,
        dpop: Option<&str>,
        method: &str,
        htu: &str,
        needed: &str,
    ) -> Result<(), u16> {
        let mut inner = self.lock();
        let result = check_token(&mut inner, authorization, dpop, method, htu, needed);
        match result {
            Err(401) => inner.stats.api_unauthorized += 1,
            Err(_) => inner.stats.api_forbidden += 1,
            Ok(()) => {}
        }
        result
    }
}
