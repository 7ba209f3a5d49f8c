//! The audit rows an offboarding writes for one token (or, with no token id, for the pair's
//! revoke-all, see [`super::whole`]): its intent, the row that closes an open intent
//! (withdrawn, already gone), and the exemption row of a token the gate kept. Pure: the caller
//! appends them.

use chrono::Utc;

use super::Offboarding;
use crate::config::Mode;
use crate::gate::Kept;
use crate::store::{NewRevocation, RevocationState, RevocationTrigger, ts};
use crate::sweep::Target;

/// The row of a token the gate kept: it closes the token's open intent as `withdrawn`, or,
/// with none open, records it once (see [`kept_row`]).
pub(super) fn stay_row(
    job: &Offboarding,
    target: &Target,
    token: &str,
    kept: &Kept,
    open: Option<(i64, i64)>,
) -> NewRevocation {
    match open {
        Some(open) => closing_row(
            job,
            target,
            Some(token),
            RevocationState::Withdrawn,
            open,
            kept.why(),
        ),
        None => kept_row(job, target, token, Mode::Enforce, kept),
    }
}

/// The one row of a token the gate keeps before any intent: `skipped_exempt` for an exemption,
/// `withdrawn` (never sent) for any other reason, with why.
pub(super) fn kept_row(
    job: &Offboarding,
    target: &Target,
    token: &str,
    mode: Mode,
    kept: &Kept,
) -> NewRevocation {
    let state = match kept {
        Kept::Exempt(_) => RevocationState::SkippedExempt,
        Kept::Refused(_) => RevocationState::Withdrawn,
    };
    NewRevocation {
        error: Some(kept.why().to_owned()),
        ..audit_row(job, target, token, mode, state)
    }
}

/// The row that closes the open intent `(id, attempts)` of `token` (`None`: the pair's
/// revoke-all) in `state`, saying why.
pub(super) fn closing_row(
    job: &Offboarding,
    target: &Target,
    token: Option<&str>,
    state: RevocationState,
    (id, attempts): (i64, i64),
    why: &str,
) -> NewRevocation {
    let now = ts(Utc::now());
    NewRevocation {
        intent_id: Some(id),
        attempts,
        completed_at: Some(now.clone()),
        verified_at: (state == RevocationState::AlreadyGone).then_some(now),
        error: Some(why.to_owned()),
        ..row_of(job, target, token, Mode::Enforce, state)
    }
}

/// The audit row of one token of this offboarding, in `state`.
pub(super) fn audit_row(
    job: &Offboarding,
    target: &Target,
    token: &str,
    mode: Mode,
    state: RevocationState,
) -> NewRevocation {
    row_of(job, target, Some(token), mode, state)
}

/// The audit row of `token` (`None`: the whole pair) of this offboarding, in `state`.
pub(super) fn row_of(
    job: &Offboarding,
    target: &Target,
    token: Option<&str>,
    mode: Mode,
    state: RevocationState,
) -> NewRevocation {
    NewRevocation {
        reason: Some(job.reason.clone()),
        job_id: Some(job.job_id),
        ..NewRevocation::new(
            token.map(str::to_owned),
            target.user.to_string(),
            target.client.to_string(),
            RevocationTrigger::Offboard,
            mode,
            state,
            ts(Utc::now()),
        )
    }
}
