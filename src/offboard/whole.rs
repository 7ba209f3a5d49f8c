//! The revoke-all intent of one pair of an offboarding: a `revocations` row with no token id.
//! A revoke-all is a revocation of its own, which also takes tokens no listing showed (one
//! issued while the `DELETE` was on its way), so it is recorded as one. One intent stays open
//! per pair and job: written before the first revoke-all, each later one (the next round, the job's
//! next try) is its next attempt, and the listing after each closes it: `done` once the
//! tokens it was sent for are seen gone, `already_gone` on a 404, `failed` until the next
//! attempt otherwise. Its retry is `withdrawn` (never sent) when the gate has the pair revoked
//! token by token or clears none of its tokens any more, or a later job supersedes it.
//! Pure: the caller appends the rows.

use chrono::Utc;

use super::Offboarding;
use super::rows::{closing_row, row_of};
use super::send::Answer;
use crate::config::Mode;
use crate::store::{NewRevocation, OpenPairIntent, RevocationState, ts};
use crate::sweep::{INTERRUPTED_REVOKE_ALL, Target};

/// The pair's revoke-all intent across the rounds of one try.
pub(super) struct RevokeAll<'a> {
    job: &'a Offboarding,
    target: &'a Target,
    /// The open intent: (id, attempts so far).
    open: Option<(i64, i64)>,
}

impl<'a> RevokeAll<'a> {
    /// Picks up the open revoke-all intents of the pair (`found`: this job's from an earlier
    /// try, and those of finished jobs) at the start of a try; returns the rows that settle
    /// them. With nothing listed they are `already_gone` (one may have taken effect). Otherwise
    /// an interrupted one (`pending`) is `failed` first; this job's newest is its next
    /// attempt's, and the rest are superseded: this job revokes the pair anew.
    pub(super) fn start(
        job: &'a Offboarding,
        target: &'a Target,
        found: Vec<OpenPairIntent>,
        nothing_listed: bool,
    ) -> (RevokeAll<'a>, Vec<NewRevocation>) {
        let mut whole = RevokeAll {
            job,
            target,
            open: None,
        };
        let adopt = match nothing_listed {
            true => None,
            false => found.iter().rfind(|f| f.job_id == Some(job.job_id)),
        }
        .map(|f| f.id);
        let mut rows = Vec::new();
        for f in found {
            let their = |row: NewRevocation| NewRevocation {
                job_id: f.job_id,
                reason: f.reason.clone(),
                ..row
            };
            // An interrupted attempt (`pending`) counts: it may have been sent.
            let attempts = f.attempts + i64::from(f.state == RevocationState::Pending);
            if nothing_listed {
                let why = "nothing was listed when the pair was offboarded again: it may have taken effect";
                let gone = RevocationState::AlreadyGone;
                rows.push(their(whole.closing(gone, (f.id, attempts), why)));
                continue;
            }
            if f.state == RevocationState::Pending {
                let failed = RevocationState::Failed;
                rows.push(their(whole.closing(
                    failed,
                    (f.id, attempts),
                    INTERRUPTED_REVOKE_ALL,
                )));
            }
            if Some(f.id) == adopt {
                whole.open = Some((f.id, attempts));
            } else {
                let why = format!(
                    "its retry is withdrawn: superseded by offboarding job {}",
                    job.job_id
                );
                let withdrawn = RevocationState::Withdrawn;
                rows.push(their(whole.closing(withdrawn, (f.id, attempts), &why)));
            }
        }
        (whole, rows)
    }

    /// The row a round adds to its intents: a new intent when it revokes the pair `whole` and
    /// none is open, a `pending` retry of the open one when one is, or the open one's retry
    /// withdrawn when the gate has the pair revoked token by token. [`RevokeAll::intended`]
    /// takes the new intent's id.
    pub(super) fn round(&mut self, whole: bool) -> Option<NewRevocation> {
        match (whole, self.open) {
            (true, None) => Some(row_of(
                self.job,
                self.target,
                None,
                Mode::Enforce,
                RevocationState::Pending,
            )),
            // A retry of the open intent (failed in an earlier round, or carried over from an
            // earlier try): an attempt of its own, recorded `pending` before its DELETE, so an
            // interruption leaves it for reconciliation.
            (true, Some((id, attempts))) => Some(NewRevocation {
                intent_id: Some(id),
                attempts,
                ..row_of(
                    self.job,
                    self.target,
                    None,
                    Mode::Enforce,
                    RevocationState::Pending,
                )
            }),
            (false, Some(open)) => {
                self.open = None;
                let why = "its retry is withdrawn: the gate has the pair revoked token by token";
                Some(self.closing(RevocationState::Withdrawn, open, why))
            }
            _ => None,
        }
    }

    /// The id the intent [`RevokeAll::round`] wrote was given.
    pub(super) fn intended(&mut self, id: i64) {
        self.open = Some((id, 0));
    }

    /// The row closing the open intent after a revoke-all got `answer`, by what the listing
    /// after it showed: `Ok(true)` when every token it was sent for was gone, or why the pair
    /// could not be listed. `None` when no intent is open.
    pub(super) fn answered(
        &mut self,
        answer: &Answer,
        listing: Result<bool, String>,
    ) -> Option<NewRevocation> {
        let (id, before) = self.open.take()?;
        let state = match answer {
            a if a.withdrawn => RevocationState::Withdrawn,
            a if a.already_gone => RevocationState::AlreadyGone,
            _ if listing == Ok(true) => RevocationState::Done,
            _ => RevocationState::Failed,
        };
        let attempts = before + i64::from(!answer.unsent);
        if state == RevocationState::Failed {
            self.open = Some((id, attempts));
        }
        let error = match (state, &answer.error, listing) {
            (_, Some(error), _) => Some(error.clone()),
            // Okta's 404 to a retry after a failure that may have reached it.
            (RevocationState::Done, None, _) if answer.status == Some(404) => {
                Some("Okta answered 404 to a retry: an earlier attempt took effect".to_owned())
            }
            (RevocationState::Failed, None, Err(why)) => {
                Some(format!("the pair could not be listed after it: {why}"))
            }
            (RevocationState::Failed, None, _) => Some(format!(
                "Okta answered {}, but the tokens it was sent for were still listed after it",
                answer.status.unwrap_or_default()
            )),
            _ => None,
        };
        let now = ts(Utc::now());
        let verified = matches!(state, RevocationState::Done | RevocationState::AlreadyGone);
        Some(NewRevocation {
            intent_id: Some(id),
            attempts,
            completed_at: Some(now.clone()),
            verified_at: verified.then_some(now),
            http_status: answer.status,
            okta_request_id: answer.request_id.clone(),
            okta_error_id: answer.error_id.clone(),
            error,
            ..row_of(self.job, self.target, None, Mode::Enforce, state)
        })
    }

    /// At the pair's end: the open (failed) intent's retry is withdrawn when the gate clears
    /// none of the pair's tokens now (`nothing_cleared`); otherwise it stays open for the job's
    /// next try.
    pub(super) fn finish(&mut self, nothing_cleared: bool) -> Option<NewRevocation> {
        let open = self.open.filter(|_| nothing_cleared)?;
        self.open = None;
        let why = "its retry is withdrawn: the gate clears none of the pair's tokens now";
        Some(self.closing(RevocationState::Withdrawn, open, why))
    }

    fn closing(&self, state: RevocationState, open: (i64, i64), why: &str) -> NewRevocation {
        closing_row(self.job, self.target, None, state, open, why)
    }
}

#[cfg(test)]
#[path = "tests_whole.rs"]
mod tests;
