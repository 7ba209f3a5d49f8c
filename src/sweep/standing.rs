//! Recording a sweep's dry-run plan and exemptions as changes, not repetitions: for the pairs
//! whose listing completed, a `planned` or `skipped_exempt` record is appended when the state
//! first stands (token, rules and mode), and a standing record the sweep no longer finds is
//! closed with one `withdrawn` row saying why (exempt now, no longer exempt, selected by other
//! rules, no policy selects it, token gone, the sweep enforces). An unchanged sweep appends
//! nothing; the `sweeps` row keeps the per-sweep counts.

use std::collections::{HashMap, HashSet};

use chrono::Utc;

use super::{Deps, Planned};
use crate::config::Mode;
use crate::store::{self, NewRevocation, RevocationState, RevocationTrigger, StandingRecord, ts};

/// What this sweep decided on the tokens of its completed pairs.
pub struct Decided<'a> {
    /// The pairs whose listing completed: only their records are reconciled.
    pub pairs: HashSet<(&'a str, &'a str)>,
    /// The apps whose listing completed: the records of every pair of theirs are reconciled.
    pub apps: &'a HashSet<String>,
    pub planned: &'a [Planned],
    pub exempt: &'a [Planned],
}

/// Rows appended by [`reconcile`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Changes {
    pub recorded: u64,
    pub withdrawn: u64,
}

/// Reconciles the standing records in `state` of `decided.pairs` with `now_standing` (what
/// stands after this sweep, in `mode`): appends the new ones and withdraws the rest, in one
/// transaction.
pub async fn reconcile(
    deps: &Deps,
    sweep_id: i64,
    mode: Mode,
    state: RevocationState,
    now_standing: &[Planned],
    decided: &Decided<'_>,
) -> Result<Changes, store::Error> {
    let standing: Vec<StandingRecord> = deps
        .store
        .standing_records(state)
        .await?
        .into_iter()
        .filter(|s| {
            decided
                .pairs
                .contains(&(s.user_id.as_str(), s.client_id.as_str()))
                || decided.apps.contains(&s.client_id)
        })
        .collect();
    let key = |token: &str, policy: &str, mode: &str| {
        (token.to_owned(), policy.to_owned(), mode.to_owned())
    };
    let stood: HashSet<_> = standing
        .iter()
        .map(|s| key(&s.token_id, s.policy.as_deref().unwrap_or(""), &s.mode))
        .collect();
    let now = ts(Utc::now());
    let mut rows = Vec::new();
    let mut wanted = HashSet::new();
    for p in now_standing {
        let k = key(&p.token_id, &p.rules.join(","), mode.as_str());
        if !stood.contains(&k) && wanted.insert(k) {
            rows.push(p.audit_row(Some(sweep_id), mode, state, &now));
        }
    }
    let recorded = rows.len() as u64;
    let still: HashSet<_> = now_standing
        .iter()
        .map(|p| key(&p.token_id, &p.rules.join(","), mode.as_str()))
        .collect();
    let closing: Vec<&StandingRecord> = standing
        .iter()
        .filter(|s| {
            !still.contains(&key(
                &s.token_id,
                s.policy.as_deref().unwrap_or(""),
                &s.mode,
            ))
        })
        .collect();
    let ids: Vec<&str> = closing.iter().map(|s| s.token_id.as_str()).collect();
    let present = deps.store.still_present(&ids).await?;
    let why = Why::new(decided, &present, mode);
    for s in &closing {
        rows.push(withdrawal(s, why.reason(s, state), sweep_id, &now));
    }
    deps.store.append_revocations(&rows).await?;
    Ok(Changes {
        recorded,
        withdrawn: closing.len() as u64,
    })
}

/// The row closing a standing record.
fn withdrawal(s: &StandingRecord, why: String, sweep_id: i64, now: &str) -> NewRevocation {
    let mode = if s.mode == Mode::Enforce.as_str() {
        Mode::Enforce
    } else {
        Mode::DryRun
    };
    NewRevocation {
        intent_id: Some(s.id),
        policy: s.policy.clone(),
        completed_at: Some(now.to_owned()),
        error: Some(why),
        sweep_id: Some(sweep_id),
        ..NewRevocation::new(
            Some(s.token_id.clone()),
            s.user_id.clone(),
            s.client_id.clone(),
            RevocationTrigger::Policy,
            mode,
            RevocationState::Withdrawn,
            now,
        )
    }
}

/// Why a standing record no longer stands.
struct Why<'a> {
    planned: HashMap<&'a str, &'a Planned>,
    exempt: HashMap<&'a str, &'a Planned>,
    present: &'a HashSet<String>,
    mode: Mode,
}

impl<'a> Why<'a> {
    fn new(decided: &Decided<'a>, present: &'a HashSet<String>, mode: Mode) -> Self {
        let by_token = |list: &'a [Planned]| {
            list.iter()
                .map(|p| (p.token_id.as_str(), p))
                .collect::<HashMap<_, _>>()
        };
        Why {
            planned: by_token(decided.planned),
            exempt: by_token(decided.exempt),
            present,
            mode,
        }
    }

    fn reason(&self, s: &StandingRecord, state: RevocationState) -> String {
        let token = s.token_id.as_str();
        let was_exempt = state == RevocationState::SkippedExempt;
        if let Some(p) = self.planned.get(token) {
            return if was_exempt {
                format!("no longer exempt: selected by {}", p.rules.join(","))
            } else if self.mode == Mode::Enforce {
                "the sweep enforces: the revocation is an intent of its own".into()
            } else {
                format!("now selected by {}", p.rules.join(","))
            };
        }
        if let Some(p) = self.exempt.get(token) {
            return if !was_exempt {
                format!("exempt now ({})", p.reason)
            } else if s.mode != self.mode.as_str() {
                format!("recorded again by a {} sweep", self.mode.as_str())
            } else {
                format!("now exempt from {}", p.rules.join(","))
            };
        }
        if !self.present.contains(token) {
            return "token gone: Okta no longer lists it".into();
        }
        "no policy selects it any more".into()
    }
}
