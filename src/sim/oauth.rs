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

use super::jws::{Jws, PublicKey};
use super::oauth_keys::{check_token, verify_proof};
use super::types::{OAuthStats, ServiceApp};

/// The token endpoint's answer.
#[derive(Debug)]
pub(crate) struct TokenReply {
    pub(crate) status: u16,
    pub(crate) body: Value,
    pub(crate) nonce: Option<String>,
}

struct App {
    key: PublicKey,
    scopes: Vec<String>,
    require_dpop: bool,
}

pub(crate) struct Issued {
    pub(crate) scopes: Vec<String>,
    pub(crate) expires: Instant,
    /// Thumbprint of the DPoP key the token is bound to.
    pub(crate) jkt: Option<String>,
}

#[derive(Default)]
pub(crate) struct Inner {
    apps: HashMap<String, App>,
    used_jtis: HashSet<String>,
    pub(crate) proof_jtis: HashSet<String>,
    pub(crate) tokens: HashMap<String, Issued>,
    replay_next: u32,
    stats: OAuthStats,
    seen: Vec<String>,
}

/// The OAuth state of one sim org.
pub(crate) struct OAuth {
    lifetime: Duration,
    nonce: String,
    inner: Mutex<Inner>,
}

/// Okta's most distant allowed assertion expiry.
const MAX_ASSERTION_AHEAD: u64 = 3600;

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

    fn token_request(
        &self,
        inner: &mut Inner,
        token_url: &str,
        dpop: Option<&str>,
        form: &HashMap<String, String>,
    ) -> TokenReply {
        let mut refuse = |reason: &str, error: &str, description: &str| {
            *inner.stats.refused.entry(reason.to_owned()).or_insert(0) += 1;
            oauth_error(400, error, description)
        };
        let field = |name: &str| form.get(name).map(String::as_str);
        if field("grant_type") != Some("client_credentials") {
            return refuse(
                "unsupported grant_type",
                "unsupported_grant_type",
                "The grant type is not supported.",
            );
        }
        if field("client_assertion_type")
            != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
        {
            return refuse(
                "no client assertion",
                "invalid_client",
                "Client authentication failed: client_assertion_type is missing or invalid.",
            );
        }
        let Some(assertion) = field("client_assertion") else {
            return refuse(
                "no client assertion",
                "invalid_client",
                "Client authentication failed: client_assertion is missing.",
            );
        };
        inner.seen.push(assertion.to_owned());
        let Some(jws) = Jws::parse(assertion) else {
            return refuse(
                "malformed assertion",
                "invalid_client",
                "The client_assertion is not a valid JWT.",
            );
        };
        let claim = |name: &str| jws.claims.get(name).and_then(Value::as_str);
        let Some(client_id) = claim("iss") else {
            return refuse(
                "malformed assertion",
                "invalid_client",
                "The client_assertion has no iss claim.",
            );
        };
        if claim("sub") != Some(client_id) {
            return refuse(
                "iss and sub differ",
                "invalid_client",
                "The iss and sub claims of the client_assertion must both be the client_id.",
            );
        }
        let Some(app) = inner.apps.get(client_id) else {
            return refuse(
                "unknown client_id",
                "invalid_client",
                "Invalid value for 'client_id' parameter.",
            );
        };
        if !app.key.verifies(&jws) {
            return refuse(
                "bad signature",
                "invalid_client",
                "The client_assertion signature is invalid.",
            );
        }
        if claim("aud") != Some(token_url) {
            return refuse(
                "wrong audience",
                "invalid_client",
                "The audience claim for client_assertion must be the endpoint invoking the client_assertion.",
            );
        }
        let now = now_secs();
        match jws.claims.get("exp").and_then(Value::as_u64) {
            None => {
                return refuse(
                    "no exp",
                    "invalid_client",
                    "The client_assertion has no exp claim.",
                );
            }
            Some(exp) if exp <= now => {
                return refuse(
                    "expired",
                    "invalid_client",
                    "The client_assertion token is expired.",
                );
            }
            Some(exp) if exp > now + MAX_ASSERTION_AHEAD => {
                return refuse(
                    "exp too far ahead",
                    "invalid_client",
                    "The client_assertion token has an expiration too far into the future.",
                );
            }
            Some(_) => {}
        }
        let jti = claim("jti").map(str::to_owned);
        let replayed = jti.as_ref().is_some_and(|j| inner.used_jtis.contains(j));
        let forced = inner.replay_next > 0;
        if replayed || forced {
            inner.replay_next = inner
                .replay_next
                .saturating_sub(u32::from(forced && !replayed));
            *inner
                .stats
                .refused
                .entry("jti already used".into())
                .or_insert(0) += 1;
            return oauth_error(
                400,
                "invalid_client",
                "The client_assertion token has already been used (jti already used).",
            );
        }
        let requested: Vec<String> = field("scope")
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        let app = &inner.apps[client_id];
        let missing: Vec<&str> = requested
            .iter()
            .filter(|s| !app.scopes.contains(s))
            .map(String::as_str)
            .collect();
        if requested.is_empty() || !missing.is_empty() {
            let description = if requested.is_empty() {
                "The 'scope' parameter is required for client credentials.".to_owned()
            } else {
                format!(
                    "The following scopes are not allowed: {}.",
                    missing.join(", ")
                )
            };
            *inner
                .stats
                .refused
                .entry("scope not granted".into())
                .or_insert(0) += 1;
            return oauth_error(400, "invalid_scope", &description);
        }
        let require_dpop = app.require_dpop;
        let jkt = match dpop {
            None if require_dpop => {
                *inner
                    .stats
                    .refused
                    .entry("dpop proof missing".into())
                    .or_insert(0) += 1;
                return oauth_error(
                    400,
                    "invalid_dpop_proof",
                    "The DPoP proof JWT header is missing.",
                );
            }
            None => None,
            Some(proof) => match verify_proof(inner, proof, "POST", token_url, now) {
                Err(why) => {
                    *inner
                        .stats
                        .refused
                        .entry("dpop proof invalid".into())
                        .or_insert(0) += 1;
                    return oauth_error(400, "invalid_dpop_proof", &why);
                }
                Ok((_, claims))
                    if claims.get("nonce").and_then(Value::as_str) != Some(self.nonce.as_str()) =>
                {
                    let mut reply = oauth_error(
                        400,
                        "use_dpop_nonce",
                        "Authorization server requires nonce in DPoP proof.",
                    );
                    reply.nonce = Some(self.nonce.clone());
                    return reply;
                }
                Ok((jkt, _)) => Some(jkt),
            },
        };
        if let Some(jti) = jti {
            inner.used_jtis.insert(jti);
        }
        let access_token = format!(
            "sim-at-{}",
            URL_SAFE_NO_PAD.encode(rand::random::<[u8; 24]>())
        );
        inner.seen.push(access_token.clone());
        inner.stats.tokens_issued += 1;
        let token_type = if jkt.is_some() { "DPoP" } else { "Bearer" };
        inner.tokens.insert(
            access_token.clone(),
            Issued {
                scopes: requested.clone(),
                expires: Instant::now() + self.lifetime,
                jkt,
            },
        );
        TokenReply {
            status: 200,
            body: json!({
                "token_type": token_type,
                "expires_in": self.lifetime.as_secs().max(1),
                "access_token": access_token,
                "scope": requested.join(" "),
            }),
            nonce: dpop.map(|_| self.nonce.clone()),
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
