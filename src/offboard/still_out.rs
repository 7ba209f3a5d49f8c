//! Whether the event behind an automatic offboarding job still stands when the job runs. A
//! job of the event hook or the System Log acts on an event that may be old by then: a held
//! job released hours later, an old event delivered again under a new uuid, a first System
//! Log poll reaching `offboarding.lookback` back. If Okta shows the user back since
//! (reactivated, unsuspended), revoking their tokens would offboard someone who is not
//! leaving. So before each attempt that has revoked nothing yet, such a job reads the user
//! (`GET /api/v1/users/{id}`) and goes ahead only while the user is still out or on the way
//! out (`transitioningToStatus`: Okta may deactivate asynchronously). A job that has begun
//! revoking (an earlier attempt wrote a revocation intent, not withdrawn unsent) finishes
//! what it began: its event stood when it did, and its open intents are its own to settle. A
//! CLI offboard is an explicit request and is not checked, and event types other than Okta's
//! deactivation and suspension are taken as they come: revokd does not know which status
//! they lead to.

use crate::ids::UserId;
use crate::okta::{OktaClient, UserLifecycle, UserStatus};
use crate::store::{JobRow, JobSource, Store};

/// The event types whose standing revokd checks: each leaves its user `DEPROVISIONED` or
/// `SUSPENDED`.
const CHECKED_EVENT_TYPES: [&str; 2] = ["user.lifecycle.deactivate", "user.lifecycle.suspend"];

/// What a job may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// Go ahead: the user is still out, gone from Okta, or the job is not one checked.
    GoAhead,
    /// The event no longer stands: revoke nothing. Says why.
    Undone(String),
}

/// Whether a job that comes from an event of `event_type`, whose user Okta now shows as
/// `user` (`None`: 404, no such user), may go ahead. Pure.
pub fn judge(event_type: &str, user: Option<&UserLifecycle>) -> Standing {
    let Some(user) = user else {
        return Standing::GoAhead;
    };
    match user.heading() {
        UserStatus::Deprovisioned | UserStatus::Suspended => Standing::GoAhead,
        _ => Standing::Undone(format!(
            "Okta shows the user {} now: the {event_type} event no longer stands, so nothing \
             was revoked (offboard them with `revokd offboard --user` if they are leaving)",
            user.describe()
        )),
    }
}

/// The event type a job is checked for: an automatic job of a deactivation or a suspension.
fn checked_event(source: JobSource, event_type: Option<&str>) -> Option<&str> {
    match source {
        JobSource::Cli => None,
        JobSource::EventHook | JobSource::SystemLog => {
            event_type.filter(|t| CHECKED_EVENT_TYPES.contains(t))
        }
    }
}

/// Whether `job` (of `user`) may go ahead: unchecked jobs and jobs that have begun revoking
/// go ahead without a request; a checked one reads the user from Okta (one request) and is
/// judged. The error says what could not be read; it fails the attempt.
pub async fn standing(
    store: &Store,
    okta: &OktaClient,
    user: &UserId,
    job: &JobRow,
) -> Result<Standing, String> {
    let Some(event_type) = checked_event(job.source, job.event_type.as_deref()) else {
        return Ok(Standing::GoAhead);
    };
    // Begun: it finishes what it began; its event stood then.
    if store
        .job_has_begun(job.id)
        .await
        .map_err(|e| format!("database: {e}"))?
    {
        return Ok(Standing::GoAhead);
    }
    let lifecycle = okta
        .user_status(user)
        .await
        .map_err(|e| format!("cannot read the user's status in Okta: {e}"))?;
    Ok(judge(event_type, lifecycle.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEACTIVATE: &str = "user.lifecycle.deactivate";
    const SUSPEND: &str = "user.lifecycle.suspend";

    fn user(status: UserStatus, to: Option<UserStatus>) -> UserLifecycle {
        UserLifecycle {
            status,
            transitioning_to_status: to,
        }
    }

    /// Still out (deactivated, suspended, or deleted: a 404) or on the way out goes ahead;
    /// every status of a user who is back or on the way back, and one Okta adds later,
    /// revokes nothing and says which it was.
    #[test]
    fn a_job_goes_ahead_only_while_its_user_is_still_out() {
        use UserStatus::{Active, Deprovisioned, Suspended};
        for event in [DEACTIVATE, SUSPEND] {
            assert_eq!(judge(event, None), Standing::GoAhead);
            for out in [
                user(Deprovisioned, None),
                user(Suspended, None),
                user(Active, Some(Deprovisioned)),
                user(Active, Some(Suspended)),
            ] {
                assert_eq!(
                    judge(event, Some(&out)),
                    Standing::GoAhead,
                    "{event} {out:?}"
                );
            }
            let back = [
                user(Active, None),
                user(UserStatus::Provisioned, None),
                user(UserStatus::Staged, None),
                user(UserStatus::Recovery, None),
                user(UserStatus::LockedOut, None),
                user(UserStatus::PasswordExpired, None),
                user(UserStatus::Other("ACTIVATING".into()), None),
                user(Deprovisioned, Some(Active)),
            ];
            for lifecycle in back {
                let Standing::Undone(why) = judge(event, Some(&lifecycle)) else {
                    panic!("{event} {lifecycle:?} went ahead");
                };
                let shown = format!("Okta shows the user {} now", lifecycle.describe());
                assert!(why.contains(&shown) && why.contains(event), "{why}");
            }
        }
    }

    /// Only automatic jobs of the two lifecycle events are checked.
    #[test]
    fn only_automatic_jobs_of_a_deactivation_or_suspension_are_checked() {
        assert_eq!(checked_event(JobSource::Cli, Some(DEACTIVATE)), None);
        for source in [JobSource::EventHook, JobSource::SystemLog] {
            assert_eq!(checked_event(source, Some(DEACTIVATE)), Some(DEACTIVATE));
            assert_eq!(checked_event(source, Some(SUSPEND)), Some(SUSPEND));
            assert_eq!(checked_event(source, Some("user.account.lock")), None);
            assert_eq!(checked_event(source, None), None);
        }
    }
}
