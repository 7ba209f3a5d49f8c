//! The simulated System Log: events appended by [`super::SimOrg::emit_event`], served by
//! `GET /api/v1/logs` the way FACTS §4 describes. A polling query (no `until`) returns the
//! matching events in persistence order and always a `Link rel="next"` whose opaque `after`
//! resumes right after the last event returned (or where the query stood, when empty). A
//! bounded query (`since` and `until`) has no `next`. `since` with `after` is a 400, as is a
//! filter other than `eventType eq "…"` clauses joined by ` or `. The `LogEvent` schema
//! requires no field, so an event can be emitted without `uuid`, `eventType` or `target` (or
//! with them `null`); an `eventType` filter never matches an event that has none.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::routes::Outcome;

/// Default and maximum `limit`.
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;

/// The log: events in persistence order.
#[derive(Debug, Default)]
pub(crate) struct SysLog {
    events: Vec<Stored>,
}

#[derive(Debug)]
struct Stored {
    seq: u64,
    published: DateTime<Utc>,
    event_type: Option<String>,
    event: Value,
}

impl SysLog {
    /// Appends an event naming `user_id` as its `User` target, changed by `edit` (which may
    /// remove or null any field); returns the `LogEvent` as stored.
    pub(crate) fn emit(
        &mut self,
        event_type: &str,
        user_id: &str,
        at: DateTime<Utc>,
        edit: impl FnOnce(&mut Value),
    ) -> Value {
        let seq = self.events.len() as u64 + 1;
        let uuid = format!(
            "{:08x}-{:04x}-4{:03x}-8000-{seq:012x}",
            at.timestamp() as u32,
            at.timestamp_subsec_millis(),
            seq & 0xfff
        );
        let mut event = json!({
            "uuid": uuid,
            "published": at.to_rfc3339_opts(SecondsFormat::Millis, true),
            "eventType": event_type,
            "version": "0",
            "displayMessage": event_type,
            "severity": "INFO",
            "actor": {"id": "00usimadmin", "type": "User", "alternateId": "admin@example.com", "displayName": "Sim Admin"},
            "target": [{"id": user_id, "type": "User", "alternateId": format!("{user_id}@example.com"), "displayName": user_id}],
            "outcome": {"result": "SUCCESS", "reason": null},
            "transaction": {"id": format!("sim-tx-{seq}"), "type": "WEB", "detail": {}},
        });
        edit(&mut event);
        self.events.push(Stored {
            seq,
            published: at,
            event_type: event["eventType"].as_str().map(str::to_owned),
            event: event.clone(),
        });
        event
    }

    /// Answers `GET /api/v1/logs?{query}`.
    pub(crate) fn query(&self, base: &str, path: &str, query: &str, error_id: &str) -> Outcome {
        let bad =
            |why: &str| Outcome::error(400, Some(format!("Invalid request: {why}")), &[], error_id);
        let mut q = Query::default();
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            match k.as_ref() {
                "since" => q.since = Some(v.into_owned()),
                "until" => q.until = Some(v.into_owned()),
                "after" => q.after = Some(v.into_owned()),
                "filter" => q.filter = Some(v.into_owned()),
                "sortOrder" => q.sort = Some(v.into_owned()),
                "limit" => q.limit = Some(v.into_owned()),
                _ => {}
            }
        }
        if q.since.is_some() && q.after.is_some() {
            return bad("since and after are mutually exclusive");
        }
        let limit = match q.limit.as_deref().map(str::parse::<usize>) {
            None => DEFAULT_LIMIT,
            Some(Ok(n)) if n <= MAX_LIMIT => n.max(1),
            Some(_) => return bad("limit must be an integer between 0 and 1000"),
        };
        let types = match q.filter.as_deref().map(parse_filter) {
            None => None,
            Some(Some(types)) => Some(types),
            Some(None) => return bad("unsupported filter"),
        };
        let parse_time = |t: &str| t.parse::<DateTime<Utc>>().ok();
        let since = match q.since.as_deref().map(parse_time) {
            Some(None) => return bad("since is not ISO 8601"),
            Some(Some(t)) => Some(t),
            None if q.after.is_none() => Some(Utc::now() - chrono::Duration::days(7)),
            None => None,
        };
        let until = match q.until.as_deref().map(parse_time) {
            Some(None) => return bad("until is not ISO 8601"),
            Some(Some(t)) => Some(t),
            None => None,
        };
        let after = match q.after.as_deref().map(decode_after) {
            Some(None) => return bad("after is not a cursor this org issued"),
            Some(Some(seq)) => seq,
            None => 0,
        };
        let matching: Vec<&Stored> = self
            .events
            .iter()
            .filter(|e| e.seq > after)
            .filter(|e| since.is_none_or(|s| e.published >= s))
            .filter(|e| until.is_none_or(|u| e.published < u))
            .filter(|e| {
                types
                    .as_ref()
                    .is_none_or(|t| e.event_type.as_ref().is_some_and(|et| t.contains(et)))
            })
            .take(limit)
            .collect();
        let body: Vec<&Value> = matching.iter().map(|e| &e.event).collect();
        let self_link = format!("{base}{path}?{query}");
        let next_link = if until.is_some() {
            None
        } else {
            let resume = matching.last().map_or_else(
                || self.events.last().map_or(after, |e| e.seq.max(after)),
                |e| e.seq,
            );
            let mut next = url::form_urlencoded::Serializer::new(String::new());
            next.append_pair("after", &encode_after(resume));
            if let Some(f) = &q.filter {
                next.append_pair("filter", f);
            }
            next.append_pair("sortOrder", q.sort.as_deref().unwrap_or("ASCENDING"));
            next.append_pair("limit", &limit.to_string());
            Some(format!("{base}{path}?{}", next.finish()))
        };
        Outcome {
            self_link: Some(self_link),
            next_link,
            ..Outcome::json(200, &body)
        }
    }
}

#[derive(Debug, Default)]
struct Query {
    since: Option<String>,
    until: Option<String>,
    after: Option<String>,
    filter: Option<String>,
    sort: Option<String>,
    limit: Option<String>,
}

/// `eventType eq "a" or eventType eq "b"` → the types; anything else → `None`.
fn parse_filter(filter: &str) -> Option<Vec<String>> {
    filter
        .split(" or ")
        .map(|clause| {
            let value = clause.trim().strip_prefix("eventType eq ")?.trim();
            let value = value.strip_prefix('"')?.strip_suffix('"')?;
            Some(value.to_owned())
        })
        .collect()
}

fn encode_after(seq: u64) -> String {
    format!("1{seq:015x}")
}

fn decode_after(cursor: &str) -> Option<u64> {
    u64::from_str_radix(cursor.strip_prefix('1')?, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(o: &Outcome) -> Vec<Value> {
        o.body
            .as_deref()
            .and_then(|b| serde_json::from_slice(b).ok())
            .unwrap_or_default()
    }

    #[test]
    fn polling_returns_a_next_link_even_when_empty_and_resumes_after_the_last_event() {
        let mut log = SysLog::default();
        let t0 = Utc::now() - chrono::Duration::minutes(5);
        log.emit("user.lifecycle.deactivate", "00u1", t0, |_| {});
        log.emit("user.session.start", "00u2", t0, |_| {});
        let filter = "filter=eventType%20eq%20%22user.lifecycle.deactivate%22";
        let since = format!(
            "since={}&sortOrder=ASCENDING&{filter}",
            (t0 - chrono::Duration::minutes(1))
                .to_rfc3339_opts(SecondsFormat::Millis, true)
                .replace('+', "%2B")
        );
        let first = log.query("http://o", "/api/v1/logs", &since, "e");
        assert_eq!(body(&first).len(), 1);
        let next = first.next_link.expect("a next link");
        let query = next.split_once('?').unwrap().1;
        let empty = log.query("http://o", "/api/v1/logs", query, "e");
        assert!(body(&empty).is_empty());
        assert!(empty.next_link.is_some());
        log.emit("user.lifecycle.deactivate", "00u3", Utc::now(), |_| {});
        let later = log.query("http://o", "/api/v1/logs", query, "e");
        assert_eq!(body(&later)[0]["target"][0]["id"], "00u3");
    }

    #[test]
    fn events_can_lack_any_field_and_a_filter_never_matches_one_without_an_event_type() {
        let mut log = SysLog::default();
        let t0 = Utc::now() - chrono::Duration::minutes(5);
        let kind = "user.lifecycle.deactivate";
        log.emit(kind, "00u1", t0, |e| e["target"] = Value::Null);
        log.emit(kind, "00u2", t0, |e| {
            e.as_object_mut().map(|o| o.remove("uuid"));
        });
        log.emit(kind, "00u3", t0, |e| {
            e.as_object_mut().map(|o| o.remove("eventType"));
        });
        let since = "since=2000-01-01T00:00:00Z";
        let all = body(&log.query("http://o", "/api/v1/logs", since, "e"));
        assert_eq!(all.len(), 3);
        assert!(all[0]["target"].is_null());
        assert!(all[1].get("uuid").is_none());
        assert!(all[2].get("eventType").is_none());
        let filter = format!("{since}&filter=eventType%20eq%20%22{kind}%22");
        let filtered = body(&log.query("http://o", "/api/v1/logs", &filter, "e"));
        assert_eq!(filtered.len(), 2);
    }

    #[test]
    fn since_with_after_is_refused() {
        let log = SysLog::default();
        let o = log.query(
            "http://o",
            "/api/v1/logs",
            "since=2026-01-01T00:00:00Z&after=10",
            "e",
        );
        assert_eq!(o.status, 400);
    }
}
