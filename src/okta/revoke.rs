//! The two revocation calls, `DELETE …/clients/{clientId}/tokens/{tokenId}` (one token) and
//! `DELETE …/clients/{clientId}/tokens` (every token of the pair). Both take a [`Cleared`]
//! request, which only the revocation gate (`crate::gate`) issues, after it has checked the
//! ids, the exemptions and policies in force, and the enforcer lease; a test walks the source
//! tree to keep it so. Nothing else in revokd can send a DELETE to Okta.

use std::fmt;
use std::sync::Arc;

use futures::future::BoxFuture;
use reqwest::Method;

use super::{ClientId, Error, OktaClient, TokenId, UserId};

/// The gate's check of one cleared revocation, asked again right before each attempt of its
/// DELETE is sent (the first and every retry): an `Err` keeps that attempt unsent. Between
/// the gate's first answer and a send lie the intent's write, the rate-limit budget, the
/// concurrency limit and retries, minutes in all; the configuration in force and the lease
/// may change meanwhile.
pub trait Recheck: Send + Sync {
    fn recheck(&self) -> BoxFuture<'_, Result<(), Unsent>>;
}

/// Why the gate, asked again, kept an attempt unsent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unsent {
    /// The configuration in force (or the lease) no longer lets it through, ever: the
    /// revocation is withdrawn, with this reason.
    Withdrawn(String),
    /// A listing has since found the token gone: nothing to send, with this note.
    Gone(String),
    /// The gate could not check it (the database failed): not sent this time, to be tried
    /// again later.
    Unchecked(String),
}

impl fmt::Display for Unsent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unsent::Withdrawn(why) => write!(f, "withdrawn just before it was sent: {why}"),
            Unsent::Gone(note) => f.write_str(note),
            Unsent::Unchecked(e) => write!(f, "not sent: the gate could not check it again ({e})"),
        }
    }
}

/// A revocation the gate let through: the pair, and the token (`None`: revoke-all), with the
/// gate's check to ask again before each attempt.
#[derive(Clone)]
pub struct Cleared {
    user: UserId,
    client: ClientId,
    token: Option<TokenId>,
    recheck: Arc<dyn Recheck>,
}

impl fmt::Debug for Cleared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cleared")
            .field("user", &self.user)
            .field("client", &self.client)
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

/// Two clearances are equal when they clear the same DELETE.
impl PartialEq for Cleared {
    fn eq(&self, other: &Self) -> bool {
        (&self.user, &self.client, &self.token) == (&other.user, &other.client, &other.token)
    }
}

impl Eq for Cleared {}

impl Cleared {
    /// Issued by the revocation gate alone (see the module docs).
    pub(crate) fn by_gate(
        user: UserId,
        client: ClientId,
        token: Option<TokenId>,
        recheck: Arc<dyn Recheck>,
    ) -> Cleared {
        Cleared {
            user,
            client,
            token,
            recheck,
        }
    }

    /// A clearance whose check always passes, for the Okta client's own tests (which run
    /// without a gate or a database).
    #[cfg(test)]
    pub(crate) fn unchecked(user: UserId, client: ClientId, token: Option<TokenId>) -> Cleared {
        struct Always;
        impl Recheck for Always {
            fn recheck(&self) -> BoxFuture<'_, Result<(), Unsent>> {
                Box::pin(async { Ok(()) })
            }
        }
        Cleared::by_gate(user, client, token, Arc::new(Always))
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

    /// Asks the gate again whether this revocation may be sent now.
    pub async fn recheck(&self) -> Result<(), Unsent> {
        self.recheck.recheck().await
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
    /// Sends the cleared revocation: one token, or revoke-all for the pair, asking the gate
    /// again right before each attempt ([`Error::Withdrawn`] when it no longer lets one
    /// through). A 404 to the first attempt comes back as an [`Error::Api`] for which
    /// `is_not_found()` holds.
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
        let reply = self
            .execute_checked(Method::DELETE, url, Some(cleared))
            .await?;
        Ok(Revoked {
            status: reply.status.as_u16(),
            request_id: reply.request_id,
        })
    }
}
