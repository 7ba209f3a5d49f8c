//! The System Log (`GET /api/v1/logs`) as a polling client uses it, and the `LogEvent` shape
//! that event hooks deliver too. Okta's polling pattern (FACTS §4): the first request carries
//! `since` and `sortOrder=ASCENDING` and no `until`; every answer carries a `Link rel="next"`,
//! even when empty, and that URL is persisted and requested verbatim next time (`after` is
//! opaque and never built by hand). Requests go through the same budget as every other call,
//! in their own `/api/v1/logs` bucket.

use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::Method;
use serde::Deserialize;
use url::Url;

use super::client::OktaClient;
use super::error::{Error, excerpt};
use super::model;
use super::page::parse_link_header;

/// One System Log event (`LogEvent`), only the fields revokd reads; the rest is ignored.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogEvent {
    pub uuid: String,
    pub event_type: String,
    #[serde(default)]
    pub published: Option<String>,
    #[serde(default)]
    pub target: Vec<LogTarget>,
}

/// One of an event's `target[]` entries.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogTarget {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub alternate_id: Option<String>,
}

impl LogEvent {
    /// The id of the event's `User` target, if it has one.
    pub fn user_id(&self) -> Option<&str> {
        self.target
            .iter()
            .find(|t| t.kind.as_deref() == Some("User"))
            .and_then(|t| t.id.as_deref())
    }
}

/// One page of a System Log poll.
#[derive(Debug)]
pub struct LogPage {
    pub events: Vec<LogEvent>,
    /// The `next` link, vetted to stay on the org's origin (always present on polling queries).
    pub next: Option<Url>,
    pub request_id: Option<String>,
}

impl OktaClient {
    /// The first polling URL: `since` (ISO 8601), ascending, the event types as an `eq … or`
    /// filter, and `limit`.
    pub fn first_system_log_url(
        &self,
        since: DateTime<Utc>,
        event_types: &[String],
        limit: u32,
    ) -> Url {
        let mut url = self.url(&["api", "v1", "logs"]);
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("since", &since.to_rfc3339_opts(SecondsFormat::Millis, true));
            q.append_pair("sortOrder", "ASCENDING");
            if !event_types.is_empty() {
                q.append_pair("filter", &event_filter(event_types));
            }
            q.append_pair("limit", &limit.to_string());
        }
        url
    }

    /// Fetches one page from `url` (the first URL or a persisted `next` link). A `next` link
    /// on another origin is refused, so the credential is never sent elsewhere.
    pub async fn system_log_page(&self, url: &Url) -> Result<LogPage, Error> {
        if url.origin() != self.base_url().origin() {
            return Err(Error::Refused {
                reason: format!("System Log URL {url} is not on the org's origin"),
                request_id: None,
            });
        }
        let reply = self.execute(Method::GET, url.clone()).await?;
        let events: Vec<LogEvent> = model::decode(&reply.body).map_err(|source| Error::Decode {
            source,
            body: excerpt(&reply.body),
            request_id: reply.request_id.clone(),
        })?;
        let next = match parse_link_header(&reply.headers) {
            None => None,
            Some(link) => {
                let next = url.join(&link).map_err(|e| Error::Refused {
                    reason: format!("unusable System Log next link: {e}"),
                    request_id: reply.request_id.clone(),
                })?;
                if next.origin() != self.base_url().origin() {
                    return Err(Error::Refused {
                        reason: format!("System Log next link {next} leaves the org's origin"),
                        request_id: reply.request_id,
                    });
                }
                Some(next)
            }
        };
        Ok(LogPage {
            events,
            next,
            request_id: reply.request_id,
        })
    }
}

/// `eventType eq "a" or eventType eq "b"`.
pub fn event_filter(event_types: &[String]) -> String {
    event_types
        .iter()
        .map(|t| format!("eventType eq \"{t}\""))
        .collect::<Vec<_>>()
        .join(" or ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_names_its_user_target() {
        let event: LogEvent = serde_json::from_str(
            r#"{"uuid":"u1","eventType":"user.lifecycle.deactivate","published":"2026-01-01T00:00:00.000Z",
               "actor":{"id":"00uadmin","type":"User"},
               "target":[{"id":"0oa1","type":"AppInstance"},{"id":"00u9","type":"User","alternateId":"a@b"}]}"#,
        )
        .unwrap();
        assert_eq!(event.user_id(), Some("00u9"));
    }

    #[test]
    fn the_filter_joins_event_types_with_or() {
        let f = event_filter(&["a.b".into(), "c.d".into()]);
        assert_eq!(f, "eventType eq \"a.b\" or eventType eq \"c.d\"");
    }
}
