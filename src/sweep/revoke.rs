//! One revocation's life cycle in the audit trail. The intent (`pending`) is committed before
//! the DELETE, as is each retry's own `pending` row (only while the intent stands as the
//! retry read it: another run may have settled it), and every outcome is a new chained row
//! pointing at it:
//!
//! - 204, then GET → 404 (or `REVOKED`): `done` with `verified_at`. A 204 is not proof;
//!   if the GET fails the row is `done` without `verified_at` and the next listing verifies.
//! - 204 but the token is still listed `ACTIVE`, or any other failure: `failed` with the
//!   error and `next_attempt_at` (exponential backoff with jitter, across sweeps), or
//!   `irrevocable` once `revocation.max_attempts` attempts failed (tried again daily).
//! - 404: `already_gone`, verified; but a 404 to a retry after a failure that may have
//!   reached Okta is `done` (the earlier attempt took effect), with a note saying so, and so
//!   is a failure that may have taken effect (a 5xx to the end, a timeout) when a GET then
//!   finds the token gone or not active (see [`delete`]).
//! - The revocation gate withdrew it (exempt now, no policy selects it any more, an id Okta
//!   could not have sent): `withdrawn` with the reason; nothing is sent.
//! - A retried policy revocation whose token a listing has since found gone: `already_gone`
//!   with a note naming that listing, and no HTTP status; nothing is sent.
//!
//! Every outcome carries the Okta request id (and, on an error, Okta's `errorId`) of the
//! DELETE that caused it.

#[path = "delete.rs"]
mod delete;

use chrono::Utc;
use tracing::{Instrument, error, info_span, warn};

use super::retry::{DAY, OpenIntent, after, append_after, retry_after};
use super::{Deps, Planned};
use crate::config::Mode;
use crate::gate::{Asker, TokenRequest, Verdict};
use crate::okta::{self, Cleared, OktaClient, Unsent};
use crate::store::{self, NewRevocation, RevocationState, RevocationTrigger, ts};
use delete::{Revocation, revoke_and_verify};

/// How one revocation attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevocationOutcome {
    /// Okta answered 204 (verified, or to be verified by the next listing).
    Done,
    /// Okta answered 404: it was already gone.
    AlreadyGone,
    /// Failed; will be retried.
    Failed,
    /// Failed `revocation.max_attempts` times; retried daily.
    Irrevocable,
    /// The revocation gate withdrew it; nothing was sent.
    Withdrawn,
    /// Another run recorded a row of the retried intent since it was read (it settled or
    /// attempted it): nothing was sent, nothing recorded.
    Settled,
}

impl RevocationOutcome {
    /// Every outcome, in declaration order (the order `as usize` numbers them).
    pub const ALL: [RevocationOutcome; 6] = [
        RevocationOutcome::Done,
        RevocationOutcome::AlreadyGone,
        RevocationOutcome::Failed,
        RevocationOutcome::Irrevocable,
        RevocationOutcome::Withdrawn,
        RevocationOutcome::Settled,
    ];
}

/// A revocation to attempt: a new plan entry, or an open intent being retried.
#[derive(Debug, Clone)]
pub struct Work {
    pub planned: Planned,
    /// The open intent, when retrying one.
    pub intent: Option<OpenIntent>,
    pub trigger: RevocationTrigger,
    pub job_id: Option<i64>,
}

/// Attempts one revocation and appends its outcome (and, for new work, its intent first).
pub async fn attempt(
    deps: &Deps,
    okta: &OktaClient,
    sweep_id: Option<i64>,
    work: &Work,
) -> Result<RevocationOutcome, store::Error> {
    let p = &work.planned;
    let span = info_span!("revoke", okta.token_id = %p.token_id, policy.rule = %p.rules.join(","));
    async {
        let mut base = p.audit_row(
            sweep_id,
            Mode::Enforce,
            RevocationState::Pending,
            &ts(Utc::now()),
        );
        base.trigger = work.trigger;
        base.job_id = work.job_id;
        let request = TokenRequest {
            token_id: &p.token_id,
            user_id: &p.user_id,
            client_id: &p.client_id,
            asker: Asker::from_trigger(work.trigger),
        };
        let (state, reason, outcome) = match deps.gate.check_token(request, Utc::now()).await? {
            Verdict::Cleared(cleared) => return send(deps, okta, work, base, &cleared).await,
            Verdict::Withdrawn(reason) => {
                warn!(reason = %reason, "revocation withdrawn by the gate; nothing sent");
                (
                    RevocationState::Withdrawn,
                    reason,
                    RevocationOutcome::Withdrawn,
                )
            }
            // A plan that no longer holds is withdrawn, never sent: revokd did not revoke it.
            Verdict::Gone(note) => (
                RevocationState::Withdrawn,
                note,
                RevocationOutcome::Withdrawn,
            ),
        };
        let row = NewRevocation {
            intent_id: work.intent.map(|open| open.id),
            state,
            completed_at: Some(ts(Utc::now())),
            attempts: work.intent.map_or(0, |open| open.attempts),
            error: Some(reason),
            ..base
        };
        Ok(match work.intent {
            Some(open) => append_after(deps, &row, open)
                .await?
                .map_or(RevocationOutcome::Settled, |_| outcome),
            None => {
                deps.store.append_revocation(&row).await?;
                outcome
            }
        })
    }
    .instrument(span)
    .await
}

/// Records the intent (new work), sends the cleared DELETE and records its outcome.
async fn send(
    deps: &Deps,
    okta: &OktaClient,
    work: &Work,
    base: NewRevocation,
    cleared: &Cleared,
) -> Result<RevocationOutcome, store::Error> {
    let p = &work.planned;
    // In flight from before the retry's `pending` row is written, so a reconciliation of this
    // process never takes that row for an interrupted one (a new intent's run is alive).
    let _sending = work.intent.map(|open| deps.gate.in_flight().start(open.id));
    let (intent_id, before, written) = match work.intent {
        // A retry is an attempt of its own, recorded (`pending`) before its DELETE, so an
        // interruption leaves it for reconciliation; and only while the intent stands as read.
        Some(open) => {
            let attempt = NewRevocation {
                intent_id: Some(open.id),
                attempts: open.attempts,
                ..base.clone()
            };
            let Some(written) = append_after(deps, &attempt, open).await? else {
                return Ok(RevocationOutcome::Settled);
            };
            (open.id, open.attempts, written)
        }
        None => {
            let id = deps.store.append_revocation(&base).await?;
            (id, 0, id)
        }
    };
    let result = revoke_and_verify(okta, cleared).await;
    // A recheck the database failed, with nothing sent that may have taken effect, is no
    // attempt at Okta: it does not bring the intent nearer to `irrevocable`.
    let unchecked = matches!(
        &result,
        Err(okta::Error::Withdrawn {
            unsent: Unsent::Unchecked(_),
            maybe_applied: false,
        })
    );
    let attempt = if unchecked { before } else { before + 1 };
    let now = Utc::now();
    let mut row = NewRevocation {
        intent_id: Some(intent_id),
        completed_at: Some(ts(now)),
        attempts: attempt,
        ..base
    };
    let outcome = match result {
        Ok(Revocation {
            status,
            request_id,
            error_id,
            verified,
            already_gone,
            note,
        }) => {
            row.http_status = Some(i64::from(status));
            row.okta_request_id = request_id;
            row.okta_error_id = error_id;
            if already_gone {
                row.state = RevocationState::AlreadyGone;
                row.verified_at = Some(ts(now));
                RevocationOutcome::AlreadyGone
            } else {
                row.state = RevocationState::Done;
                row.verified_at = verified.then(|| ts(now));
                row.error = note;
                RevocationOutcome::Done
            }
        }
        Err(
            e @ okta::Error::Withdrawn {
                unsent: Unsent::Withdrawn(_),
                ..
            },
        ) => {
            warn!(error.message = %e, "revocation withdrawn by the gate just before it was sent");
            row.state = RevocationState::Withdrawn;
            row.error = Some(e.to_string());
            RevocationOutcome::Withdrawn
        }
        Err(
            e @ okta::Error::Withdrawn {
                unsent: Unsent::Gone(_),
                ..
            },
        ) => {
            row.state = RevocationState::Withdrawn;
            row.error = Some(e.to_string());
            RevocationOutcome::Withdrawn
        }
        Err(e) => {
            row.http_status = e.status().map(i64::from);
            row.okta_request_id = e.request_id().map(str::to_owned);
            row.okta_error_id = e.error_id().map(str::to_owned);
            row.error = Some(e.to_string());
            if attempt >= i64::from(deps.max_attempts) {
                error!(error.message = %e, okta.request_id = e.request_id(), okta.error_id = e.error_id(), attempts = attempt, "revocation irrevocable; retried daily");
                row.state = RevocationState::Irrevocable;
                row.next_attempt_at = Some(after(now, DAY));
                RevocationOutcome::Irrevocable
            } else {
                warn!(error.message = %e, okta.request_id = e.request_id(), okta.error_id = e.error_id(), attempts = attempt, "revocation failed; will be retried");
                row.state = RevocationState::Failed;
                row.next_attempt_at = Some(after(now, retry_after(attempt.max(1), rand::random())));
                RevocationOutcome::Failed
            }
        }
    };
    // The outcome follows this attempt's own `pending` row, or none lands: at most one
    // outcome per attempt, whatever else runs.
    let opened = OpenIntent {
        id: intent_id,
        attempts: before,
        latest: written,
    };
    if append_after(deps, &row, opened).await?.is_none() {
        return Ok(RevocationOutcome::Settled);
    }
    if matches!(
        outcome,
        RevocationOutcome::Done | RevocationOutcome::AlreadyGone
    ) {
        deps.progress.revoked();
    }
    match outcome {
        RevocationOutcome::Done => deps.store.mark_revoked(&p.token_id, now).await?,
        RevocationOutcome::AlreadyGone => deps.store.mark_token_gone(&p.token_id, now).await?,
        RevocationOutcome::Failed
        | RevocationOutcome::Irrevocable
        | RevocationOutcome::Withdrawn
        | RevocationOutcome::Settled => {}
    }
    Ok(outcome)
}
