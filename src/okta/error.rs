//! The typed error of every Okta call. Each kind that came with a response carries Okta's
//! `X-Okta-Request-Id`, so what an error caused can be traced in Okta's System Log. Messages
//! never contain credentials: requests are never echoed, only their method and path.

use super::auth::AuthError;
use super::model::{DecodeError, OktaErrorBody};

/// What went wrong talking to Okta.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Okta answered with a non-success status and (usually) its error body.
    #[error("Okta answered {status}{}", summary(body))]
    Api {
        status: u16,
        body: OktaErrorBody,
        request_id: Option<String>,
    },
    /// No usable HTTP exchange: connect failure, timeout, reset, unreadable body.
    #[error("transport error: {}", chain(.0))]
    Transport(#[source] reqwest::Error),
    /// A success response whose body is not the JSON the contract promises.
    #[error("undecodable response {source} (body starts: {body:?})")]
    Decode {
        source: DecodeError,
        body: String,
        request_id: Option<String>,
    },
    /// Still rate limited after every allowed attempt.
    #[error("still rate limited (HTTP 429) after {attempts} attempts")]
    RateLimited {
        attempts: u32,
        request_id: Option<String>,
    },
    /// A response broke the contract in a way that makes it unsafe to go on: a body over the
    /// size cap, a non-JSON content type, a `next` link to another origin, a cursor loop.
    #[error("refused Okta response: {reason}")]
    Refused {
        reason: String,
        request_id: Option<String>,
    },
    /// OAuth authentication failed: the token endpoint refused (no `status`), or an API call
    /// was refused for a missing scope or admin role (`status` 403).
    #[error("OAuth: {reason}")]
    Auth {
        reason: Box<AuthError>,
        status: Option<u16>,
        request_id: Option<String>,
    },
    /// The revocation gate, asked again right before an attempt was sent, no longer let it
    /// through, so that attempt was not sent. `maybe_applied`: an earlier attempt failed in a
    /// way that may have reached Okta (a 5xx or a transport fault) and may have taken effect.
    #[error("{unsent}{}", if *.maybe_applied {
        "; an earlier attempt failed in a way that may have taken effect"
    } else {
        ""
    })]
    Withdrawn {
        unsent: super::revoke::Unsent,
        maybe_applied: bool,
    },
}

/// An error and its causes on one line: reqwest keeps "timed out" or "connection reset" in
/// the sources, not in the top-level message.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn summary(body: &OktaErrorBody) -> String {
    let mut out = String::new();
    if let Some(code) = &body.error_code {
        out.push_str(&format!(" {code}"));
    }
    if let Some(s) = &body.error_summary {
        out.push_str(&format!(": {s}"));
    }
    for cause in &body.error_causes {
        out.push_str(&format!(" ({cause})"));
    }
    out
}

impl Error {
    /// The `X-Okta-Request-Id` of the response that caused this error, if there was one.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Error::Api { request_id, .. }
            | Error::Decode { request_id, .. }
            | Error::RateLimited { request_id, .. }
            | Error::Refused { request_id, .. }
            | Error::Auth { request_id, .. } => request_id.as_deref(),
            Error::Transport(_) | Error::Withdrawn { .. } => None,
        }
    }

    /// Okta's `errorId` from the error body, if Okta sent one: it names the failure in Okta's
    /// System Log and in a support case.
    pub fn error_id(&self) -> Option<&str> {
        match self {
            Error::Api { body, .. } => body.error_id.as_deref(),
            _ => None,
        }
    }

    /// The HTTP status Okta answered with, if any.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } => Some(*status),
            Error::RateLimited { .. } => Some(429),
            Error::Auth { status, .. } => *status,
            _ => None,
        }
    }

    /// Whether no connection to Okta could be made at all: DNS, connect or TLS failed.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, Error::Transport(e) if e.is_connect())
    }

    /// Whether Okta refused the credentials: HTTP 401 on an API call, or the token endpoint
    /// refusing the service app's client assertion or the scopes it asks for (one not granted
    /// to the app refuses every token request alike).
    pub fn is_credentials_refused(&self) -> bool {
        self.status() == Some(401)
            || matches!(self, Error::Auth { reason, .. }
                if matches!(**reason, AuthError::ClientRefused { .. } | AuthError::ScopeRefused { .. }))
    }

    /// Why a transport error happened, without reqwest's leading "error sending request for
    /// url (…)": the causes only (`tcp connect error: Connection refused (os error 111)`).
    pub fn cause(&self) -> String {
        match self {
            Error::Transport(e) => match std::error::Error::source(e) {
                Some(source) => chain(source),
                None => e.to_string(),
            },
            other => other.to_string(),
        }
    }

    /// Whether Okta said the resource does not exist: HTTP 404 with Okta's `E0000007`. Only the
    /// error code is Okta's word (its contract supports no other field for flow control): a 404
    /// without it came from something in front of Okta, or from a host that is not Okta, and
    /// proves nothing is gone.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::Api { status: 404, body, .. }
            if body.error_code.as_deref() == Some(NOT_FOUND))
    }

    /// Whether the request this error ended may have reached Okta and taken effect: a 5xx
    /// (which does not say the change did not happen), a transport fault once connected (a
    /// timeout, a reset), or a withdrawn retry after such an attempt. Not a 4xx, nor a
    /// connection never made.
    pub fn may_have_taken_effect(&self) -> bool {
        match self {
            Error::Api { status, .. } => *status >= 500,
            Error::Transport(e) => !e.is_connect(),
            Error::Withdrawn { maybe_applied, .. } => *maybe_applied,
            _ => false,
        }
    }
}

/// Okta's error code for a resource that does not exist.
const NOT_FOUND: &str = "E0000007";

/// The body excerpt kept in errors: enough to diagnose, never a whole page.
pub(crate) fn excerpt(body: &str) -> String {
    const MAX: usize = 200;
    if body.len() <= MAX {
        return body.to_owned();
    }
    let mut end = MAX;
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &body[..end])
}

/// What the summary of an error body that is not Okta's JSON says it is.
pub const NOT_OKTA_JSON: &str = "not Okta's JSON";

/// An error body that is not Okta's JSON (a proxy's or a login page's HTML, plain text),
/// summarised as its content type and first non-blank line, cut short: never the whole page.
pub(crate) fn summarise_body(content_type: Option<&str>, body: &str) -> String {
    const MAX: usize = 120;
    let content_type = content_type
        .and_then(|v| v.split(';').next())
        .unwrap_or("no content type")
        .trim();
    let line = body.lines().map(str::trim).find(|l| !l.is_empty());
    let Some(line) = line else {
        return format!("empty {content_type} body");
    };
    let mut end = line.len().min(MAX);
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    let more = if end < line.len() || body.trim().lines().nth(1).is_some() {
        " …"
    } else {
        ""
    };
    format!(
        "{content_type} body, {NOT_OKTA_JSON}: {}{more}",
        &line[..end]
    )
}
