//! What a pass lists, from what the plan names: the configured pairs, each whole user's
//! clients (discovered with `GET /api/v1/users/{id}/clients`, with the clients of the user's
//! stored tokens that are not gone, source `discovered`), and the
//! apps listed whole through ApplicationTokens. A pair is listed once however often it is
//! reached, and never one by one when an app target covers its client. A client Okta lists
//! for a user under an id revokd refuses is a failed target: its tokens can be neither listed
//! nor revoked, and the pass must not look clean while they stay live.

use std::collections::HashSet;

use futures::StreamExt;
use tracing::warn;

use super::{Deps, Target, TargetFailure};
use crate::okta::ids::InvalidId;
use crate::okta::{ClientId, OktaClient, UserId};
use crate::store::{self, Store, TargetSource};

/// Targets wider than one pair: apps listed whole, and users whose clients are discovered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WideTargets {
    /// App ids (the OIDC apps' client ids): every user's tokens of each.
    pub apps: Vec<ClientId>,
    /// Users named without a client: every client each holds tokens for.
    pub users: Vec<UserId>,
}

impl WideTargets {
    /// Whether it names nothing.
    pub fn is_empty(&self) -> bool {
        self.apps.is_empty() && self.users.is_empty()
    }

    /// The apps, each once, in order.
    pub fn apps_once(&self) -> Vec<ClientId> {
        let mut seen = HashSet::new();
        self.apps
            .iter()
            .filter(|a| seen.insert(*a))
            .cloned()
            .collect()
    }
}

/// The pairs listed one by one, and the users whose clients could not be discovered.
pub(super) struct PairTargets {
    pub targets: Vec<Target>,
    pub failures: Vec<TargetFailure>,
}

/// The configured pairs, then the discovered ones, without repeats and without the pairs of
/// the app targets' clients (their app listing covers them).
pub(super) async fn pair_targets(
    deps: &Deps,
    okta: &OktaClient,
    configured: &[Target],
    wide: &WideTargets,
) -> PairTargets {
    let apps: HashSet<&str> = wide.apps.iter().map(ClientId::as_str).collect();
    let mut seen = HashSet::new();
    let mut targets = Vec::new();
    let mut keep = |t: Target, targets: &mut Vec<Target>| {
        if !apps.contains(t.client.as_str())
            && seen.insert((t.user.to_string(), t.client.to_string()))
        {
            targets.push(t);
        }
    };
    for t in configured {
        keep(t.clone(), &mut targets);
    }
    let users: Vec<&UserId> = {
        let mut once = HashSet::new();
        wide.users.iter().filter(|u| once.insert(*u)).collect()
    };
    let lookups: Vec<_> = users
        .iter()
        .map(|user| async move { (*user, okta.list_user_clients(user).await) })
        .collect();
    let found: Vec<_> = futures::stream::iter(lookups)
        .buffered(deps.concurrency.max(1))
        .collect()
        .await;
    let mut failures = Vec::new();
    for (user, clients) in found {
        match clients {
            Ok(clients) => {
                for client in clients.iter().filter_map(|c| c.client_id.as_deref()) {
                    match ClientId::new(client) {
                        Ok(client) => keep(
                            Target {
                                user: user.clone(),
                                client,
                                source: TargetSource::Discovered,
                            },
                            &mut targets,
                        ),
                        Err(e) => {
                            warn!(okta.user_id = %user, error.message = %e, "a client id Okta listed for the user is refused");
                            failures.push(refused_client(user, &e));
                        }
                    }
                }
            }
            Err(e) => {
                warn!(okta.user_id = %user, error.message = %e, "the user's clients could not be discovered");
                failures.push(TargetFailure {
                    user_id: user.to_string(),
                    client_id: "*".to_owned(),
                    error: e.to_string(),
                });
            }
        }
        // Okta names a client only while the user has grants or tokens of it: the pairs
        // stored with tokens not gone are listed too, or tokens that went out of band with
        // the user's last one of a client would stay active in the history for ever.
        match stored_client_targets(&deps.store, user).await {
            Ok(stored) => {
                for t in stored {
                    keep(t, &mut targets);
                }
            }
            Err(e) => failures.push(TargetFailure {
                user_id: user.to_string(),
                client_id: "*".to_owned(),
                error: format!("the user's stored clients could not be read: {e}"),
            }),
        }
    }
    PairTargets { targets, failures }
}

/// The clients of `user`'s stored tokens that are not gone, as `discovered` targets. Okta
/// names a client only while the user has grants or tokens of it, so a client whose last
/// token of the user went out of band (or expired) is found only here, and its tokens are
/// found gone only by listing it.
pub(crate) async fn stored_client_targets(
    store: &Store,
    user: &UserId,
) -> Result<Vec<Target>, store::Error> {
    let clients = store.clients_with_present_tokens(user.as_str()).await?;
    Ok(clients
        .iter()
        .filter_map(|c| ClientId::new(c).ok())
        .map(|client| Target {
            user: user.clone(),
            client,
            source: TargetSource::Discovered,
        })
        .collect())
}

/// The failure of a client Okta listed for `user` under an id revokd refuses.
fn refused_client(user: &UserId, e: &InvalidId) -> TargetFailure {
    TargetFailure {
        user_id: user.to_string(),
        client_id: e.shown().to_owned(),
        error: format!(
            "Okta lists this client for the user, but its id is refused, so its tokens are \
             neither listed nor revoked: {e}"
        ),
    }
}
