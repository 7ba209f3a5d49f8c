//! Okta events → offboarding jobs: an event hook delivery's body (`data.events[]`) or a
//! System Log page, filtered by `offboarding.event_types`, one job per event uuid.

use serde::Deserialize;

use crate::ids::UserId;
use crate::okta::LogEvent;
use crate::store::{JobSource, NewJob};

/// An event hook delivery (FACTS §3): `{"eventType":"com.okta.event_hook", …,
/// "data":{"events":[LogEvent…]}}`. Fields revokd does not read are ignored.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HookDelivery {
    /// Read when it is a string; any other shape is none (it is only logged).
    #[serde(default, deserialize_with = "text_or_none")]
    pub event_id: Option<String>,
    pub data: HookData,
}

fn text_or_none<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let value = serde_json::Value::deserialize(d)?;
    Ok(value.as_str().map(str::to_owned))
}

/// The `data` member of a delivery. Events without `uuid` or `eventType` are passed over
/// (see [`crate::okta::logs::deserialize_events`]), so they cannot turn the delivery into a
/// 400 that Okta would not retry.
#[derive(Debug, Clone, Deserialize)]
pub struct HookData {
    #[serde(deserialize_with = "crate::okta::logs::deserialize_events")]
    pub events: Vec<LogEvent>,
}

/// Longest event uuid kept (Okta's are 36 characters): a longer one is not Okta's.
const MAX_UUID: usize = 128;

/// The jobs for the events whose type is one of `event_types`, whose action took effect (see
/// [`LogEvent::failed`]) and that name a `User` target with an id Okta could have issued. Any
/// other event makes no job: it never reaches Okta, so it must not take a place in the hourly
/// breaker's count either, nor fill a job row.
pub fn jobs_from_events(
    events: &[LogEvent],
    event_types: &[String],
    source: JobSource,
) -> Vec<NewJob> {
    events
        .iter()
        .filter(|e| event_types.iter().any(|t| t == &e.event_type))
        .filter(|e| (1..=MAX_UUID).contains(&e.uuid.len()))
        .filter(|e| !e.failed())
        .filter_map(|e| {
            let user = e.user_id().filter(|u| UserId::new(*u).is_ok())?;
            Some(NewJob {
                user_id: user.to_owned(),
                source,
                event_id: Some(e.uuid.clone()),
                event_type: Some(e.event_type.clone()),
                reason: Some(format!("Okta event {} ({})", e.event_type, e.uuid)),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An event whose action did not take effect (a deactivation that failed) offboards
    /// nobody; any other outcome, or none, does.
    #[test]
    fn an_event_whose_action_failed_makes_no_job() {
        let event = |uuid: &str, outcome: &str| {
            format!(
                r#"{{"uuid":"{uuid}","eventType":"user.lifecycle.deactivate",{outcome}
                   "target":[{{"id":"00u1","type":"User"}}]}}"#
            )
        };
        let events = [
            event("ok", r#""outcome":{"result":"SUCCESS"},"#),
            event("failed", r#""outcome":{"result":"FAILURE","reason":"x"},"#),
            event("denied", r#""outcome":{"result":"DENY"},"#),
            event("skipped", r#""outcome":{"result":"SKIPPED"},"#),
            event("unknown", r#""outcome":{"result":"UNKNOWN"},"#),
            event("none", ""),
            event("null", r#""outcome":null,"#),
            // Shapes Okta's contract does not give, read as no result, never a failed page.
            event("odd", r#""outcome":"FAILURE","#),
            event("number", r#""outcome":{"result":5},"#),
        ];
        let body = format!(r#"{{"data":{{"events":[{}]}}}}"#, events.join(","));
        let delivery: HookDelivery = serde_json::from_str(&body).unwrap();
        let types = ["user.lifecycle.deactivate".to_owned()];
        let jobs = jobs_from_events(&delivery.data.events, &types, JobSource::EventHook);
        let ids: Vec<_> = jobs.iter().filter_map(|j| j.event_id.as_deref()).collect();
        assert_eq!(ids, ["ok", "unknown", "none", "null", "odd", "number"]);
    }

    #[test]
    fn only_configured_event_types_with_a_user_target_become_jobs() {
        let body = r#"{"eventType":"com.okta.event_hook","eventTypeVersion":"1.0","eventId":"d1",
            "data":{"events":[
              {"uuid":"e1","eventType":"user.lifecycle.deactivate","target":[{"id":"00u1","type":"User"}]},
              {"uuid":"e2","eventType":"user.session.start","target":[{"id":"00u2","type":"User"}]},
              {"uuid":"e3","eventType":"user.lifecycle.deactivate","target":[{"id":"0oa1","type":"AppInstance"}]}
            ]}}"#;
        let delivery: HookDelivery = serde_json::from_str(body).unwrap();
        let jobs = jobs_from_events(
            &delivery.data.events,
            &["user.lifecycle.deactivate".to_owned()],
            JobSource::EventHook,
        );
        assert_eq!(jobs.len(), 1);
        assert_eq!(jobs[0].user_id, "00u1");
        assert_eq!(jobs[0].event_id.as_deref(), Some("e1"));
    }

    /// `(user, event uuid)` of each job a delivery's `user.lifecycle.deactivate` events make.
    fn deactivations(body: &str) -> Vec<(String, Option<String>)> {
        let delivery: HookDelivery = serde_json::from_str(body).expect("the delivery is read");
        let types = ["user.lifecycle.deactivate".to_owned()];
        let jobs = jobs_from_events(&delivery.data.events, &types, JobSource::EventHook);
        jobs.into_iter().map(|j| (j.user_id, j.event_id)).collect()
    }

    #[test]
    fn a_delivery_with_events_offboarding_cannot_use_keeps_the_others() {
        let body = r#"{"eventType":"com.okta.event_hook","eventId":"d2","data":{"events":[
              {"eventType":"user.lifecycle.deactivate","target":[{"id":"00u1","type":"User"}]},
              {"uuid":"e2","target":[{"id":"00u2","type":"User"}]},
              {"uuid":"e3","eventType":"user.lifecycle.deactivate","target":null},
              {"uuid":"e4","eventType":"user.lifecycle.deactivate","target":[{"id":"00u4","type":"User"}]}
            ]}}"#;
        assert_eq!(deactivations(body), [("00u4".into(), Some("e4".into()))]);
    }

    #[test]
    fn an_event_naming_a_user_id_okta_could_not_have_issued_makes_no_job() {
        let long = "0".repeat(100_000);
        let ids = [
            "../00u1",
            "00u1/clients",
            "",
            "00u 1",
            long.as_str(),
            "00u5",
        ];
        let events: Vec<serde_json::Value> = (ids.iter().enumerate())
            .map(|(i, id)| {
                serde_json::json!({"uuid": format!("e{i}"), "eventType": "user.lifecycle.deactivate",
                    "target": [{"id": id, "type": "User"}]})
            })
            .chain([serde_json::json!({"uuid": "u".repeat(1_000),
                "eventType": "user.lifecycle.deactivate", "target": [{"id": "00u6", "type": "User"}]})])
            .collect();
        let body = serde_json::json!({"data": {"events": events}}).to_string();
        let delivery: HookDelivery = serde_json::from_str(&body).unwrap();
        let jobs = jobs_from_events(
            &delivery.data.events,
            &["user.lifecycle.deactivate".to_owned()],
            JobSource::EventHook,
        );
        let made: Vec<&str> = jobs
            .iter()
            .map(|j| &j.user_id[..j.user_id.len().min(20)])
            .collect();
        assert_eq!(
            made,
            ["00u5"],
            "only a well-formed user id and event uuid make a job"
        );
    }

    #[test]
    fn a_body_without_events_is_malformed() {
        assert!(serde_json::from_str::<HookDelivery>(r#"{"data":{}}"#).is_err());
        assert!(serde_json::from_str::<HookDelivery>("{not json").is_err());
    }

    #[test]
    fn an_event_of_a_shape_okta_does_not_send_fails_neither_the_delivery_nor_its_neighbours() {
        let body = r#"{"eventType":"com.okta.event_hook","eventId":7,"data":{"events":[
              {"uuid":"e1","eventType":"user.lifecycle.deactivate","target":[{"id":"00u1","type":"User"}]},
              {"uuid":5,"eventType":"user.lifecycle.deactivate","target":[{"id":"00u2","type":"User"}]},
              {"uuid":"e3","eventType":"user.lifecycle.deactivate","target":"x"},
              {"uuid":"e4","eventType":"user.lifecycle.deactivate","target":[null,{"id":"00u4","type":"User"}]},
              {"uuid":"e5","eventType":7,"target":[{"id":"00u5","type":"User"}]},
              {"uuid":"e6","eventType":"user.lifecycle.deactivate","target":[{"id":6,"type":"User"}]},
              "junk",
              {"uuid":"e8","eventType":"user.lifecycle.deactivate","published":1,"target":[{"id":"00u8","type":"User"}]}
            ]}}"#;
        let made = deactivations(body);
        let made: Vec<(&str, Option<&str>)> = (made.iter())
            .map(|(u, e)| (u.as_str(), e.as_deref()))
            .collect();
        assert_eq!(
            made,
            [
                ("00u1", Some("e1")),
                ("00u4", Some("e4")),
                ("00u8", Some("e8"))
            ]
        );
    }
}
