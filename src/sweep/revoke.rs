//! Revoking one planned token: the intent (`pending`) is committed before the DELETE and the
//! outcome appended after it, so a crash at any instant leaves the intent visible.

use chrono::Utc;
use tracing::{Instrument, info_span, warn};

use super::{Deps, Planned};
use crate::config::Mode;
use crate::okta::{ClientId, OktaClient, TokenId, UserId};
use crate::store::{self, NewRevocation, RevocationState, ts};

/// How one revocation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevocationOutcome {
    /// Okta answered 204.
    Done,
    /// Okta answered 404: it was already gone.
    AlreadyGone,
    /// Anything else; recorded with the error.
    Failed,
}

pub(super) async fn revoke_planned(
    deps: &Deps,
    okta: &OktaClient,
    sweep_id: i64,
    planned: &Planned,
) -> Result<RevocationOutcome, store::Error> {
    let span = info_span!("revoke", okta.token_id = %planned.token_id, policy.rule = %planned.rules.join(","));
    async {
        let requested_at = ts(Utc::now());
        let intent = planned.audit_row(sweep_id, Mode::Enforce, RevocationState::Pending, &requested_at);
        let intent_id = deps.store.append_revocation(&intent).await?;

        let ids = (
            UserId::new(&planned.user_id),
            ClientId::new(&planned.client_id),
            TokenId::new(&planned.token_id),
        );
        let result = match ids {
            (Ok(user), Ok(client), Ok(token)) => okta.revoke_token(&user, &client, &token).await,
            _ => Err(crate::okta::Error::Refused { reason: "invalid id in plan".into(), request_id: None }),
        };
        let completed_at = ts(Utc::now());
        let mut row = NewRevocation {
            intent_id: Some(intent_id),
            completed_at: Some(completed_at),
            attempts: 1,
            ..intent
        };
        let outcome = match result {
            Ok(revoked) => {
                row.state = RevocationState::Done;
                row.http_status = Some(i64::from(revoked.status));
                row.okta_request_id = revoked.request_id;
                RevocationOutcome::Done
            }
            Err(e) => {
                row.http_status = e.status().map(i64::from);
                row.okta_request_id = e.request_id().map(str::to_owned);
                if e.is_not_found() {
                    row.state = RevocationState::AlreadyGone;
                    RevocationOutcome::AlreadyGone
                } else {
                    warn!(error.message = %e, okta.request_id = e.request_id(), "revocation failed");
                    row.state = RevocationState::Failed;
                    row.error = Some(e.to_string());
                    RevocationOutcome::Failed
                }
            }
        };
        deps.store.append_revocation(&row).await?;
        match outcome {
            RevocationOutcome::Done => deps.store.mark_revoked(&planned.token_id, Utc::now()).await?,
            // Okta no longer had it: gone, but not revoked by revokd.
            RevocationOutcome::AlreadyGone => deps.store.mark_token_gone(&planned.token_id, Utc::now()).await?,
            RevocationOutcome::Failed => {}
        }
        Ok(outcome)
    }
    .instrument(span)
    .await
}
