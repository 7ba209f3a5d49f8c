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
    let title = fit(title);
    let mut blocks = vec![json!({ "type": "section", "text": text_object(title.clone()) })];
    if !facts.is_empty() {
        blocks.push(json!({ "type": "section", "text": text_object(facts.join("\n")) }));
    }
    let context = format!(
        "{} · event `{}` · {}",
        event.kind.as_str(),
        mrkdwn(event.id),
        mrkdwn(event.occurred_at)
    );
    blocks.push(json!({ "type": "context", "elements": [text_object(context)] }));
    json!({ "text": title, "blocks": blocks })
}

/// The most characters Slack takes in one text object.
const SLACK_TEXT_MAX: usize = 3_000;

/// A mrkdwn text object: `verbatim`, so Slack links no URL or channel name by itself, and cut
/// to Slack's limit.
fn text_object(text: String) -> Value {
    json!({ "type": "mrkdwn", "text": fit(text), "verbatim": true })
}

/// `text` within [`SLACK_TEXT_MAX`] characters: past it, cut with an ellipsis, never inside an
/// escape (`&amp;`), since Slack refuses a longer text and the message would be lost.
fn fit(text: String) -> String {
    if text.chars().count() <= SLACK_TEXT_MAX {
        return text;
    }
    let mut cut: String = text.chars().take(SLACK_TEXT_MAX - 1).collect();
    if let Some(amp) = cut.rfind('&').filter(|&amp| !cut[amp..].contains(';')) {
        cut.truncate(amp);
    }
    cut.push('…');
    cut
}

/// One line saying what happened.
pub fn summary(kind: EventKind, d: &Value) -> String {
    let s = |key: &str| d.get(key).map(plain).unwrap_or_default();
    match kind {
        EventKind::GuardTripped => {
            format!("sweep {} revoked nothing: {}", s("sweep_id"), s("reason"))
        }
        EventKind::Irrevocable => format!(
            "{} of user {} for client {} could not be revoked after {} attempts",
            match d.get("token_id").filter(|t| !t.is_null()) {
                Some(token) => format!("token {}", plain(token)),
                // An offboarding's revoke-all of the pair.
                None => "the tokens".to_owned(),
            },
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
        // A sweep closed `failed` with no error of its own: every target failed.
        EventKind::SweepFailed => match d.get("error").filter(|e| !e.is_null()) {
            Some(error) => format!("sweep {} failed: {}", s("sweep_id"), plain(error)),
            None => format!(
                "sweep {} failed: every target failed (`revokd report sweeps` and the log say why)",
                s("sweep_id")
            ),
        },
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

#[cfg(test)]
mod tests {
    use super::*;

    fn event(details: &Value) -> Event<'_> {
        Event {
            id: "evt_0123",
            kind: EventKind::Irrevocable,
            occurred_at: "2026-12-05T10:00:00.000Z",
            details,
        }
    }

    #[test]
    fn the_json_body_carries_the_id_kind_summary_and_details() {
        let details =
            json!({ "token_id": "oar1", "user_id": "00u1", "client_id": "0oa1", "attempts": 6 });
        let body = body(&event(&details), Format::Json);
        assert_eq!(body["id"], "evt_0123");
        assert_eq!(body["kind"], "irrevocable");
        assert_eq!(body["occurred_at"], "2026-12-05T10:00:00.000Z");
        assert_eq!(body["details"], details);
        assert_eq!(
            body["summary"],
            "token oar1 of user 00u1 for client 0oa1 could not be revoked after 6 attempts"
        );
    }

    #[test]
    fn slack_text_from_outside_cannot_mention_or_link() {
        let details =
            json!({ "user_id": "<!channel>", "error": "<https://evil|x> & co", "job_id": 4 });
        let body = slack_body(&event(&details));
        let all = body.to_string();
        assert!(
            !all.contains("<!channel>") && !all.contains("<https://evil"),
            "{all}"
        );
        assert!(
            all.contains("&lt;!channel&gt;") && all.contains("&amp; co"),
            "{all}"
        );
        let context = &body["blocks"][2]["elements"][0]["text"];
        assert!(context.as_str().unwrap().contains("evt_0123"), "{body}");
        assert!(
            body["text"]
                .as_str()
                .unwrap()
                .starts_with(":rotating_light: revokd:")
        );
    }

    #[test]
    fn every_kind_has_a_summary_naming_its_subject() {
        let details = json!({ "sweep_id": 7, "job_id": 8, "record_id": 9, "user_id": "00u1",
                              "token_id": "oar1", "reason": "r", "error": "e", "problem": "p" });
        for kind in EventKind::ALL {
            let text = summary(kind, &details);
            assert!(
                ["7", "8", "9", "oar1"].iter().any(|id| text.contains(id)),
                "{kind:?}: {text}"
            );
        }
    }

    /// Every mrkdwn text is `verbatim` (Slack then links no URL or channel name of its own) and
    /// within Slack's 3,000 characters, an escape never cut in half.
    #[test]
    fn slack_texts_are_verbatim_and_fit_slacks_limit() {
        let long = format!("https://evil.example/{}", "&".repeat(4_000));
        let details = json!({ "user_id": "00u1", "error": long, "sweep_id": 3 });
        let body = slack_body(&Event {
            kind: EventKind::SweepFailed,
            ..event(&details)
        });
        let mut texts = vec![&body["blocks"][0]["text"], &body["blocks"][1]["text"]];
        texts.push(&body["blocks"][2]["elements"][0]);
        for text in texts {
            assert_eq!(text["type"], "mrkdwn", "{text}");
            assert_eq!(text["verbatim"], true, "{text}");
            let t = text["text"].as_str().unwrap();
            assert!(t.chars().count() <= 3_000, "{}", t.chars().count());
            assert!(!t.contains("&am…") && !t.ends_with("&…"), "{t}");
        }
        assert!(body["text"].as_str().unwrap().chars().count() <= 3_000);
    }

    /// A sweep that failed with no error of its own failed every target, and says so.
    #[test]
    fn a_sweep_failed_without_an_error_says_every_target_failed() {
        let details = json!({ "sweep_id": 7, "error": null });
        let text = summary(EventKind::SweepFailed, &details);
        assert!(
            text.starts_with("sweep 7 failed: every target failed"),
            "{text}"
        );
        let details = json!({ "sweep_id": 7, "error": "disk full" });
        assert_eq!(
            summary(EventKind::SweepFailed, &details),
            "sweep 7 failed: disk full"
        );
    }

    /// An offboarding's revoke-all of a pair names no token: its summary says so.
    #[test]
    fn an_irrevocable_revoke_all_is_summarised_as_the_pairs_tokens() {
        let details = json!({ "token_id": null, "user_id": "00u1", "client_id": "0oa1",
                              "attempts": 6 });
        assert_eq!(
            summary(EventKind::Irrevocable, &details),
            "the tokens of user 00u1 for client 0oa1 could not be revoked after 6 attempts"
        );
    }
}
