//! The two revocation calls, `DELETE …/clients/{clientId}/tokens/{tokenId}` (one token) and
//! `DELETE …/clients/{clientId}/tokens` (every token of the pair). Both take a [`Cleared`]
//! request, which only the revocation gate (`crate::gate`) issues, after it has checked the
//! ids, the exemptions and policies in force, and the enforcer lease; a test walks the source
//! tree to keep it so. Nothing else in revokd can send a DELETE to Okta.

use reqwest::Method;

use super::{ClientId, Error, OktaClient, TokenId, UserId};

/// A revocation the gate let through: the pair, and the token (`None`: revoke-all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cleared {
    user: UserId,
    client: ClientId,
    token: Option<TokenId>,
}

impl Cleared {
    /// Issued by the revocation gate alone (see the module docs).
    pub(crate) fn by_gate(user: UserId, client: ClientId, token: Option<TokenId>) -> Cleared {
        Cleared {
            user,
            client,
            token,
        }
    }

    /// The user whose token(s) this clears.
    pub fn user(&self) -> &UserId {
        &self.user
    }

    /// The client whose token(s) this clears.
    pub fn client(&self) -> &ClientId {
        &self.client
    }

    /// The token this clears, or `None` for the whole pair.
    pub fn token(&self) -> Option<&TokenId> {
        self.token.as_ref()
    }
}

/// Okta's answer to a revocation.
#[derive(Debug, Clone)]
pub struct Revoked {
    /// 204; or 404 when Okta answered 404 to a retry that followed a failure which may have
    /// reached Okta (a 5xx or a transport fault): the earlier attempt took effect.
    pub status: u16,
    pub request_id: Option<String>,
}

impl Revoked {
    /// Okta answered 404 to a retry after a failure that may have reached it.
    pub fn earlier_attempt_took_effect(&self) -> bool {
        self.status == 404
    }
}

impl OktaClient {
    /// Sends the cleared revocation: one token, or revoke-all for the pair. A 404 to the first
    /// attempt comes back as an [`Error::Api`] for which `is_not_found()` holds.
    pub async fn revoke(&self, cleared: &Cleared) -> Result<Revoked, Error> {
        let mut url = self.tokens_url(&cleared.user, &cleared.client);
        if let Some(token) = &cleared.token {
            // Never fall back to the pair's URL: that DELETE would revoke every token.
            let Ok(mut path) = url.path_segments_mut() else {
                return Err(Error::Refused {
                    reason: "the org URL cannot take a token id as a path segment".into(),
                    request_id: None,
                });
            };
            path.push(token.as_str());
        }
        let reply = self.execute(Method::DELETE, url).await?;
        Ok(Revoked {
            status: reply.status.as_u16(),
            request_id: reply.request_id,
        })
    }
}
