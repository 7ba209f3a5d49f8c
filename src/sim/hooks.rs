//! Okta's side of event hooks, for tests and the benchmark: the delivery body Okta POSTs
//! (FACTS §3) and a deliverer that can duplicate or drop a delivery, as Okta's at-least-once,
//! best-effort delivery does, or deliver as Okta does (a 3 s wait, one retry after a 5xx or
//! no answer).

use serde_json::{Value, json};

use super::SimOrg;

/// How one delivery goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Sent once.
    Once,
    /// Sent twice (Okta's retry after a lost reply), same body.
    Twice,
    /// Never sent (Okta gave up); the event is only in the System Log.
    Drop,
    /// As Okta sends it (FACTS §3): each attempt given [`OKTA_HOOK_TIMEOUT`], then one retry
    /// after a 5xx or no answer in time, none after a 2xx or a 4xx. An attempt not answered in
    /// time is reported as status 0 (Okta hangs up: the request is dropped on its side).
    AsOkta,
}

/// How long Okta waits for the answer to a delivery.
pub const OKTA_HOOK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// The body Okta POSTs for `events` (`LogEvent`s).
pub fn hook_body(events: &[Value]) -> Value {
    let n = events.len();
    let first = events
        .first()
        .and_then(|e| e["uuid"].as_str())
        .unwrap_or("none");
    json!({
        "eventType": "com.okta.event_hook",
        "eventTypeVersion": "1.0",
        "cloudEventsVersion": "0.1",
        "source": "https://sim.okta.example/api/v1/eventHooks/whosim",
        "eventId": format!("delivery-{first}-{n}"),
        "eventTime": chrono::Utc::now().to_rfc3339(),
        "contentType": "application/json",
        "data": { "events": events },
    })
}

impl SimOrg {
    /// POSTs `events` to `url` as Okta would (`Authorization: <secret>`), `how` many times.
    /// Returns the status of each request sent (none for [`Delivery::Drop`]).
    pub async fn deliver_hook(
        &self,
        url: &str,
        secret: &str,
        events: &[Value],
        how: Delivery,
    ) -> Result<Vec<u16>, reqwest::Error> {
        let times = match how {
            Delivery::Once => 1,
            Delivery::Twice => 2,
            Delivery::Drop => 0,
            Delivery::AsOkta => 2,
        };
        let body = hook_body(events);
        let client = reqwest::Client::new();
        let mut statuses = Vec::new();
        for _ in 0..times {
            let mut request = client
                .post(url)
                .header("Accept", "application/json")
                .header("Content-Type", "application/json")
                .header("Authorization", secret)
                .json(&body);
            if how == Delivery::AsOkta {
                request = request.timeout(OKTA_HOOK_TIMEOUT);
            }
            let status = match request.send().await {
                Ok(response) => response.status().as_u16(),
                Err(e) if how == Delivery::AsOkta && e.is_timeout() => 0,
                Err(e) => return Err(e),
            };
            statuses.push(status);
            let retried = status == 0 || status >= 500;
            if how == Delivery::AsOkta && !retried {
                break;
            }
        }
        Ok(statuses)
    }
}
