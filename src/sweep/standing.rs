//! Recording a sweep's dry-run plan and exemptions as changes, not repetitions: for the pairs
//! whose listing completed, a `planned` or `skipped_exempt` record is appended when the state
//! first stands (token, rules and mode), and a standing record the sweep no longer finds is
//! closed with one `withdrawn` row saying why (exempt now, no longer exempt, selected by other
//! rules, no policy selects it, token gone, the sweep enforces). An unchanged sweep appends
//! nothing; the `sweeps` row keeps the per-sweep counts. Rows are built and appended in
//! chunks as they are found, so memory holds the plan and its keys, never all its rows.

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

/// Rows appended per transaction: a plan of a million tokens is written in steps, never held
/// whole as rows.
const CHUNK: usize = 4_096;

/// Reconciles the standing records in `state` of `decided.pairs` with `now_standing` (what
/// stands after this sweep, in `mode`): appends the new ones and withdraws the rest, in
/// transactions of [`CHUNK`] rows (an interrupted reconcile leaves records that the next
/// sweep finds standing, and completes the rest).
pub async fn reconcile(
    deps: &Deps,
    sweep_id: i64,
    mode: Mode,
    state: RevocationState,
    now_standing: &[Planned],
    decided: &Decided<'_>,
) -> Result<Changes, store::Error> {
    // The comma-joined rules, once per distinct set of rules.
    let mut joined: HashMap<&[String], String> = HashMap::new();
    for p in now_standing {
        joined
            .entry(p.rules.as_slice())
            .or_insert_with(|| p.rules.join(","));
    }
    let policy = |p: &Planned| joined[p.rules.as_slice()].as_str();
    // Each token that stands now, by its rules, and whether a record of it stands already.
    let mut still: HashMap<&str, (&str, Seen)> = HashMap::with_capacity(now_standing.len());
    for p in now_standing {
        still
            .entry(p.token_id.as_str())
            .or_insert((policy(p), Seen::New));
    }
    // Streamed: only the records that close are kept.
    let mut closing = Vec::new();
    deps.store
        .for_each_standing(state, |s| {
            let decides = decided
                .pairs
                .contains(&(s.user_id.as_str(), s.client_id.as_str()))
                || decided.apps.contains(&s.client_id);
            if !decides {
                return;
            }
            let rules = s.policy.as_deref().unwrap_or("");
            match still.get_mut(s.token_id.as_str()) {
                Some((now, seen)) if *now == rules && s.mode == mode.as_str() => {
                    *seen = Seen::Stands;
                }
                _ => closing.push(s),
            }
        })
        .await?;
    let now = ts(Utc::now());
    // Withdrawals first: a sweep stopped between the two writes leaves a token whose rules
    // changed with no standing record (the next sweep records it), never with two.
    let ids: Vec<&str> = closing.iter().map(|s| s.token_id.as_str()).collect();
    let present = deps.store.still_present(&ids).await?;
    let why = Why::new(decided, &ids, &present, mode);
    let rows = closing
        .iter()
        .map(|s| withdrawal(s, why.reason(s, state), sweep_id, &now));
    let withdrawn = append_in_chunks(deps, rows).await?;

    let fresh = now_standing.iter().filter(|p| {
        // Listed twice (a pair and its app): recorded once.
        still
            .get_mut(p.token_id.as_str())
            .is_some_and(|(rules, seen)| {
                *rules == policy(p) && std::mem::replace(seen, Seen::Stands) == Seen::New
            })
    });
    let rows = fresh.map(|p| p.audit_row(Some(sweep_id), mode, state, &now));
    let recorded = append_in_chunks(deps, rows).await?;
    Ok(Changes {
        recorded,
        withdrawn,
    })
}

/// Whether a (token, rules) standing now has a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    New,
    Stands,
}

/// Appends `rows` in transactions of [`CHUNK`]; returns how many.
pub async fn append_in_chunks(
    deps: &Deps,
    rows: impl Iterator<Item = NewRevocation>,
) -> Result<u64, store::Error> {
    let (mut chunk, mut n) = (Vec::with_capacity(CHUNK), 0);
    for row in rows {
        chunk.push(row);
        if chunk.len() == CHUNK {
            let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK));
            n += deps.store.append_owned_revocations(full).await?.len() as u64;
        }
    }
    if !chunk.is_empty() {
        n += deps.store.append_owned_revocations(chunk).await?.len() as u64;
    }
    Ok(n)
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
    /// Knows the decisions of `closing` (the tokens whose records close) only.
    fn new(
        decided: &Decided<'a>,
        closing: &[&str],
        present: &'a HashSet<String>,
        mode: Mode,
    ) -> Self {
        let closing: HashSet<&str> = closing.iter().copied().collect();
        let by_token = |list: &'a [Planned]| {
            list.iter()
                .filter(|p| closing.contains(p.token_id.as_str()))
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
