//! One revocation sent to Okta and proven: the DELETE, then a GET to show the token gone. A
//! 404 to the first attempt is "already gone"; a 404 to a retry after a failure that may
//! have reached Okta, and a failure that may have taken effect (a 5xx, a timeout, a retry
//! the gate withdrew after one) followed by a GET that finds the token gone or not active,
//! are "done": the attempt took effect. What Okta answered is kept for the audit row.

use crate::okta::{self, Cleared, OktaClient, Unsent};

/// What Okta answered, and whether the token's absence was confirmed.
pub(super) struct Revocation {
    pub(super) status: u16,
    pub(super) request_id: Option<String>,
    /// Okta's `errorId`, when an error answer is what the outcome rests on.
    pub(super) error_id: Option<String>,
    pub(super) verified: bool,
    /// Okta answered 404 to the first attempt: someone else revoked it first.
    pub(super) already_gone: bool,
    pub(super) note: Option<String>,
}

/// DELETE, then GET to prove the token is gone. A 404 on DELETE counts as gone.
pub(super) async fn revoke_and_verify(
    okta: &OktaClient,
    cleared: &Cleared,
) -> Result<Revocation, okta::Error> {
    let revoked = match okta.revoke(cleared).await {
        Ok(r) if r.earlier_attempt_took_effect() => {
            return Ok(Revocation {
                status: r.status,
                request_id: r.request_id,
                error_id: None,
                verified: true,
                already_gone: false,
                note: Some(
                    "Okta answered 404 to a retry after a failed attempt: that attempt took effect"
                        .into(),
                ),
            });
        }
        Ok(r) => r,
        // A 5xx or a timeout does not say the DELETE did not take effect; nor does a retry
        // the gate withdrew after one.
        Err(e) if e.may_have_taken_effect() => return after_a_failure(okta, cleared, e).await,
        Err(e) if e.is_not_found() => {
            let request_id = e.request_id().map(str::to_owned);
            return Ok(Revocation {
                status: 404,
                request_id,
                error_id: None,
                verified: true,
                already_gone: true,
                note: None,
            });
        }
        Err(e) => return Err(e),
    };
    let Some(token) = cleared.token() else {
        return Ok(Revocation {
            status: revoked.status,
            request_id: revoked.request_id,
            error_id: None,
            verified: false,
            already_gone: false,
            note: None,
        });
    };
    let lookup = okta
        .get_token(cleared.user(), cleared.client(), token)
        .await;
    match lookup.map(|l| l.found) {
        Ok(Some(found)) if found.token.may_be_active() => Err(okta::Error::Refused {
            reason: format!(
                "Okta answered 204 to the revocation but still lists the token {}",
                match found.token.status {
                    Some(_) => "as ACTIVE",
                    None => "with no status",
                }
            ),
            request_id: revoked.request_id,
        }),
        Ok(_) => Ok(Revocation {
            status: revoked.status,
            request_id: revoked.request_id,
            error_id: None,
            verified: true,
            already_gone: false,
            note: None,
        }),
        Err(e) => Ok(Revocation {
            status: revoked.status,
            request_id: revoked.request_id,
            error_id: None,
            verified: false,
            already_gone: false,
            note: Some(format!(
                "revoked; verification deferred to the next listing ({e})"
            )),
        }),
    }
}

/// A revocation that failed in a way that may have taken effect (a 5xx, a timeout, or a
/// retry the gate withdrew after one): Okta is asked whether it still has the token. Gone
/// or listed but not active, an attempt did it (`done`, with Okta's answer); still active,
/// or Okta's answer unknown, the failure (or the withdrawal) stands.
async fn after_a_failure(
    okta: &OktaClient,
    cleared: &Cleared,
    withdrawn: okta::Error,
) -> Result<Revocation, okta::Error> {
    let Some(token) = cleared.token() else {
        return Err(withdrawn);
    };
    let found = match okta
        .get_token(cleared.user(), cleared.client(), token)
        .await
    {
        Ok(found) => found,
        // Unknown: a withdrawn retry fails on the GET's error (nothing confirms the listing
        // that called the token gone); any other failure stands as it was.
        Err(e) if matches!(withdrawn, okta::Error::Withdrawn { .. }) => return Err(e),
        Err(_) => return Err(withdrawn),
    };
    let which = match withdrawn {
        okta::Error::Withdrawn { .. } => "an earlier attempt",
        _ => "the attempt",
    };
    // The failure's own answer, where it had one (a 5xx): the row names Okta's request;
    // else the GET's, which found what the row records.
    let (request_id, error_id) = (
        (withdrawn.request_id().map(str::to_owned)).or(found.request_id),
        withdrawn.error_id().map(str::to_owned),
    );
    let status = |confirmed: u16| withdrawn.status().unwrap_or(confirmed);
    match found.found {
        // A listing's "gone" does not outweigh Okta's own answer: the attempt failed.
        Some(found) if found.token.may_be_active() => match withdrawn {
            okta::Error::Withdrawn {
                unsent: Unsent::Gone(note),
                maybe_applied,
            } => Err(okta::Error::Withdrawn {
                unsent: Unsent::Unchecked(format!("{note}, but Okta lists it ACTIVE")),
                maybe_applied,
            }),
            withdrawn => Err(withdrawn),
        },
        Some(found) => Ok(Revocation {
            status: status(200),
            request_id,
            error_id,
            verified: true,
            already_gone: false,
            note: Some(format!(
                "{which} took effect: Okta lists the token {} ({withdrawn})",
                found.token.status_text()
            )),
        }),
        None => Ok(Revocation {
            status: status(404),
            request_id,
            error_id,
            verified: true,
            already_gone: false,
            note: Some(format!(
                "{which} took effect: Okta no longer has the token ({withdrawn})"
            )),
        }),
    }
}
