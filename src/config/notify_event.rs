//! What a notification is about: the six event kinds a `[[notify]]` receiver can subscribe to,
//! and the two body formats. Names only; no IO, no rendering (see `crate::notify`).

use serde::Deserialize;

/// An event worth telling people about (`[[notify]] events`, `notify_outbox.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(rename_all = "snake_case")]
pub enum EventKind {
    /// A sweep's blast-radius guard tripped: it revoked nothing.
    GuardTripped,
    /// A revocation failed `revocation.max_attempts` times.
    Irrevocable,
    /// An offboarding job failed for good.
    OffboardingFailed,
    /// An automatic offboarding job was held by the hourly breaker.
    OffboardingHeld,
    /// A sweep could do nothing (every target failed, or it died on an error).
    SweepFailed,
    /// `revokd audit verify` would name a broken record.
    AuditBroken,
}

impl EventKind {
    /// Every kind, in documentation order.
    pub const ALL: [EventKind; 6] = [
        EventKind::GuardTripped,
        EventKind::Irrevocable,
        EventKind::OffboardingFailed,
        EventKind::OffboardingHeld,
        EventKind::SweepFailed,
        EventKind::AuditBroken,
    ];

    /// The spelling in config, the database and the payloads.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::GuardTripped => "guard_tripped",
            EventKind::Irrevocable => "irrevocable",
            EventKind::OffboardingFailed => "offboarding_failed",
            EventKind::OffboardingHeld => "offboarding_held",
            EventKind::SweepFailed => "sweep_failed",
            EventKind::AuditBroken => "audit_broken",
        }
    }

    /// The kind spelled `text`, if any.
    pub fn parse(text: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// How a receiver wants the body (`[[notify]] format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// revokd's own JSON object (`id`, `kind`, `occurred_at`, `summary`, `details`).
    #[default]
    Json,
    /// A Slack incoming-webhook message (`text` plus `blocks`).
    Slack,
}

impl Format {
    /// The spelling in config.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Slack => "slack",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_parses_back_from_its_spelling() {
        for kind in EventKind::ALL {
            assert_eq!(EventKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(EventKind::parse("guard"), None);
    }
}
