//! What the token client does with an error body from the token endpoint: send once more
//! (the server asked for a DPoP nonce, or refused the client assertion for the first time)
//! or report the refusal as a typed [`AuthError`].

use serde::Deserialize;
use tracing::{debug, warn};

use super::AuthError;
use super::token::sanitize;

/// The token endpoint's error body (RFC 6749 §5.2).
#[derive(Deserialize)]
pub(super) struct ErrorResponse {
    error: String,
    error_description: Option<String>,
}

/// The second sends still allowed in one fetch.
pub(super) struct Resends {
    /// Once with the `DPoP-Nonce` the server sent.
    pub(super) nonce: bool,
    /// Once with a fresh assertion after `invalid_client`.
    pub(super) fresh: bool,
}

impl ErrorResponse {
    /// `Ok` to send once more (using up that resend), else the refusal to report.
    /// `got_nonce` says whether the answer carried a `DPoP-Nonce`.
    pub(super) fn judge(
        &self,
        status: u16,
        got_nonce: bool,
        scopes: &[String],
        resends: &mut Resends,
    ) -> Result<(), AuthError> {
        let description = sanitize(self.error_description.as_deref().unwrap_or(""));
        match self.error.as_str() {
            "use_dpop_nonce" if resends.nonce && got_nonce => {
                debug!("the token endpoint asked for a DPoP nonce; sending again with it");
                resends.nonce = false;
                Ok(())
            }
            "invalid_client" if resends.fresh => {
                warn!(
                    oauth.error = "invalid_client",
                    oauth.error_description = %description,
                    "the token endpoint refused the client assertion; trying once more with a fresh one"
                );
                resends.fresh = false;
                Ok(())
            }
            "invalid_client" => Err(AuthError::ClientRefused { description }),
            "invalid_scope" => Err(AuthError::ScopeRefused {
                requested: scopes.join(" "),
                description,
            }),
            other => Err(AuthError::Refused {
                status,
                error: sanitize(other),
                description,
            }),
        }
    }
}
