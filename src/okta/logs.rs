//! The System Log (`GET /api/v1/logs`) as a polling client uses it, and the `LogEvent` shape
//! that event hooks deliver too. Okta's polling pattern (FACTS §4): the first request carries
//! `since` and `sortOrder=ASCENDING` and no `until`; every answer carries a `Link rel="next"`,
//! even when empty, and that URL is persisted and requested verbatim next time (`after` is
//! opaque and never built by hand). Requests go through the same budget as every other call,
//! in their own `/api/v1/logs` bucket.
//!
//! Events are decoded as leniently as the `LogEvent` schema demands, which requires no field:
//! an event without `uuid` or `eventType` cannot make an offboarding job (no type to select
//! it, no id to de-duplicate it), so it is passed over rather than failing its page or
//! delivery; a `target` that is `null` or absent means no targets.

use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::Method;
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use serde_json::value::RawValue;
use url::Url;

use super::client::OktaClient;
use super::error::{Error, excerpt};
use super::model;
use super::page::parse_link_header;

/// One System Log event (`LogEvent`) that offboarding can use: it has a `uuid` and an
/// `eventType`. Only the fields revokd reads; the rest is ignored. Decoded through
/// [`deserialize_events`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEvent {
    pub uuid: String,
    pub event_type: String,
    pub published: Option<String>,
    pub target: Vec<LogTarget>,
    /// `outcome.result` (`SUCCESS`, `FAILURE`, …), when Okta sent one.
    pub result: Option<String>,
}

/// The members of a `LogEvent` revokd reads, as Okta may send them: any JSON, each read only
/// when it has the shape the contract gives (a number for a uuid, a string for `target`, a
/// `null` target entry are read as absent), so one odd event fails neither its neighbours, its
/// delivery nor its page. The other members (`debugContext`, `client`, …) are skipped unread.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SentEvent {
    #[serde(default)]
    uuid: Option<Value>,
    #[serde(default)]
    event_type: Option<Value>,
    #[serde(default)]
    published: Option<Value>,
    #[serde(default)]
    target: Option<Value>,
    #[serde(default)]
    outcome: Option<Value>,
}

/// The event in `raw`, if it is an object with a string `uuid` and `eventType`.
fn usable(raw: &RawValue) -> Option<LogEvent> {
    let Ok(sent) = serde_json::from_str::<SentEvent>(raw.get()) else {
        tracing::debug!("a System Log event that is not an object is passed over");
        return None;
    };
    let text = |v: &Option<Value>| v.as_ref()?.as_str().map(str::to_owned);
    let (Some(uuid), Some(event_type)) = (text(&sent.uuid), text(&sent.event_type)) else {
        tracing::debug!(
            okta.event_uuid = text(&sent.uuid).unwrap_or_default(),
            okta.event_type = text(&sent.event_type).unwrap_or_default(),
            "a System Log event without uuid or eventType is passed over"
        );
        return None;
    };
    let target = (sent
        .target
        .as_ref()
        .and_then(Value::as_array)
        .into_iter()
        .flatten())
    .filter(|t| t.is_object())
    .map(|t| {
        let text = |member: &str| t.get(member)?.as_str().map(str::to_owned);
        LogTarget {
            id: text("id"),
            kind: text("type"),
            alternate_id: text("alternateId"),
        }
    })
    .collect();
    Some(LogEvent {
        uuid,
        event_type,
        published: text(&sent.published),
        target,
        // Only a string `result` in an object is read.
        result: (sent.outcome.as_ref())
            .and_then(|o| o.get("result")?.as_str())
            .map(str::to_owned),
    })
}

/// Decodes a `LogEvent[]` (a System Log page, an event hook's `data.events`), keeping the
/// events that have a `uuid` and an `eventType` and passing over the others (see `usable`).
/// Each event is held as its text until read, never as a tree of every member.
pub fn deserialize_events<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<LogEvent>, D::Error> {
    let sent = Vec::<Box<RawValue>>::deserialize(d)?;
    Ok(sent.iter().filter_map(|raw| usable(raw)).collect())
}

/// A System Log page's body.
#[derive(Deserialize)]
#[serde(transparent)]
struct SentPage(#[serde(deserialize_with = "deserialize_events")] Vec<LogEvent>);

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
    /// Whether the event says its action did not take effect (`outcome.result` `FAILURE`,
    /// `DENY` or `SKIPPED`): a deactivation that failed leaves the user active. Any other
    /// result, or none, is taken as done.
    pub fn failed(&self) -> bool {
        matches!(self.result.as_deref(), Some("FAILURE" | "DENY" | "SKIPPED"))
    }

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
        let SentPage(events) = model::decode(&reply.body).map_err(|source| Error::Decode {
            source,
            body: excerpt(&reply.body),
            request_id: reply.request_id.clone(),
        })?;
        let next = match parse_link_header(&reply.headers) {
            None => None,
            Some(link) => Some(
                super::page::resolve_next(self.base_url(), url, &link).map_err(|e| {
                    Error::Refused {
                        reason: format!("System Log {e}"),
                        request_id: reply.request_id.clone(),
                    }
                })?,
            ),
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

    fn events(body: &str) -> Vec<LogEvent> {
        let SentPage(events) = model::decode(body).expect("the page decodes");
        events
    }

    #[test]
    fn an_event_names_its_user_target() {
        let events = events(
            r#"[{"uuid":"u1","eventType":"user.lifecycle.deactivate","published":"2026-01-01T00:00:00.000Z",
               "actor":{"id":"00uadmin","type":"User"},
               "target":[{"id":"0oa1","type":"AppInstance"},{"id":"00u9","type":"User","alternateId":"a@b"}]}]"#,
        );
        assert_eq!(events[0].user_id(), Some("00u9"));
    }

    #[test]
    fn events_without_uuid_or_event_type_are_passed_over_and_a_null_target_is_no_target() {
        let events = events(
            r#"[{"eventType":"user.lifecycle.deactivate","target":[{"id":"00u1","type":"User"}]},
                {"uuid":"u2","target":[{"id":"00u2","type":"User"}]},
                {"uuid":null,"eventType":null},
                {"uuid":"u4","eventType":"user.lifecycle.deactivate","target":null},
                {"uuid":"u5","eventType":"user.lifecycle.deactivate"},
                {"uuid":"u6","eventType":"user.lifecycle.deactivate","published":null,
                 "target":[{"id":null,"type":"User","alternateId":null}]},
                {"uuid":"u7","eventType":"user.lifecycle.deactivate","target":[{"id":"00u7","type":"User"}]}]"#,
        );
        let seen: Vec<(&str, Option<&str>)> = events
            .iter()
            .map(|e| (e.uuid.as_str(), e.user_id()))
            .collect();
        assert_eq!(
            seen,
            vec![
                ("u4", None),
                ("u5", None),
                ("u6", None),
                ("u7", Some("00u7"))
            ]
        );
    }

    #[test]
    fn a_page_that_is_not_an_array_is_still_malformed_but_an_odd_event_is_passed_over() {
        assert!(model::decode::<SentPage>(r#"{"uuid":"u1"}"#).is_err());
        // An event no poll could ever use would otherwise stop the poller at its page for
        // good, and a hook delivery's 400 is never retried by Okta.
        let page = r#"[{"uuid":5,"eventType":"x"},7,{"uuid":"u2","eventType":"x"}]"#;
        let SentPage(events) = model::decode::<SentPage>(page).expect("read");
        let uuids: Vec<&str> = events.iter().map(|e| e.uuid.as_str()).collect();
        assert_eq!(uuids, ["u2"]);
    }

    #[test]
    fn the_filter_joins_event_types_with_or() {
        let f = event_filter(&["a.b".into(), "c.d".into()]);
        assert_eq!(f, "eventType eq \"a.b\" or eventType eq \"c.d\"");
    }
}
