//! A response on its way out: the [`Reply`] an operation (or a throttle) produced, the
//! response-shaping faults applied to it (links, bodies, headers), and its conversion into an
//! HTTP response with the headers Okta sends on every response. No org state here.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::Value;

use super::limits::RateHeaders;
use super::routes::Outcome;
use super::types::{FaultKind, LinkStyle};

/// A response before headers are written.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: Option<Vec<u8>>,
    content_type: &'static str,
    self_link: Option<String>,
    next_link: Option<String>,
    pub(crate) rate: RateHeaders,
    /// Announce the whole body, send half of it, then break the connection off.
    cut: bool,
    /// Sent by something in front of Okta: none of Okta's `X-Rate-Limit-*` headers.
    pub(crate) not_okta: bool,
    /// A `Retry-After` header, in seconds.
    pub(crate) retry_after: Option<u64>,
}

/// A reply after faults, with the connection-level effects the handler must carry out.
#[derive(Debug)]
pub(crate) struct Shaped {
    pub(crate) reply: Reply,
    pub(crate) strip_date: bool,
    pub(crate) reset: bool,
    pub(crate) duplicate_rate: bool,
}

impl Reply {
    pub(crate) fn from_outcome(outcome: Outcome, rate: RateHeaders) -> Reply {
        Reply {
            status: outcome.status,
            body: outcome.body,
            content_type: "application/json",
            self_link: outcome.self_link,
            next_link: outcome.next_link,
            rate,
            cut: false,
            not_okta: false,
            retry_after: None,
        }
    }

    pub(crate) fn raw(
        status: u16,
        content_type: &'static str,
        body: Vec<u8>,
        rate: RateHeaders,
    ) -> Reply {
        Reply {
            status,
            body: Some(body),
            content_type,
            self_link: None,
            next_link: None,
            rate,
            cut: false,
            not_okta: false,
            retry_after: None,
        }
    }

    /// Puts the reply's `X-Rate-Limit-Reset` on Okta's clock, `skew` seconds ahead of this
    /// host's (behind when negative), and returns Okta's now, for its `Date`.
    pub(crate) fn on_oktas_clock(&mut self, skew: i64) -> std::time::SystemTime {
        if self.rate.reset > 0 {
            self.rate.reset += skew;
        }
        let now = std::time::SystemTime::now();
        match u64::try_from(skew) {
            Ok(ahead) => now + std::time::Duration::from_secs(ahead),
            Err(_) => now - std::time::Duration::from_secs(skew.unsigned_abs()),
        }
    }

    /// Write the reply with Okta's standard headers. `date` is `None` only for the
    /// missing-`Date` fault (the connection strips the one hyper adds).
    pub(crate) fn into_response(
        self,
        request_id: &str,
        date: Option<&str>,
        style: LinkStyle,
        duplicate_rate: bool,
    ) -> Response {
        let announced = self.body.as_ref().map(Vec::len);
        let mut response = Response::new(match self.body {
            Some(body) if self.cut => cut_short(body),
            Some(body) => Body::from(body),
            None => Body::empty(),
        });
        if let (true, Some(len)) = (self.cut, announced) {
            response
                .headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
        }
        *response.status_mut() =
            StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let h = response.headers_mut();
        if response_has_body(self.status) {
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(self.content_type),
            );
        }
        put(h, "x-okta-request-id", request_id);
        if let Some(date) = date {
            put(h, "date", date);
        }
        if let Some(after) = self.retry_after {
            h.insert(header::RETRY_AFTER, HeaderValue::from(after));
        }
        let rate = self.rate;
        if duplicate_rate && !self.not_okta {
            // A looser copy of each, before the true one: clients must take the minimum
            // (FACTS.md §1), not the first value they find.
            h.append(
                "x-rate-limit-limit",
                HeaderValue::from(u64::from(rate.limit) + 100),
            );
            h.append(
                "x-rate-limit-remaining",
                HeaderValue::from(u64::from(rate.remaining) + 50),
            );
            h.append("x-rate-limit-reset", HeaderValue::from(rate.reset + 30));
        }
        if !self.not_okta {
            h.append("x-rate-limit-limit", HeaderValue::from(rate.limit));
            h.append("x-rate-limit-remaining", HeaderValue::from(rate.remaining));
            h.append("x-rate-limit-reset", HeaderValue::from(rate.reset));
        }
        let links: Vec<String> = [(self.self_link, "self"), (self.next_link, "next")]
            .into_iter()
            .filter_map(|(url, rel)| url.map(|u| format!("<{u}>; rel=\"{rel}\"")))
            .collect();
        match style {
            LinkStyle::Separate => links.iter().for_each(|l| append(h, header::LINK, l)),
            LinkStyle::Joined if !links.is_empty() => append(h, header::LINK, &links.join(", ")),
            LinkStyle::Joined => {}
            LinkStyle::Relative => links
                .iter()
                .for_each(|l| append(h, header::LINK, &path_only(l))),
        }
        response
    }
}

/// A body stream of `body`'s first half, then an error, which makes the server break the
/// connection off before the announced length. The stream waits once between the two, so the
/// server writes the head and the half out before it sees the error (else it would break the
/// connection off before the head, a reset rather than a cut body).
fn cut_short(mut body: Vec<u8>) -> Body {
    use futures::StreamExt;
    body.truncate(body.len() / 2);
    let half = futures::stream::iter([Ok::<_, std::io::Error>(body)]);
    let cut = futures::stream::once(async {
        tokio::task::yield_now().await;
        Err(std::io::Error::other("cut short"))
    });
    Body::from_stream(half.chain(cut))
}

fn response_has_body(status: u16) -> bool {
    status != 204
}

fn put(h: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        h.insert(HeaderName::from_static(name), v);
    }
}

fn append(h: &mut HeaderMap, name: HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        h.append(name, v);
    }
}

/// A JSON array of at least `min_len` bytes, repeating the body's first element.
fn oversized(body: Option<&[u8]>, min_len: usize) -> Vec<u8> {
    let first = body
        .and_then(|b| serde_json::from_slice::<Value>(b).ok())
        .and_then(|v| v.as_array().and_then(|a| a.first().cloned()))
        .unwrap_or_else(|| serde_json::json!({ "filler": "x".repeat(64) }));
    let item = serde_json::to_vec(&first).unwrap_or_else(|_| b"{}".to_vec());
    let mut out = Vec::with_capacity(min_len + item.len() + 2);
    out.push(b'[');
    while out.len() < min_len.max(2) {
        if out.len() > 1 {
            out.push(b',');
        }
        out.extend_from_slice(&item);
    }
    out.push(b']');
    out
}

/// Apply the response-shaping faults (those that do not replace the response).
pub(crate) fn shape(mut reply: Reply, faults: &[FaultKind], self_url: &str) -> Shaped {
    let (mut strip_date, mut reset, mut duplicate_rate) = (false, false, false);
    for fault in faults {
        match fault {
            FaultKind::TruncatedBody => {
                if let Some(body) = &mut reply.body {
                    body.truncate(body.len() / 2);
                }
            }
            FaultKind::ForeignNextLink(url) => reply.next_link = Some(url.to_string()),
            FaultKind::CursorLoop => reply.next_link = Some(self_url.to_owned()),
            FaultKind::DuplicateRateLimitHeaders => duplicate_rate = true,
            FaultKind::MissingDateHeader => strip_date = true,
            FaultKind::OversizedBody(n) => {
                reply.body = Some(oversized(reply.body.as_deref(), *n));
                reply.status = 200;
                reply.content_type = "application/json";
            }
            FaultKind::WrongContentType => {
                reply.status = 200;
                reply.content_type = "text/html; charset=utf-8";
                reply.body = Some(b"<!DOCTYPE html><html><head><title>Sign In</title></head><body>Okta</body></html>".to_vec());
            }
            FaultKind::ResetConnection => reset = true,
            FaultKind::CutBody => reply.cut = true,
            // The replacing faults were handled before the operation ran.
            FaultKind::Status(_)
            | FaultKind::RateLimited { .. }
            | FaultKind::RateLimitedBare { .. }
            | FaultKind::ConcurrencyLimited
            | FaultKind::Latency(_)
            | FaultKind::MalformedJson
            | FaultKind::IgnoreRevocation
            | FaultKind::RevocationStatus(_)
            | FaultKind::AppliedThenStatus(_)
            | FaultKind::IssuedFirst
            | FaultKind::HangBefore(_)
            | FaultKind::HangBeforeNth { .. }
            | FaultKind::OmitToken { .. }
            | FaultKind::HangAfter(_)
            | FaultKind::GatewayStatus { .. } => {}
        }
    }
    Shaped {
        reply,
        strip_date,
        reset,
        duplicate_rate,
    }
}

/// `<http://host:port/api/…>; rel="next"` as `</api/…>; rel="next"`: an absolute-path
/// reference, which RFC 8288 lets a server send.
fn path_only(link: &str) -> String {
    match link.split_once("://") {
        Some((_, rest)) => match rest.find('/') {
            Some(slash) => format!("<{}", &rest[slash..]),
            None => link.to_owned(),
        },
        None => link.to_owned(),
    }
}
