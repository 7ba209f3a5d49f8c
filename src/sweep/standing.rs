//! Recording a sweep's dry-run plan and exemptions as changes, not repetitions: for the pairs
//! whose listing completed, a `planned` or `skipped_exempt` record is appended when the state
//! first stands (token, rules and mode), and a standing record the sweep no longer finds is
//! closed with one `withdrawn` row saying why (exempt now, no longer exempt, selected by other
//! rules, no policy selects it, token gone, the sweep enforces). An unchanged sweep appends
//! nothing; the `sweeps` row keeps the per-sweep counts. The comparison runs in SQL against
//! the staged plan ([`PlanStage`]), chunk by chunk, so memory holds a chunk of rows, never
//! the plan or the standing records.

use chrono::Utc;
use tracing::info;

use super::planned::entry_row;
use super::{Deps, Scope};
use crate::config::Mode;
use crate::store::{
    self, Closing, NewRevocation, PlanStage, REVOKED_BY_REVOKD, RevocationState, RevocationTrigger,
    StagedKind, StandingRecord, ts,
};

/// Rows appended by [`reconcile`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Changes {
    pub recorded: u64,
    pub withdrawn: u64,
}

/// Rows read and appended per transaction: a plan of a million tokens is written in steps,
/// never held whole as rows.
pub(super) const CHUNK: usize = 4_096;

/// Reconciles the standing records in `state` of the settled pairs and apps with what stands
/// after this sweep in `mode`: the staged entries of kind `stands` (none: nothing stands).
/// Appends the new ones and withdraws the rest, in transactions of [`CHUNK`] rows (an
/// interrupted reconcile leaves records that the next sweep finds standing, and completes the
/// rest).
pub async fn reconcile(
    deps: &Deps,
    stage: &PlanStage,
    sweep_id: i64,
    mode: Mode,
    state: RevocationState,
    stands: Option<StagedKind>,
) -> Result<Changes, store::Error> {
    let now = ts(Utc::now());
    // Withdrawals first: a sweep stopped between the two writes leaves a token whose rules
    // changed with no standing record (the next sweep records it), never with two.
    let (mut withdrawn, mut after) = (0, 0);
    loop {
        let chunk = stage
            .closing(state, stands, mode.as_str(), after, CHUNK)
            .await?;
        let Some(last) = chunk.last() else { break };
        after = last.record.id;
        let rows = chunk.into_iter().map(|c| {
            let why = why(&c, state, mode);
            withdrawal(c.record, why, sweep_id, &now)
        });
        withdrawn += append_in_chunks(deps, rows).await?;
    }
    let (mut recorded, mut after) = (0, String::new());
    while let Some(kind) = stands {
        let chunk = stage
            .fresh(kind, state, mode.as_str(), &after, CHUNK)
            .await?;
        let Some(last) = chunk.last() else { break };
        after.clone_from(&last.token_id);
        let rows = (chunk.into_iter()).map(|e| entry_row(e, Some(sweep_id), mode, state, &now));
        recorded += append_in_chunks(deps, rows).await?;
    }
    Ok(Changes {
        recorded,
        withdrawn,
    })
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
fn withdrawal(s: StandingRecord, why: String, sweep_id: i64, now: &str) -> NewRevocation {
    let mode = if s.mode == Mode::Enforce.as_str() {
        Mode::Enforce
    } else {
        Mode::DryRun
    };
    NewRevocation {
        intent_id: Some(s.id),
        policy: s.policy,
        completed_at: Some(now.to_owned()),
        error: Some(why),
        sweep_id: Some(sweep_id),
        ..NewRevocation::new(
            Some(s.token_id),
            s.user_id,
            s.client_id,
            RevocationTrigger::Policy,
            mode,
            RevocationState::Withdrawn,
            now,
        )
    }
}

/// Why a standing record in `state` no longer stands after a sweep in `mode`.
fn why(c: &Closing, state: RevocationState, mode: Mode) -> String {
    let was_exempt = state == RevocationState::SkippedExempt;
    if let Some(rules) = &c.planned_policy {
        return if was_exempt {
            format!("no longer exempt: selected by {rules}")
        } else if mode == Mode::Enforce {
            "the sweep enforces: the revocation is an intent of its own".into()
        } else {
            format!("now selected by {rules}")
        };
    }
    if let Some(rules) = &c.exempt_policy {
        let reason = c.exempt_reason.as_deref().unwrap_or_default();
        return if !was_exempt {
            format!("exempt now ({reason})")
        } else if c.record.mode != mode.as_str() {
            let article = if mode == Mode::Enforce { "an" } else { "a" };
            format!("recorded again by {article} {} sweep", mode.as_str())
        } else {
            format!("now exempt from {rules}")
        };
    }
    match c.listed_as.as_deref() {
        None => "token gone: Okta no longer lists it".into(),
        Some(REVOKED_BY_REVOKD) => "token revoked by revokd".into(),
        Some(status) if !status.is_empty() && status != "ACTIVE" => {
            format!("token revoked outside revokd: Okta lists it {status}")
        }
        Some(_) => "no policy selects it any more".into(),
    }
}

/// Records every revocation the sweep planned as `skipped_safety` (the guard tripped): the
/// staged plan, then the plans of the pairs whose listing was unchanged (`unchanged`,
/// `[user, client]`), which are their standing records. The guard's `guard_tripped` event
/// (why: `reason`) is enqueued first, so a sweep cut while it records them is notified.
pub(super) async fn record_skipped_safety(
    deps: &Deps,
    stage: &PlanStage,
    unchanged: &[[String; 2]],
    scope: &Scope<'_>,
    reason: &str,
) -> Result<(), store::Error> {
    let (sweep_id, mode) = (scope.sweep_id, scope.mode);
    info!(%reason, "safety guard tripped: nothing revoked");
    let at = Utc::now();
    deps.store.note_guard_tripped(sweep_id, reason, at).await?;
    let now = ts(at);
    let safety = RevocationState::SkippedSafety;
    // An unchanged pair has nothing to revoke in enforce mode.
    let unchanged = if mode == Mode::Enforce {
        &[]
    } else {
        unchanged
    };
    for from_stage in [true, false] {
        let mut after = 0;
        loop {
            let chunk = match from_stage {
                true => stage.entries(StagedKind::Planned, after, CHUNK).await?,
                false => {
                    let planned = RevocationState::Planned;
                    (deps.store)
                        .standing_of_pairs(planned, mode.as_str(), unchanged, after, CHUNK)
                        .await?
                }
            };
            let Some(&(last, _)) = chunk.last() else {
                break;
            };
            after = last;
            let rows =
                (chunk.into_iter()).map(|(_, e)| entry_row(e, Some(sweep_id), mode, safety, &now));
            append_in_chunks(deps, rows).await?;
        }
    }
    Ok(())
}
