//! One round of an offboarding's DELETEs, as the revocation gate cleared them: revoke-all for
//! the pair, or each token; and what Okta answered, kept per token for its audit row.

use std::collections::BTreeMap;

use tracing::warn;

use crate::okta::{self, Cleared, OktaClient, Unsent};

/// What the DELETE that removed a token answered.
#[derive(Debug, Clone, Default)]
pub(super) struct Answer {
    pub(super) status: Option<i64>,
    pub(super) request_id: Option<String>,
    pub(super) error_id: Option<String>,
    pub(super) error: Option<String>,
    /// Okta answered 404 to the first attempt: someone else revoked the token first.
    pub(super) already_gone: bool,
    /// Not sent this time: the gate, asked again just before, kept it unsent (or could not
    /// check it), and no earlier attempt of it may have reached Okta.
    pub(super) unsent: bool,
    /// Unsent because the gate withdrew it for good (not because it could not check).
    pub(super) withdrawn: bool,
}

impl Answer {
    fn of(result: &Result<okta::Revoked, okta::Error>) -> Answer {
        match result {
            Ok(r) => Answer {
                status: Some(i64::from(r.status)),
                request_id: r.request_id.clone(),
                ..Answer::default()
            },
            Err(e) => Answer {
                status: e.status().map(i64::from),
                request_id: e.request_id().map(str::to_owned),
                error_id: e.error_id().map(str::to_owned),
                error: Some(e.to_string()),
                already_gone: false,
                unsent: matches!(
                    e,
                    okta::Error::Withdrawn {
                        maybe_applied: false,
                        ..
                    }
                ),
                withdrawn: matches!(
                    e,
                    okta::Error::Withdrawn {
                        unsent: Unsent::Withdrawn(_) | Unsent::Gone(_),
                        maybe_applied: false,
                    }
                ),
            },
        }
    }
}

/// Sends one round: revoke-all when the gate allowed it, else each cleared token. The
/// answers are keyed by token (`""` for the pair).
pub(super) async fn send(
    okta: &OktaClient,
    whole: Option<&Cleared>,
    tokens: &[(String, Cleared)],
) -> BTreeMap<String, Answer> {
    let mut answers = BTreeMap::new();
    if let Some(pair) = whole {
        let result = okta.revoke(pair).await;
        match &result {
            Err(e @ okta::Error::Withdrawn { .. }) => {
                warn!(error.message = %e, "revoke-all withdrawn by the gate just before it was sent; the next round checks each token");
            }
            Err(e) => {
                warn!(error.message = %e, okta.request_id = e.request_id(), okta.error_id = e.error_id(), "revoke-all failed; verifying anyway");
            }
            Ok(_) => {}
        }
        let answer = Answer {
            // Okta's 404 to the first attempt: the user or the client is gone.
            already_gone: result.as_ref().is_err_and(okta::Error::is_not_found),
            ..Answer::of(&result)
        };
        answers.insert(String::new(), answer);
        return answers;
    }
    for (token, cleared) in tokens {
        let result = okta.revoke(cleared).await;
        if let Err(e) = &result
            && e.is_not_found()
        {
            let gone = Answer {
                status: Some(404),
                request_id: e.request_id().map(str::to_owned),
                already_gone: true,
                ..Answer::default()
            };
            answers.insert(token.clone(), gone);
            continue;
        }
        match &result {
            Err(e @ okta::Error::Withdrawn { .. }) => {
                warn!(okta.token_id = %token, error.message = %e, "revocation withdrawn by the gate just before it was sent; the next round checks it again");
            }
            Err(e) => {
                warn!(okta.token_id = %token, error.message = %e, okta.request_id = e.request_id(), okta.error_id = e.error_id(), "revocation failed; verifying anyway");
            }
            Ok(_) => {}
        }
        answers.insert(token.clone(), Answer::of(&result));
    }
    answers
}
