//! The bodies receivers get, built from an outbox row: revokd's JSON object, or a Slack
//! incoming-webhook message. Pure: no IO. Every value that came from outside (user and client
//! ids, rule names, Okta's error text) is escaped for Slack's mrkdwn, and serialized by
//! serde_json in both formats, so no input can forge structure.

use serde_json::{Value, json};

use super::{EventKind, Format};

/// One event as the receivers see it.
#[derive(Debug, Clone, Copy)]
pub struct Event<'a> {
    /// The id receivers de-duplicate on.
    pub id: &'a str,
    pub kind: EventKind,
    pub occurred_at: &'a str,
    pub details: &'a Value,
}

/// The body of `event` in `format`.
pub fn body(event: &Event<'_>, format: Format) -> Value {
    match format {
        Format::Json => json_body(event),
        Format::Slack => slack_body(event),
    }
}

/// `{"id", "kind", "occurred_at", "summary", "details", "source": "revokd"}`.
pub fn json_body(event: &Event<'_>) -> Value {
    json!({
        "id": event.id,
        "kind": event.kind.as_str(),
        "occurred_at": event.occurred_at,
        "summary": summary(event.kind, event.details),
        "details": event.details,
        "source": "revokd",
    })
}

/// A Slack message: `text` (the notification line) and `blocks` (a section with the
/// summary, one with the details, and a context line naming the event id and time).
pub fn slack_body(event: &Event<'_>) -> Value {
    let title = format!(
        "{} revokd: {}",
        icon(event.kind),
        mrkdwn(&summary(event.kind, event.details))
    );
    let facts: Vec<String> = match event.details {
        Value::Object(map) => map
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| format!("*{k}*: {}", mrkdwn(&plain(v))))
            .collect(),
        _ => Vec::new(),
    };
    let mut blocks = vec![json!({
        "type": "section",
        "text": { "type": "mrkdwn", "text": title },
    })];
    if !facts.is_empty() {
        blocks.push(json!({
            "type": "section",
            "text": { "type": "mrkdwn", "text": facts.join("\n") },
        }));
    }
    blocks.push(json!({
        "type": "context",
        "elements": [{
            "type": "mrkdwn",
            "text": format!("{} · event `{}` · {}", event.kind.as_str(), mrkdwn(event.id), mrkdwn(event.occurred_at)),
        }],
    }));
    json!({ "text": title, "blocks": blocks })
}

/// One line saying what happened.
pub fn summary(kind: EventKind, d: &Value) -> String {
    let s = |key: &str| d.get(key).map(plain).unwrap_or_default();
    match kind {
        EventKind::GuardTripped => format!(
            "sweep {} revoked nothing: the safety guard tripped ({})",
            s("sweep_id"),
            s("reason")
        ),
        EventKind::Irrevocable => format!(
            "token {} of user {} for client {} could not be revoked after {} attempts",
            s("token_id"),
            s("user_id"),
            s("client_id"),
            s("attempts")
        ),
        EventKind::OffboardingFailed => format!(
            "offboarding of user {} (job {}) failed after {} attempts",
            s("user_id"),
            s("job_id"),
            s("attempts")
        ),
        EventKind::OffboardingHeld => format!(
            "offboarding of user {} (job {}) is held: run `revokd offboard release`",
            s("user_id"),
            s("job_id")
        ),
        EventKind::SweepFailed => format!("sweep {} failed: {}", s("sweep_id"), s("error")),
        EventKind::AuditBroken => format!(
            "the audit chain is broken at record {}: {}",
            s("record_id"),
            s("problem")
        ),
    }
}

fn icon(kind: EventKind) -> &'static str {
    match kind {
        EventKind::AuditBroken | EventKind::Irrevocable | EventKind::SweepFailed => {
            ":rotating_light:"
        }
        _ => ":warning:",
    }
}

/// A JSON value as text: strings bare, `null` as "none".
fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "none".to_owned(),
        other => other.to_string(),
    }
}

/// Slack's mrkdwn escapes: `&`, `<` and `>`, so no input makes a link or a mention.
fn mrkdwn(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
