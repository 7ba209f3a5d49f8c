//! Whether the event behind an automatic offboarding job still stands when the job runs. A
//! job of the event hook or the System Log acts on an event that may be old by then: a held
//! job released hours later, an old event delivered again under a new uuid, a first System
//! Log poll reaching `offboarding.lookback` back. If Okta shows the user back since
//! (reactivated, unsuspended), revoking their tokens would offboard someone who is not
//! leaving. So before each attempt such a job reads the user (`GET /api/v1/users/{id}`) and
//! goes ahead only while the user is still out as its event left them, or on the way there
//! (`transitioningToStatus`: Okta may deactivate asynchronously). A job whose user is back
//! revokes nothing more: one that has revoked nothing ends `skipped`; one that had begun
//! revoking (an earlier attempt wrote a revocation intent, not withdrawn unsent) stops too,
//! withdrawing the retries of its failed revocations, since a new attempt would list and
//! revoke what the user holds now. A CLI offboard is an explicit request and is not checked,
//! and event types other than Okta's deactivation and suspension are taken as they come:
//! revokd does not know which status they lead to.

use chrono::Utc;

use crate::ids::UserId;
use crate::okta::{OktaClient, UserLifecycle, UserStatus};
use crate::store::{self, AuditRow, JobRow, JobSource, NewRevocation, RevocationState, Store, ts};

/// Okta's event of a suspension: its user `SUSPENDED`.
const SUSPENSION: &str = "user.lifecycle.suspend";

/// The event types whose standing revokd checks: each leaves its user `DEPROVISIONED` or
/// `SUSPENDED`.
const CHECKED_EVENT_TYPES: [&str; 2] = ["user.lifecycle.deactivate", SUSPENSION];

/// What a job may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// Go ahead: the user is still out, gone from Okta, or the job is not one checked.
    GoAhead,
    /// The event no longer stands and the job has revoked nothing: revoke nothing. Says why.
    Undone(String),
    /// The event no longer stands, but an earlier attempt had begun revoking: revoke nothing
    /// more and withdraw the retries it left. Says why.
    UndoneAfterBegun(String),
}

/// Why a job that comes from an event of `event_type`, whose user Okta now shows as `user`
/// (`None`: 404, no such user), no longer stands, or `None` while it does: a deactivation
/// stands while the user is (or is becoming) `DEPROVISIONED`; a suspension while they are
/// `SUSPENDED` or deactivated since. A user deactivated, reactivated and then suspended is
/// out on a suspension, not on the deactivation: if suspensions are offboarded, that event
/// has a job of its own. Pure.
pub fn undone(event_type: &str, user: Option<&UserLifecycle>) -> Option<String> {
    let user = user?;
    let stands = match user.heading() {
        UserStatus::Deprovisioned => true,
        UserStatus::Suspended => event_type == SUSPENSION,
        _ => false,
    };
    (!stands).then(|| {
        format!(
            "Okta shows the user {} now: the {event_type} event no longer stands",
            user.describe()
        )
    })
}

/// What an operator is told to do about a user whose job stopped: offboard them by hand if
/// they are leaving after all.
pub const IF_LEAVING: &str = "offboard them with `revokd offboard --user` if they are leaving";

/// The event type a job is checked for: an automatic job of a deactivation or a suspension.
fn checked_event(source: JobSource, event_type: Option<&str>) -> Option<&str> {
    match source {
        JobSource::Cli => None,
        JobSource::EventHook | JobSource::SystemLog => {
            event_type.filter(|t| CHECKED_EVENT_TYPES.contains(t))
        }
    }
}

/// Whether `job` (of `user`) may go ahead: unchecked jobs go ahead without a request; a
/// checked one reads the user from Okta (one request) and is judged, and one whose event no
/// longer stands is told apart by whether it has begun revoking. The error says what could
/// not be read; it fails the attempt.
pub async fn standing(
    store: &Store,
    okta: &OktaClient,
    user: &UserId,
    job: &JobRow,
) -> Result<Standing, String> {
    let Some(event_type) = checked_event(job.source, job.event_type.as_deref()) else {
        return Ok(Standing::GoAhead);
    };
    let lifecycle = okta
        .user_status(user)
        .await
        .map_err(|e| format!("cannot read the user's status in Okta: {e}"))?;
    let Some(why) = undone(event_type, lifecycle.as_ref()) else {
        return Ok(Standing::GoAhead);
    };
    let begun = (store.job_has_begun(job.id).await).map_err(|e| format!("database: {e}"))?;
    Ok(if begun {
        Standing::UndoneAfterBegun(why)
    } else {
        Standing::Undone(format!("{why}, so nothing was revoked ({IF_LEAVING})"))
    })
}

/// Stops job `job_id`, which had begun revoking, when its event no longer stands (`why`): the
/// retries of its failed revocations are withdrawn, a row each, and its sends interrupted mid-way
/// (`pending`: they may have taken effect) are left to the reconciliation that settles them.
/// Returns what the job ends with.
pub async fn stop_begun(store: &Store, job_id: i64, why: &str) -> Result<String, store::Error> {
    let (interrupted, retries): (Vec<AuditRow>, Vec<AuditRow>) = (store.open_job_rows(job_id))
        .await?
        .into_iter()
        .partition(|r| r.state() == Some(RevocationState::Pending));
    let now = ts(Utc::now());
    let note = format!("its retry is withdrawn: {why}");
    let withdrawn = RevocationState::Withdrawn;
    let rows: Vec<NewRevocation> = (retries.iter())
        .map(|r| r.followed_by(withdrawn, r.attempts, note.clone(), now.clone()))
        .collect();
    store.append_revocations(&rows).await?;
    let left = match interrupted.len() {
        0 => String::new(),
        n => format!(", {n} interrupted revocation(s) left for reconciliation to settle"),
    };
    Ok(format!(
        "{why}; an earlier attempt had begun revoking, so the job revokes nothing more: {} \
         failed revocation(s) no longer retried{left} ({IF_LEAVING})",
        rows.len()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Mode;
    use crate::store::RevocationTrigger;

    const DEACTIVATE: &str = "user.lifecycle.deactivate";
    const SUSPEND: &str = "user.lifecycle.suspend";

    fn user(status: UserStatus, to: Option<UserStatus>) -> UserLifecycle {
        UserLifecycle {
            status,
            transitioning_to_status: to,
        }
    }

    /// Still out as the event left them (deactivated; suspended, or deactivated since, for a
    /// suspension; deleted: a 404) or on the way there goes ahead; every status of a user who
    /// is back or on the way back, and one Okta adds later, revokes nothing and says which it
    /// was.
    #[test]
    fn a_job_goes_ahead_only_while_its_user_is_still_out() {
        use UserStatus::{Active, Deprovisioned, Suspended};
        let still_out = |event: &str| {
            let mut out = vec![user(Deprovisioned, None), user(Active, Some(Deprovisioned))];
            if event == SUSPEND {
                out.extend([user(Suspended, None), user(Active, Some(Suspended))]);
            }
            out
        };
        for event in [DEACTIVATE, SUSPEND] {
            assert_eq!(undone(event, None), None);
            for out in still_out(event) {
                assert_eq!(undone(event, Some(&out)), None, "{event} {out:?}");
            }
            let mut back = vec![
                user(Active, None),
                user(UserStatus::Provisioned, None),
                user(UserStatus::Staged, None),
                user(UserStatus::Recovery, None),
                user(UserStatus::LockedOut, None),
                user(UserStatus::PasswordExpired, None),
                user(UserStatus::Other("ACTIVATING".into()), None),
                user(Deprovisioned, Some(Active)),
            ];
            if event == DEACTIVATE {
                // Reactivated, then suspended: out on another event.
                back.extend([user(Suspended, None), user(Active, Some(Suspended))]);
            }
            for lifecycle in back {
                let Some(why) = undone(event, Some(&lifecycle)) else {
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

    /// A stopped job withdraws the retries of its failed and irrevocable revocations, a row
    /// each saying why, leaves a `pending` one (sent, perhaps in effect) open, and touches
    /// neither a closed intent nor another job's.
    #[sqlx::test]
    async fn a_stopped_job_withdraws_its_retries_and_leaves_interrupted_sends(
        pool: sqlx::SqlitePool,
    ) {
        use RevocationState as S;
        let store = Store::from_pool(pool).await.unwrap();
        let row = |job: i64, token: &str, state: S, intent: Option<i64>| NewRevocation {
            job_id: Some(job),
            intent_id: intent,
            reason: Some("Okta event".into()),
            ..NewRevocation::new(
                Some(token.into()),
                "00u1",
                "0oa1",
                RevocationTrigger::Offboard,
                Mode::Enforce,
                state,
                ts(Utc::now()),
            )
        };
        for (job, token, last) in [
            (1, "oarF", S::Failed),
            (1, "oarI", S::Irrevocable),
            (1, "oarP", S::Pending),
            (1, "oarD", S::Done),
            (2, "oarX", S::Failed),
        ] {
            let intent = [row(job, token, S::Pending, None)];
            let id = store.append_revocations(&intent).await.unwrap()[0];
            if last != S::Pending {
                let closing = row(job, token, last, Some(id));
                store.append_revocations(&[closing]).await.unwrap();
            }
        }
        let why = "Okta shows the user ACTIVE now";
        let ended = stop_begun(&store, 1, why).await.unwrap();
        assert!(
            ended.contains("2 failed revocation(s) no longer retried, 1 interrupted"),
            "{ended}"
        );
        let latest: Vec<(String, String, Option<String>)> = sqlx::query_as(
            "SELECT token_id, state, error FROM v_revocation_state ORDER BY COALESCE(intent_id, id)",
        )
        .fetch_all(store.pool())
        .await
        .unwrap();
        let why = Some("its retry is withdrawn: Okta shows the user ACTIVE now".to_owned());
        assert_eq!(
            latest,
            [
                ("oarF".into(), "withdrawn".into(), why.clone()),
                ("oarI".into(), "withdrawn".into(), why),
                ("oarP".into(), "pending".into(), None),
                ("oarD".into(), "done".into(), None),
                ("oarX".into(), "failed".into(), None),
            ]
        );
        assert!(store.verify_audit().await.unwrap().is_ok());
    }
}
