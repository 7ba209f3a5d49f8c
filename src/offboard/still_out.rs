//! Whether the event behind an automatic offboarding job still stands when the job runs. A
//! job of the event hook or the System Log acts on an event that may be old by then: a held
//! job released hours later, a delivery replayed, a first System Log poll reaching back an
//! hour. If Okta shows the user back since (reactivated, unsuspended), revoking their tokens
//! would offboard someone who is not leaving. So before its first request to the user's
//! tokens, such a job reads the user's `status` (`GET /api/v1/users/{id}`) and goes ahead only
//! while the user is still out. A CLI offboard is an explicit request and is not checked, and
//! event types other than Okta's deactivation and suspension are taken as they come: revokd
//! does not know which status they lead to.

use crate::ids::UserId;
use crate::okta::{self, OktaClient, UserStatus};
use crate::store::JobSource;

/// The event types whose standing revokd checks: each leaves its user `DEPROVISIONED` or
/// `SUSPENDED`.
pub const CHECKED_EVENT_TYPES: [&str; 2] = ["user.lifecycle.deactivate", "user.lifecycle.suspend"];

/// What a job may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// Go ahead: the user is still out, gone from Okta, or the job is not one checked.
    GoAhead,
    /// The event no longer stands: revoke nothing. Says why.
    Undone(String),
}

/// Whether a job that comes from an event of `event_type`, whose user Okta now shows with
/// `status` (`None`: 404, no such user), may go ahead. Pure.
pub fn judge(event_type: &str, status: Option<&UserStatus>) -> Standing {
    match status {
        None | Some(UserStatus::Deprovisioned | UserStatus::Suspended) => Standing::GoAhead,
        Some(other) => Standing::Undone(format!(
            "Okta shows the user {} now: the {event_type} event no longer stands, so nothing \
             was revoked (offboard them with `revokd offboard --user` if they are leaving)",
            other.as_str()
        )),
    }
}

/// The event type a job is checked for: an automatic job of one of [`CHECKED_EVENT_TYPES`].
pub fn checked_event(source: JobSource, event_type: Option<&str>) -> Option<&str> {
    match source {
        JobSource::Cli => None,
        JobSource::EventHook | JobSource::SystemLog => {
            event_type.filter(|t| CHECKED_EVENT_TYPES.contains(t))
        }
    }
}

/// `judge` for a job, reading the user's status from Okta when the job is checked (one
/// request; none otherwise).
pub async fn standing(
    okta: &OktaClient,
    user: &UserId,
    source: JobSource,
    event_type: Option<&str>,
) -> Result<Standing, okta::Error> {
    let Some(event_type) = checked_event(source, event_type) else {
        return Ok(Standing::GoAhead);
    };
    let status = okta.user_status(user).await?;
    Ok(judge(event_type, status.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEACTIVATE: &str = "user.lifecycle.deactivate";
    const SUSPEND: &str = "user.lifecycle.suspend";

    /// Still out (deactivated, suspended, or deleted: a 404) goes ahead; every status of a
    /// user who is back, and one Okta adds later, revokes nothing and says which it was.
    #[test]
    fn a_job_goes_ahead_only_while_its_user_is_still_out() {
        for event in [DEACTIVATE, SUSPEND] {
            for out in [
                None,
                Some(UserStatus::Deprovisioned),
                Some(UserStatus::Suspended),
            ] {
                assert_eq!(
                    judge(event, out.as_ref()),
                    Standing::GoAhead,
                    "{event} {out:?}"
                );
            }
            let back = [
                UserStatus::Active,
                UserStatus::Provisioned,
                UserStatus::Staged,
                UserStatus::Recovery,
                UserStatus::LockedOut,
                UserStatus::PasswordExpired,
                UserStatus::Other("ACTIVATING".into()),
            ];
            for status in back {
                let Standing::Undone(why) = judge(event, Some(&status)) else {
                    panic!("{event} {status:?} went ahead");
                };
                assert!(
                    why.contains(status.as_str()) && why.contains(event),
                    "{why}"
                );
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
