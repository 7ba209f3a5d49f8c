//! A revocation the policy selected ([`Planned`]) and the audit row of a plan entry in a
//! given state.

use crate::config::Mode;
use crate::store::{NewRevocation, RevocationState, RevocationTrigger, StagedEntry};

/// A revocation the policy selected, waiting for the guard and the mode to say what happens.
#[derive(Debug, Clone)]
pub struct Planned {
    pub token_id: String,
    pub user_id: String,
    pub client_id: String,
    /// The matching rule names, in config order.
    pub rules: Vec<String>,
    pub reason: String,
}

impl Planned {
    /// The audit row recording this plan entry in `state`.
    pub fn audit_row(
        &self,
        sweep_id: Option<i64>,
        mode: Mode,
        state: RevocationState,
        now: &str,
    ) -> NewRevocation {
        let entry = StagedEntry {
            token_id: self.token_id.clone(),
            user_id: self.user_id.clone(),
            client_id: self.client_id.clone(),
            policy: self.rules.join(","),
            reason: self.reason.clone(),
        };
        entry_row(entry, sweep_id, mode, state, now)
    }
}

/// The audit row recording a plan entry of a sweep in `state`.
pub(super) fn entry_row(
    e: StagedEntry,
    sweep_id: Option<i64>,
    mode: Mode,
    state: RevocationState,
    now: &str,
) -> NewRevocation {
    NewRevocation {
        policy: Some(e.policy),
        reason: Some(e.reason),
        sweep_id,
        ..NewRevocation::new(
            Some(e.token_id),
            e.user_id,
            e.client_id,
            RevocationTrigger::Policy,
            mode,
            state,
            now,
        )
    }
}

impl Planned {
    /// A staged entry read back: its rules are the comma-separated `policy`.
    pub fn from_entry(e: StagedEntry) -> Planned {
        Planned {
            rules: rules_of(&e.policy),
            token_id: e.token_id,
            user_id: e.user_id,
            client_id: e.client_id,
            reason: e.reason,
        }
    }
}

/// The rule names of a comma-separated `policy` (as recorded in `revocations.policy`).
pub(super) fn rules_of(policy: &str) -> Vec<String> {
    policy
        .split(',')
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
        .collect()
}
