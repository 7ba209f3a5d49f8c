//! The gate asked again: each [`Cleared`] carries the check that issued it, and the Okta
//! client runs it right before every attempt of the DELETE (see
//! [`crate::okta::revoke::Recheck`]). It is the same check, against the lease and the
//! configuration in force at that instant: a token exempted by a reload, a policy changed, or
//! a lease lost while an attempt waited for its budget or its retry keeps that attempt unsent.

use std::sync::Arc;

use chrono::Utc;
use futures::future::BoxFuture;

use super::{Asker, Gate, TokenRequest, Verdict};
use crate::okta::revoke::{Recheck, Unsent};
use crate::store;

/// What a clearance was given for.
#[derive(Debug)]
pub(super) enum Cleared {
    /// One token, for `asker`.
    Token {
        token_id: String,
        user_id: String,
        client_id: String,
        asker: Asker,
    },
    /// Revoke-all of a pair whose ACTIVE tokens were `tokens` when it was checked.
    Pair {
        user_id: String,
        client_id: String,
        tokens: Arc<[String]>,
    },
}

/// A clearance's own check, run again with the gate it came from.
pub(super) struct Again {
    pub(super) gate: Gate,
    pub(super) what: Cleared,
}

impl Recheck for Again {
    fn recheck(&self) -> BoxFuture<'_, Result<(), Unsent>> {
        Box::pin(async move {
            match &self.what {
                Cleared::Token {
                    token_id,
                    user_id,
                    client_id,
                    asker,
                } => {
                    let req = TokenRequest {
                        token_id,
                        user_id,
                        client_id,
                        asker: *asker,
                    };
                    match self.gate.check_token(req, Utc::now()).await {
                        Ok(Verdict::Cleared(_)) => Ok(()),
                        Ok(Verdict::Withdrawn(why)) => Err(Unsent::Withdrawn(why)),
                        Ok(Verdict::Gone(note)) => Err(Unsent::Gone(note)),
                        Err(e) => Err(unchecked(e)),
                    }
                }
                Cleared::Pair {
                    user_id,
                    client_id,
                    tokens,
                } => match self.gate.check_pair(user_id, client_id, tokens).await {
                    Ok(plan) if plan.whole_pair.is_some() => Ok(()),
                    Ok(_) => Err(Unsent::Withdrawn(self.gate.dry_run_now().unwrap_or_else(
                        || {
                            "the pair may no longer be revoked whole: the configuration in \
                             force keeps some of its tokens"
                                .to_owned()
                        },
                    ))),
                    Err(e) => Err(unchecked(e)),
                },
            }
        })
    }
}

/// A lost lease withdraws the attempt like any other refusal; a database that failed leaves
/// it unchecked, to be tried again.
fn unchecked(e: store::Error) -> Unsent {
    match e {
        store::Error::LeaseNotHeld => Unsent::Withdrawn(e.to_string()),
        e => Unsent::Unchecked(e.to_string()),
    }
}
