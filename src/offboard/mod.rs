//! Offboarding one user: every refresh token they hold, for every client, revoked and the
//! revocation verified. The clients are those asked for ∪ the configured targets of the user
//! ∪ every configured app target ∪ those Okta lists (`GET /api/v1/users/{userId}/clients`) ∪
//! the clients of the user's stored tokens that are not gone (Okta stops naming a client with
//! the user's last grant or token of it, and those tokens must be found gone) ∪ those with a
//! revoke-all intent left open (the `whole` module). Per client the tokens are listed
//! (recorded as a sweep records them), one `pending` intent per token (and the pair's
//! revoke-all intent, no token id) is committed before `DELETE …/tokens` (revoke all), and the
//! pair is listed again — with bounded retries and backoff, revoking again — until it is
//! empty; then each token's intent gets its outcome (`done` with `verified_at`, or `failed`).
//! A dry run lists and records `planned` only.
//! A client Okta lists under an id revokd refuses fails discovery: the other clients are still
//! offboarded, but the job does not finish as done while that client's tokens stay.
//! The queue (`offboarding_jobs`), the hook and the System Log poller feed [`offboard_user`];
//! an automatic job asks first, at each attempt, whether its event still stands ([`standing`];
//! one that had begun revoking stops at [`stop_begun`]). This module only
//! sequences Okta and the store.

mod events;
mod pair;
mod rounds;
mod rows;
mod send;
mod still_out;
pub mod syslog;
mod whole;

use std::collections::BTreeMap;
use std::time::Duration;

use tracing::{Instrument, info, info_span, warn};

pub use events::{HookDelivery, jobs_from_events};
pub use still_out::{Standing, standing, stop_begun};

use crate::config::Mode;
use crate::okta::{ClientId, UserId};
use crate::store::{self, TargetSource};
use crate::sweep::{Deps, Halt, Target, stored_client_targets};

/// One offboarding to carry out.
#[derive(Debug, Clone)]
pub struct Offboarding {
    pub user: UserId,
    /// Clients asked for (`offboard` source) and configured for the user (`config` source).
    pub clients: Vec<Target>,
    pub reason: String,
    pub job_id: i64,
    pub dry_run: bool,
}

/// How hard verification tries: rounds of revoke-all + re-list, waiting `backoff`,
/// doubling, between rounds.
#[derive(Debug, Clone, Copy)]
pub struct VerifySettings {
    pub rounds: u32,
    pub backoff: Duration,
}

impl Default for VerifySettings {
    fn default() -> Self {
        VerifySettings {
            rounds: 5,
            backoff: Duration::from_millis(250),
        }
    }
}

/// What happened to one client of the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientOutcome {
    pub client_id: String,
    pub source: TargetSource,
    /// Distinct active tokens seen (and, unless a dry run, revoked).
    pub tokens: u64,
    /// A listing after the revocation showed none left that could be revoked (false in a
    /// dry run).
    pub verified: bool,
    pub error: Option<String>,
    /// Tokens the revocation gate kept, with why (an exemption, an id refused).
    pub stayed: Vec<(String, String)>,
}

impl ClientOutcome {
    fn new(target: &Target) -> ClientOutcome {
        ClientOutcome {
            client_id: target.client.to_string(),
            source: target.source,
            tokens: 0,
            verified: false,
            error: None,
            stayed: Vec::new(),
        }
    }
}

/// What one offboarding did.
#[derive(Debug, Clone, Default)]
pub struct OffboardReport {
    pub job_id: i64,
    pub dry_run: bool,
    pub clients: Vec<ClientOutcome>,
    /// Why the user's clients could not be discovered, if they could not.
    pub discovery_error: Option<String>,
    /// Okta answered that it knows no such user (404 on `GET /users/{id}/clients`): a deleted
    /// user's tokens went with it, but a mistyped id offboarded no one.
    pub user_unknown: bool,
    /// Okta could not be reached at all, or refused the credentials: its first request (the
    /// discovery) failed so, and Okta answered none of the offboarding's requests with
    /// success, so nothing was revoked.
    pub halt: Option<Halt>,
}

impl OffboardReport {
    /// Every client was handled: listed (dry run) or verified empty, and discovery worked.
    pub fn succeeded(&self) -> bool {
        self.discovery_error.is_none()
            && self
                .clients
                .iter()
                .all(|c| c.error.is_none() && (self.dry_run || c.verified))
    }

    /// The first error, for the job row.
    pub fn error(&self) -> Option<String> {
        if let Some(e) = &self.discovery_error {
            return Some(format!("discovering the user's clients: {e}"));
        }
        self.clients
            .iter()
            .find(|c| c.error.is_some() || (!self.dry_run && !c.verified))
            .map(|c| {
                format!(
                    "client {}: {}",
                    c.client_id,
                    c.error
                        .as_deref()
                        .unwrap_or("tokens still listed after revocation")
                )
            })
    }

    /// Tokens the gate kept, across clients: `(client, token, why)`.
    pub fn stayed(&self) -> Vec<(&str, &str, &str)> {
        self.clients
            .iter()
            .flat_map(|c| {
                c.stayed
                    .iter()
                    .map(|(t, why)| (c.client_id.as_str(), t.as_str(), why.as_str()))
            })
            .collect()
    }

    /// Tokens seen across clients.
    pub fn tokens(&self) -> u64 {
        self.clients.iter().map(|c| c.tokens).sum()
    }
}

/// Offboards one user (see the module docs). Fails only when the database fails; Okta
/// faults are recorded in the report (and `targets`), and the other clients go on.
pub async fn offboard_user(
    deps: &Deps,
    job: &Offboarding,
    verify: VerifySettings,
) -> Result<OffboardReport, store::Error> {
    let span = info_span!("offboard", job_id = job.job_id, okta.user_id = %job.user, dry_run = job.dry_run);
    // Counters of this offboarding's own requests: whether Okta answered any with success.
    let (okta, stats) = deps.okta.with_fresh_stats();
    let deps = &Deps {
        okta,
        ..deps.clone()
    };
    let mode = if job.dry_run {
        Mode::DryRun
    } else {
        Mode::Enforce
    };
    deps.store.set_job_mode(job.job_id, mode).await?;
    // One process at a time revokes per database.
    let lease = match job.dry_run {
        true => None,
        false => Some(
            deps.gate
                .hold(&format!("offboarding job {}", job.job_id))
                .await?,
        ),
    };
    let result = async {
        let mut report = OffboardReport {
            job_id: job.job_id,
            dry_run: job.dry_run,
            ..OffboardReport::default()
        };
        let mut clients: BTreeMap<String, Target> = BTreeMap::new();
        for t in &job.clients {
            clients.entry(t.client.to_string()).or_insert_with(|| t.clone());
        }
        match deps.okta.list_user_clients(&job.user).await {
            Ok(found) => {
                let mut refused = Vec::new();
                for c in found.into_iter().filter_map(|c| c.client_id) {
                    match ClientId::new(&c) {
                        Ok(client) => {
                            clients.entry(c).or_insert_with(|| Target {
                                user: job.user.clone(),
                                client,
                                source: TargetSource::Discovered,
                            });
                        }
                        Err(e) => {
                            warn!(error.message = %e, "Okta listed a client id that is refused; its tokens stay");
                            refused.push(e.to_string());
                        }
                    }
                }
                if !refused.is_empty() {
                    // The user keeps that client's tokens: the job must not claim completion.
                    report.discovery_error = Some(format!(
                        "Okta lists clients whose ids are refused, so their tokens are \
                         neither listed nor revoked: {}",
                        refused.join("; ")
                    ));
                }
            }
            Err(e) if e.is_not_found() => report.user_unknown = true,
            Err(e) => {
                warn!(error.message = %e, okta.request_id = e.request_id(), "cannot discover the user's clients");
                report.discovery_error = Some(e.to_string());
                report.halt = Halt::of(&e);
            }
        }
        // Okta names a client only while the user has grants or tokens of it: the clients of
        // the user's stored tokens that are not gone are offboarded too (found empty, their
        // tokens are recorded gone).
        for t in stored_client_targets(&deps.store, &job.user).await? {
            clients.entry(t.client.to_string()).or_insert(t);
        }
        // A pair with a revoke-all intent left open (by an earlier try, or an ended job) is
        // visited too, so the intent is settled even when Okta no longer names the client.
        let (store, user) = (&deps.store, job.user.as_str());
        for c in store.clients_with_open_pair_intents(job.job_id, user).await? {
            if let Ok(client) = ClientId::new(&c) {
                clients.entry(c).or_insert_with(|| Target {
                    user: job.user.clone(),
                    client,
                    source: TargetSource::Discovered,
                });
            }
        }
        deps.progress.start(clients.len(), None);
        for target in clients.values() {
            let outcome = pair::offboard_pair(deps, job, target, verify).await?;
            deps.progress.target_done(outcome.tokens);
            if outcome.verified {
                deps.progress.revoked_many(outcome.tokens);
            }
            report.clients.push(outcome);
        }
        if stats.succeeded() {
            report.halt = None;
        }
        info!(
            clients = report.clients.len(),
            tokens = report.tokens(),
            verified = report.succeeded(),
            "offboarding finished"
        );
        Ok(report)
    }
    .instrument(span)
    .await;
    if let Some(lease) = lease {
        lease.release().await;
    }
    result
}

/// The configured targets of `user`, as this offboarding's clients: the pairs naming the user,
/// and every app target (whose tokens any user may hold), since Okta's list of the user's
/// clients may not name an app whose tokens the user holds.
pub fn configured_clients(targets: &[Target], apps: &[ClientId], user: &UserId) -> Vec<Target> {
    let apps = apps.iter().map(|app| Target {
        user: user.clone(),
        client: app.clone(),
        source: TargetSource::Config,
    });
    (targets.iter())
        .filter(|t| &t.user == user)
        .cloned()
        .chain(apps)
        .collect()
}
