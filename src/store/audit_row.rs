//! One `revocations` record: the states a revocation passes through, the row to append and
//! the row as stored, and the hash each row carries. Hash version 2 covers every column of
//! the table but `hash` itself, by name (a test compares the list with the table, so a column
//! added later and not hashed fails it); version 1 is the older encoding, which left out
//! `verified_at` and `next_attempt_at` and is kept only to verify rows written before them.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::config::Mode;

/// The `prev_hash` of the first row.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The hash version new rows are written with.
pub const HASH_VERSION: i64 = 2;

/// The states a revocation passes through (`revocations.state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, sqlx::Type)]
#[sqlx(rename_all = "snake_case")]
pub enum RevocationState {
    /// Dry-run: would have been revoked.
    Planned,
    /// Intent committed before the DELETE.
    Pending,
    /// Okta answered 204.
    Done,
    /// Okta answered 404: the token was already gone.
    AlreadyGone,
    /// The DELETE failed; may be retried.
    Failed,
    /// Failed too many times.
    Irrevocable,
    /// An exemption won over the matching rules.
    SkippedExempt,
    /// The blast-radius guard tripped.
    SkippedSafety,
    /// The revocation gate closed it before any DELETE: exempt now, no policy selects it any
    /// more, or its id is not one Okta could have sent. Never sent.
    Withdrawn,
}

impl RevocationState {
    /// Every state, for exhaustive checks.
    pub const ALL: [RevocationState; 9] = [
        RevocationState::Planned,
        RevocationState::Pending,
        RevocationState::Done,
        RevocationState::AlreadyGone,
        RevocationState::Failed,
        RevocationState::Irrevocable,
        RevocationState::SkippedExempt,
        RevocationState::SkippedSafety,
        RevocationState::Withdrawn,
    ];

    /// The spelling stored in `revocations.state`.
    pub fn as_str(self) -> &'static str {
        match self {
            RevocationState::Planned => "planned",
            RevocationState::Pending => "pending",
            RevocationState::Done => "done",
            RevocationState::AlreadyGone => "already_gone",
            RevocationState::Failed => "failed",
            RevocationState::Irrevocable => "irrevocable",
            RevocationState::SkippedExempt => "skipped_exempt",
            RevocationState::SkippedSafety => "skipped_safety",
            RevocationState::Withdrawn => "withdrawn",
        }
    }

    /// The state stored as `text`, if it is one.
    pub fn parse(text: &str) -> Option<RevocationState> {
        RevocationState::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
    }

    /// An open intent: the revocation may still be sent.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            RevocationState::Pending | RevocationState::Failed | RevocationState::Irrevocable
        )
    }
}

/// Who asked for a revocation (`revocations.trigger`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, sqlx::Type)]
#[sqlx(rename_all = "snake_case")]
pub enum RevocationTrigger {
    /// A sweep's policies selected the token.
    Policy,
    /// An offboarding revoked the user's tokens.
    Offboard,
    /// An operator named the token.
    Manual,
}

impl RevocationTrigger {
    /// Every trigger.
    pub const ALL: [RevocationTrigger; 3] = [
        RevocationTrigger::Policy,
        RevocationTrigger::Offboard,
        RevocationTrigger::Manual,
    ];

    /// The spelling stored in `revocations.trigger`.
    pub fn as_str(self) -> &'static str {
        match self {
            RevocationTrigger::Policy => "policy",
            RevocationTrigger::Offboard => "offboard",
            RevocationTrigger::Manual => "manual",
        }
    }

    /// The trigger stored as `text`, if it is one.
    pub fn parse(text: &str) -> Option<RevocationTrigger> {
        RevocationTrigger::ALL
            .into_iter()
            .find(|t| t.as_str() == text)
    }
}

/// A row to append.
#[derive(Debug, Clone)]
pub struct NewRevocation {
    /// The intent (first row) this row continues; `None` for an intent.
    pub intent_id: Option<i64>,
    /// `None` for a revoke-all of the pair.
    pub token_id: Option<String>,
    pub user_id: String,
    pub client_id: String,
    pub trigger: RevocationTrigger,
    /// Comma-separated names of the matching rules.
    pub policy: Option<String>,
    pub reason: Option<String>,
    pub mode: Mode,
    pub state: RevocationState,
    pub requested_at: String,
    pub completed_at: Option<String>,
    pub attempts: i64,
    pub http_status: Option<i64>,
    pub okta_request_id: Option<String>,
    /// Okta's `errorId` of the error response that caused this row.
    pub okta_error_id: Option<String>,
    pub error: Option<String>,
    pub sweep_id: Option<i64>,
    pub job_id: Option<i64>,
    /// When Okta confirmed the token gone.
    pub verified_at: Option<String>,
    /// For `failed` / `irrevocable`: when to try again.
    pub next_attempt_at: Option<String>,
}

impl NewRevocation {
    /// A row about `token_id` (or, with `None`, the whole pair) with every optional field
    /// empty; fill in the rest with struct update syntax.
    pub fn new(
        token_id: Option<String>,
        user_id: impl Into<String>,
        client_id: impl Into<String>,
        trigger: RevocationTrigger,
        mode: Mode,
        state: RevocationState,
        requested_at: impl Into<String>,
    ) -> Self {
        NewRevocation {
            intent_id: None,
            token_id,
            user_id: user_id.into(),
            client_id: client_id.into(),
            trigger,
            policy: None,
            reason: None,
            mode,
            state,
            requested_at: requested_at.into(),
            completed_at: None,
            attempts: 0,
            http_status: None,
            okta_request_id: None,
            okta_error_id: None,
            error: None,
            sweep_id: None,
            job_id: None,
            verified_at: None,
            next_attempt_at: None,
        }
    }

    /// The stored row this becomes as record `id` after `prev_hash`, hash included.
    pub(super) fn into_row(self, id: i64, prev_hash: String) -> AuditRow {
        let mut row = AuditRow {
            id,
            intent_id: self.intent_id,
            token_id: self.token_id,
            user_id: self.user_id,
            client_id: self.client_id,
            trigger: self.trigger.as_str().to_owned(),
            policy: self.policy,
            reason: self.reason,
            mode: self.mode.as_str().to_owned(),
            state: self.state.as_str().to_owned(),
            requested_at: self.requested_at,
            completed_at: self.completed_at,
            attempts: self.attempts,
            http_status: self.http_status,
            okta_request_id: self.okta_request_id,
            error: self.error,
            sweep_id: self.sweep_id,
            job_id: self.job_id,
            prev_hash,
            hash: String::new(),
            verified_at: self.verified_at,
            next_attempt_at: self.next_attempt_at,
            okta_error_id: self.okta_error_id,
            hash_version: HASH_VERSION,
        };
        row.hash = row.expected_hash();
        row
    }
}

/// One column's value, as the hash encodes it.
#[derive(Debug, Clone, Copy)]
enum Column<'a> {
    Int(i64),
    OptInt(Option<i64>),
    Text(&'a str),
    OptText(Option<&'a str>),
}

impl Column<'_> {
    fn json(self) -> Value {
        match self {
            Column::Int(v) => json!(v),
            Column::OptInt(v) => json!(v),
            Column::Text(v) => json!(v),
            Column::OptText(v) => json!(v),
        }
    }

    /// Its JSON text, as `serde_json` writes the `Value`.
    fn write(self, out: &mut Vec<u8>) {
        // Writing an integer, a string or null into a Vec cannot fail.
        let _ = match self {
            Column::Int(v) => serde_json::to_writer(&mut *out, &v),
            Column::OptInt(v) => serde_json::to_writer(&mut *out, &v),
            Column::Text(v) => serde_json::to_writer(&mut *out, v),
            Column::OptText(v) => serde_json::to_writer(&mut *out, &v),
        };
    }
}

/// A `revocations` row as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Deserialize)]
pub struct AuditRow {
    pub id: i64,
    pub intent_id: Option<i64>,
    pub token_id: Option<String>,
    pub user_id: String,
    pub client_id: String,
    pub trigger: String,
    pub policy: Option<String>,
    pub reason: Option<String>,
    pub mode: String,
    pub state: String,
    pub requested_at: String,
    pub completed_at: Option<String>,
    pub attempts: i64,
    pub http_status: Option<i64>,
    pub okta_request_id: Option<String>,
    pub error: Option<String>,
    pub sweep_id: Option<i64>,
    pub job_id: Option<i64>,
    pub prev_hash: String,
    pub hash: String,
    pub verified_at: Option<String>,
    pub next_attempt_at: Option<String>,
    pub okta_error_id: Option<String>,
    /// Which encoding `hash` uses (see the module docs).
    pub hash_version: i64,
}

impl AuditRow {
    /// The row's state, if it is a known one.
    pub fn state(&self) -> Option<RevocationState> {
        RevocationState::parse(&self.state)
    }

    /// Who asked for it, if the stored trigger is a known one.
    pub fn trigger(&self) -> Option<RevocationTrigger> {
        RevocationTrigger::parse(&self.trigger)
    }

    /// Every column but `hash`, by name, as hash version 2 encodes them.
    pub fn hashed_columns(&self) -> [(&'static str, Value); 23] {
        self.columns().map(|(name, value)| (name, value.json()))
    }

    /// Every column but `hash`, by name, borrowed: what hash version 2 covers, in its order.
    fn columns(&self) -> [(&'static str, Column<'_>); 23] {
        use Column::{Int, OptInt, OptText, Text};
        [
            ("id", Int(self.id)),
            ("intent_id", OptInt(self.intent_id)),
            ("token_id", OptText(self.token_id.as_deref())),
            ("user_id", Text(&self.user_id)),
            ("client_id", Text(&self.client_id)),
            ("trigger", Text(&self.trigger)),
            ("policy", OptText(self.policy.as_deref())),
            ("reason", OptText(self.reason.as_deref())),
            ("mode", Text(&self.mode)),
            ("state", Text(&self.state)),
            ("requested_at", Text(&self.requested_at)),
            ("completed_at", OptText(self.completed_at.as_deref())),
            ("attempts", Int(self.attempts)),
            ("http_status", OptInt(self.http_status)),
            ("okta_request_id", OptText(self.okta_request_id.as_deref())),
            ("error", OptText(self.error.as_deref())),
            ("sweep_id", OptInt(self.sweep_id)),
            ("job_id", OptInt(self.job_id)),
            ("prev_hash", Text(&self.prev_hash)),
            ("verified_at", OptText(self.verified_at.as_deref())),
            ("next_attempt_at", OptText(self.next_attempt_at.as_deref())),
            ("okta_error_id", OptText(self.okta_error_id.as_deref())),
            ("hash_version", Int(self.hash_version)),
        ]
    }

    /// The hash this row must carry under its `hash_version`.
    pub fn expected_hash(&self) -> String {
        let canonical = match self.hash_version {
            1 => self.v1_encoding().to_string().into_bytes(),
            _ => self.v2_encoding(),
        };
        hex::encode(Sha256::digest(&canonical))
    }

    /// Version 2: `[["id",1],["intent_id",null],…]`, the JSON text of [`Self::hashed_columns`]
    /// written straight out (the same bytes as serialising the `Value`, without building it).
    pub(super) fn v2_encoding(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1_024);
        out.push(b'[');
        for (i, (name, value)) in self.columns().into_iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"[\"");
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b"\",");
            value.write(&mut out);
            out.push(b']');
        }
        out.push(b']');
        out
    }

    /// Version 1: a JSON array of the columns the first schema had, in order.
    fn v1_encoding(&self) -> Value {
        json!([
            self.id,
            self.intent_id,
            self.token_id,
            self.user_id,
            self.client_id,
            self.trigger,
            self.policy,
            self.reason,
            self.mode,
            self.state,
            self.requested_at,
            self.completed_at,
            self.attempts,
            self.http_status,
            self.okta_request_id,
            self.error,
            self.sweep_id,
            self.job_id,
            self.prev_hash
        ])
    }
}
