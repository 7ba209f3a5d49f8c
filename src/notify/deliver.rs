//! One delivery attempt over HTTP: a POST of the rendered body to a receiver, through one
//! reqwest client built once (rustls, no redirects, a per-attempt timeout). The outcome is a
//! status and a short error text, never the URL (a Slack webhook URL is a credential) and
//! never the secret (its header is marked sensitive). A response body is never read whole:
//! at most [`ERROR_BODY_LIMIT`] bytes of an error answer are kept, for the error text.

use std::time::{Duration, SystemTime};

use percent_encoding::percent_decode_str;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, DATE, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::payload::{self, Event};
use super::retry::Retry;
use super::{EventKind, Format};
use crate::config::NotifyConfig;

/// The header carrying the event id receivers de-duplicate on.
pub const EVENT_ID_HEADER: &str = "x-revokd-event-id";
/// The header carrying the event kind.
pub const EVENT_KIND_HEADER: &str = "x-revokd-event";
/// The most of an error response's body read, for the error text.
pub const ERROR_BODY_LIMIT: usize = 512;

/// A `[[notify]]` receiver, ready to send to.
#[derive(Clone)]
pub struct Receiver {
    pub name: String,
    url: Url,
    pub format: Format,
    events: Option<Vec<EventKind>>,
    secret: Option<SecretString>,
    pub timeout: Duration,
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    pub max_attempts: u32,
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("name", &self.name)
            .field("origin", &self.url.origin().ascii_serialization())
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

impl Receiver {
    /// The receiver a validated `[[notify]]` entry describes; `None` if its URL does not parse
    /// (validation refuses that first).
    pub fn from_config(config: &NotifyConfig) -> Option<Receiver> {
        Some(Receiver {
            name: config.name.clone(),
            url: Url::parse(&config.url).ok()?,
            format: config.format,
            events: config.events.clone(),
            secret: config.secret.clone(),
            timeout: config.timeout,
            min_backoff: config.min_backoff,
            max_backoff: config.max_backoff,
            max_attempts: config.max_attempts,
        })
    }

    /// The kinds this receiver is sent.
    pub fn events(&self) -> &[EventKind] {
        self.events.as_deref().unwrap_or(&EventKind::ALL)
    }
}

/// The HTTP client every delivery uses: no redirects (a receiver answering 3xx has failed),
/// rustls, a connect timeout, `User-Agent: revokd/<version>`.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent(concat!(
            env!("CARGO_PKG_NAME"),
            "/",
            env!("CARGO_PKG_VERSION")
        ))
        .connect_timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_default()
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The receiver answered 2xx.
    Delivered { status: u16 },
    /// Anything else: a status (if one came), what went wrong, and what it says of the next
    /// attempt.
    Failed {
        status: Option<u16>,
        error: String,
        retry: Retry,
    },
}

/// POSTs `event` to `receiver` once, within `receiver.timeout` for the whole exchange.
pub async fn send(client: &reqwest::Client, receiver: &Receiver, event: &Event<'_>) -> Outcome {
    let body = payload::body(event, receiver.format).to_string();
    let mut request = client
        .post(receiver.url.clone())
        .timeout(receiver.timeout)
        .header(CONTENT_TYPE, "application/json")
        .header(EVENT_KIND_HEADER, event.kind.as_str())
        .body(body);
    if let Ok(id) = HeaderValue::from_str(event.id) {
        request = request.header(EVENT_ID_HEADER, id);
    }
    if let Some(secret) = &receiver.secret {
        match HeaderValue::from_str(&format!("Bearer {}", secret.expose_secret())) {
            Ok(mut value) => {
                value.set_sensitive(true);
                request = request.header(AUTHORIZATION, value);
            }
            Err(_) => {
                return Outcome::Failed {
                    status: None,
                    error: "the secret is not a valid header value".into(),
                    retry: Retry::Backoff,
                };
            }
        }
    }
    let mut response = match request.send().await {
        Ok(response) => response,
        Err(e) => {
            return Outcome::Failed {
                status: None,
                error: describe(&e, receiver.timeout),
                retry: Retry::Backoff,
            };
        }
    };
    let status = response.status();
    if status.is_success() {
        return Outcome::Delivered {
            status: status.as_u16(),
        };
    }
    // A `Retry-After` date is read against the receiver's own `Date`, as it wrote it.
    let said_now = (response.headers().get(DATE))
        .and_then(|d| httpdate::parse_http_date(d.to_str().ok()?).ok());
    let retry = Retry::of(
        status,
        response.headers(),
        said_now.unwrap_or_else(SystemTime::now),
    );
    let mut error = if status.is_redirection() {
        format!("answered {status}: redirects are not followed")
    } else {
        let mut head = Vec::new();
        while head.len() < ERROR_BODY_LIMIT {
            match response.chunk().await {
                Ok(Some(chunk)) => head.extend_from_slice(&chunk),
                Ok(None) | Err(_) => break,
            }
        }
        let cut = head.len() >= ERROR_BODY_LIMIT;
        head.truncate(ERROR_BODY_LIMIT);
        let mut secrets = url_secrets(&receiver.url);
        secrets.extend(
            receiver
                .secret
                .as_ref()
                .map(|s| s.expose_secret().to_owned()),
        );
        format!("answered {status}: {}", error_text(&head, cut, &secrets))
    };
    if retry == Retry::Refused {
        error.push_str(" (not retried: the receiver refused the request)");
    }
    Outcome::Failed {
        status: Some(status.as_u16()),
        error,
        retry,
    }
}

/// What of a receiver's URL may be a credential, as a receiver could echo it back ("Cannot
/// POST /hooks/…"): the URL whole, its path and query, and each path segment and query value
/// of 8 characters or more (as sent, and decoded).
fn url_secrets(url: &Url) -> Vec<String> {
    let mut parts = vec![url.as_str().to_owned(), url.path().to_owned()];
    parts.extend(url.query().map(str::to_owned));
    parts.extend(url.path_segments().into_iter().flatten().map(str::to_owned));
    let pairs = url.query().into_iter().flat_map(|q| q.split('&'));
    parts.extend(pairs.flat_map(|kv| kv.split('=')).map(str::to_owned));
    let decoded: Vec<String> = (parts.iter())
        .map(|p| percent_decode_str(p).decode_utf8_lossy().into_owned())
        .collect();
    parts.extend(decoded);
    parts.retain(|s| s.chars().count() >= 8);
    parts
}

/// The head of an error body as kept: each secret taken out of its bytes first, wherever it
/// stands (a receiver may echo the request back), longest first, and, when the head was `cut`
/// at [`ERROR_BODY_LIMIT`], whatever of a secret it ends with; then control characters dropped
/// and the text cut to 200 characters.
fn error_text(head: &[u8], cut: bool, secrets: &[String]) -> String {
    let mut bytes = head.to_vec();
    let mut secrets: Vec<&[u8]> = (secrets.iter())
        .map(|s| s.as_bytes())
        .filter(|s| !s.is_empty())
        .collect();
    secrets.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
    secrets.dedup();
    for secret in secrets {
        let mut kept = Vec::with_capacity(bytes.len());
        let mut rest = bytes.as_slice();
        while let Some(at) = rest.windows(secret.len()).position(|w| w == secret) {
            kept.extend_from_slice(&rest[..at]);
            kept.extend_from_slice(b"[redacted]");
            rest = &rest[at + secret.len()..];
        }
        kept.extend_from_slice(rest);
        bytes = kept;
        let tail = (1..secret.len())
            .rev()
            .find(|&n| bytes.ends_with(&secret[..n]));
        if let Some(n) = tail.filter(|_| cut) {
            bytes.truncate(bytes.len() - n);
            bytes.extend_from_slice(b"[redacted]");
        }
    }
    let text = String::from_utf8_lossy(&bytes);
    let text: String = text.chars().filter(|c| !c.is_control()).take(200).collect();
    text.trim().to_owned()
}

/// A transport error in words, without the URL.
fn describe(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        return format!(
            "no answer within {}",
            crate::config::duration::format(timeout)
        );
    }
    let what = if e.is_connect() {
        "cannot connect"
    } else {
        "the request failed"
    };
    let mut text = what.to_owned();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_piece_of_the_secret_is_kept_from_an_error_body() {
        // A tab and two-byte letters inside the secret.
        let secret = "s3cr3t-\tvälue-pässwörd-0123456789";
        let pieces = |text: &str| {
            (0..secret.len() - 8)
                .filter(|&i| secret.is_char_boundary(i) && secret.is_char_boundary(i + 8))
                .any(|i| text.contains(&secret[i..i + 8]))
        };
        let echo = |pad: &str, n: usize| format!("{}Bearer {secret}\r\nmore", pad.repeat(n));
        // Across the 200th character, and wherever the whole body is kept.
        for n in [0, 170, 190, 199, 400] {
            let text = error_text(echo("x", n).as_bytes(), false, &[secret.to_owned()]);
            assert!(!pieces(&text), "at {n}: {text}");
        }
        // Cut by the head's end within 200 characters (three-byte text before it), at every
        // byte of the secret, a letter split in two included.
        for n in 150..=168 {
            let body = echo("€", n);
            let head = &body.as_bytes()[..ERROR_BODY_LIMIT.min(body.len())];
            let text = error_text(head, true, &[secret.to_owned()]);
            assert!(
                !pieces(&text) && !text.contains("s3cr"),
                "cut at {n}: {text}"
            );
        }
        // A body that ends with the secret's first letters, not cut: kept as it is.
        assert_eq!(
            error_text(b"a status", false, &[secret.to_owned()]),
            "a status"
        );
        assert_eq!(error_text(b"  plain\nerror ", false, &[]), "plainerror");
    }

    #[test]
    fn the_credentials_of_the_receivers_url_are_kept_from_an_error_body() {
        let url =
            Url::parse("https://h.example/services/T0A1/s%C3%A9cret-token-01?code=k3y-0123456789")
                .expect("a URL");
        let secrets = url_secrets(&url);
        for body in [
            format!("Cannot POST {url}"),
            "Cannot POST /services/T0A1/s%C3%A9cret-token-01?code=k3y-0123456789".to_owned(),
            "no such token: sécret-token-01".to_owned(),
            "bad code k3y-0123456789".to_owned(),
        ] {
            let text = error_text(body.as_bytes(), false, &secrets);
            assert!(text.contains("[redacted]"), "{text}");
            for part in ["cret-token-01", "k3y-0123456789"] {
                assert!(!text.contains(part), "{body} → {text}");
            }
        }
        assert_eq!(error_text(b"bad", false, &secrets), "bad");
    }
}
