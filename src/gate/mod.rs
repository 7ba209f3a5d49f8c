//! The revocation gate: the one place every DELETE to Okta passes, whoever asks — a sweep, a
//! retry of a failed revocation, reconciliation at start, offboarding by CLI, event hook or
//! System Log, revoke-all included — right before it is sent. Only the gate issues the
//! [`Cleared`] request that [`crate::okta::OktaClient::revoke`] takes. It lets a revocation
//! through when, checked in this order:
//!
//! 1. this process holds the enforcer lease ([`lease`]): one process at a time revokes per
//!    database;
//! 2. the ids are ones Okta could have sent (the strict allow-list of [`crate::ids`]):
//!    anything else is withdrawn with the reason, never turned into another URL;
//! 3. the configuration in force still asks for it: an exemption of the user, client or token
//!    withdraws it; a policy revocation that no policy selects any more — decided again, now,
//!    from the token as last recorded — is withdrawn. For revoke-all, the pair is revoked
//!    whole only when no exemption could touch any of its tokens; otherwise token by token.
//!
//! "In force" means now, not when the run started: a daemon's reload puts its new policies
//! and exemptions into the one gate every run of the process shares ([`Gate::put_in_force`]),
//! so a sweep that planned under the old configuration is checked against the new one; a
//! reload to dry-run asks for no revocation at all ([`Gate::put_mode_in_force`]). Each
//! clearance is checked again right before every attempt of its DELETE (`again.rs`).
//!
//! The gate decides and issues; callers write the audit rows (`withdrawn` with the reason,
//! `already_gone` for a policy revocation whose token a listing found gone, or the intent
//! and its outcome).

mod again;
mod in_flight;
pub mod lease;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use chrono::{DateTime, Utc};

use crate::config::Mode;
use crate::okta::{Cleared, ClientId, TokenId, UserId};
use crate::policy::{self, Decision, PolicySet, TokenFacts};
use crate::store::{self, RevocationTrigger, Store, TokenRow};

pub use in_flight::{InFlight, Sending};
pub use lease::{Lease, LeaseGuard};

/// Who asks for a revocation (`revocations.trigger`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asker {
    /// A policy rule selected the token: the policies are applied again.
    Policy,
    /// Offboarding: exemptions are applied again, policies are not.
    Offboard,
    /// An operator named the token: exemptions are applied again.
    Manual,
}

impl Asker {
    /// From `revocations.trigger`.
    pub fn from_trigger(trigger: RevocationTrigger) -> Asker {
        match trigger {
            RevocationTrigger::Offboard => Asker::Offboard,
            RevocationTrigger::Manual => Asker::Manual,
            RevocationTrigger::Policy => Asker::Policy,
        }
    }
}

/// The gate's answer for one revocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Send it.
    Cleared(Cleared),
    /// Do not send it, ever: record it `withdrawn` with this reason.
    Withdrawn(String),
    /// Do not send it: a listing found the token gone since it was planned; the intent is
    /// `withdrawn` with this note (unless an earlier attempt that may have taken effect is
    /// then confirmed by Okta, which makes it `done`).
    Gone(String),
}

/// One token revocation to check.
#[derive(Debug, Clone, Copy)]
pub struct TokenRequest<'a> {
    pub token_id: &'a str,
    pub user_id: &'a str,
    pub client_id: &'a str,
    pub asker: Asker,
}

/// How a whole pair may be revoked (offboarding).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairPlan {
    /// Revoke-all for the pair, when no exemption could touch any of its tokens.
    pub whole_pair: Option<Cleared>,
    /// Each listed token, cleared or kept (and why).
    pub tokens: Vec<(String, Result<Cleared, Kept>)>,
}

/// Why the gate keeps a token of a pair an offboarding would revoke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kept {
    /// An exemption covers it: the user keeps it, as configured.
    Exempt(String),
    /// It may not be revoked now (an id Okta could not have sent, or the configuration in
    /// force is dry-run): the user still holds a token the offboarding was asked to revoke.
    Refused(String),
}

impl Kept {
    /// Why, in words.
    pub fn why(&self) -> &str {
        match self {
            Kept::Exempt(why) | Kept::Refused(why) => why,
        }
    }
}

/// The gate. Cheap to clone; clones share the lease, the policies in force and whether the
/// configuration in force has turned to dry-run.
#[derive(Debug, Clone)]
pub struct Gate {
    store: Store,
    policies: Arc<RwLock<Arc<PolicySet>>>,
    lease: Lease,
    dry_run_now: Arc<AtomicBool>,
    in_flight: InFlight,
}

impl Gate {
    /// The gate over `store` with the configuration in force.
    pub fn new(store: Store, policies: Arc<PolicySet>, enforcer_wait: std::time::Duration) -> Gate {
        Gate {
            lease: Lease::new(store.clone(), enforcer_wait),
            store,
            policies: Arc::new(RwLock::new(policies)),
            dry_run_now: Arc::new(AtomicBool::new(false)),
            in_flight: InFlight::default(),
        }
    }

    /// The revocations this process is sending now (shared by every clone).
    pub fn in_flight(&self) -> &InFlight {
        &self.in_flight
    }

    /// Puts the reloaded configuration's `mode` in force for every clone of this gate: after
    /// a reload to dry-run, runs already going revoke nothing more (each revocation still to
    /// be sent is withdrawn); a reload back to enforce lets them through again. A process
    /// that never reloads keeps the mode it was started in (`--enforce` included).
    pub fn put_mode_in_force(&self, mode: Mode) {
        self.dry_run_now
            .store(mode == Mode::DryRun, Ordering::SeqCst);
    }

    /// Why nothing may be revoked now, whatever it is.
    fn dry_run_now(&self) -> Option<String> {
        self.dry_run_now
            .load(Ordering::SeqCst)
            .then(|| "the configuration in force is dry-run now: nothing is revoked".to_owned())
    }

    /// Puts `policies` (and the exemptions in them) in force for every clone of this gate,
    /// runs already going included.
    pub fn put_in_force(&self, policies: Arc<PolicySet>) {
        *self
            .policies
            .write()
            .unwrap_or_else(PoisonError::into_inner) = policies;
    }

    /// The policies and exemptions in force now.
    fn in_force(&self) -> Arc<PolicySet> {
        Arc::clone(&self.policies.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Takes (or shares) the enforcer lease for a run that may revoke.
    pub async fn hold(&self, purpose: &str) -> Result<LeaseGuard, store::Error> {
        self.lease.hold(purpose).await
    }

    /// Checks one token revocation as of `now`.
    pub async fn check_token(
        &self,
        req: TokenRequest<'_>,
        now: DateTime<Utc>,
    ) -> Result<Verdict, store::Error> {
        self.require_lease().await?;
        if let Some(why) = self.dry_run_now() {
            return Ok(Verdict::Withdrawn(why));
        }
        let (user, client, token) = match ids(req.user_id, req.client_id, req.token_id) {
            Ok(ids) => ids,
            Err(reason) => return Ok(Verdict::Withdrawn(reason)),
        };
        let policies = self.in_force();
        let recorded = self.store.token(req.token_id).await?;
        let withdrawn = |why: &str| Ok(Verdict::Withdrawn(why.to_owned()));
        match (req.asker, recorded.as_ref()) {
            (Asker::Policy, None) => {
                return withdrawn(
                    "no policy selects it any more: the token is not in the database",
                );
            }
            (Asker::Policy, Some(row)) => {
                // Decided as the token stood when it was planned: active.
                let (scopes, mut facts) = row_facts(row);
                facts.scopes = &scopes;
                match policy::decide(&policies, &facts, now) {
                    Decision::Revoke { .. } => {}
                    Decision::Exempt { exemption, .. } => {
                        return withdrawn(&format!("exempt now ({exemption})"));
                    }
                    Decision::Keep | Decision::Flag { .. } => {
                        return withdrawn("no policy selects it any more");
                    }
                }
                if let Some(gone) = gone_since(row) {
                    return Ok(Verdict::Gone(gone));
                }
            }
            (Asker::Offboard | Asker::Manual, _) => {
                let facts = bare_facts(req.token_id, req.user_id, req.client_id);
                if let Some(e) = policies.exemption_for(&facts) {
                    return withdrawn(&format!("exempt now ({e})"));
                }
            }
        }
        let again = self.again(again::Cleared::Token {
            token_id: req.token_id.to_owned(),
            user_id: req.user_id.to_owned(),
            client_id: req.client_id.to_owned(),
            asker: req.asker,
        });
        Ok(Verdict::Cleared(Cleared::by_gate(
            user,
            client,
            Some(token),
            again,
        )))
    }

    /// The check behind a clearance, for the Okta client to run again before each attempt.
    fn again(&self, what: again::Cleared) -> Arc<dyn crate::okta::revoke::Recheck> {
        Arc::new(again::Again {
            gate: self.clone(),
            what,
        })
    }

    /// What [`Gate::check_pair`] would keep, without the lease (a dry run): each token with
    /// why it stays, or `None` when it would be revoked.
    pub fn preview_pair(
        &self,
        user_id: &str,
        client_id: &str,
        tokens: &[String],
    ) -> Vec<(String, Option<Kept>)> {
        let policies = self.in_force();
        tokens
            .iter()
            .map(|token| {
                let why = match ids(user_id, client_id, token) {
                    Err(reason) => Some(Kept::Refused(reason)),
                    Ok(_) => policies
                        .exemption_for(&bare_facts(token, user_id, client_id))
                        .map(|e| Kept::Exempt(format!("exempt ({e})"))),
                };
                (token.clone(), why)
            })
            .collect()
    }

    /// Checks an offboarding of one pair whose ACTIVE tokens are `tokens`.
    pub async fn check_pair(
        &self,
        user_id: &str,
        client_id: &str,
        tokens: &[String],
    ) -> Result<PairPlan, store::Error> {
        self.require_lease().await?;
        let mut plan = PairPlan {
            whole_pair: None,
            tokens: Vec::with_capacity(tokens.len()),
        };
        let pair = pair_ids(user_id, client_id);
        let dry_run_now = self.dry_run_now();
        for (token, why) in self.preview_pair(user_id, client_id, tokens) {
            let why = why.or_else(|| dry_run_now.clone().map(Kept::Refused));
            let verdict = match (why, ids(user_id, client_id, &token)) {
                (None, Ok((user, client, id))) => {
                    let again = self.again(again::Cleared::Token {
                        token_id: token.clone(),
                        user_id: user_id.to_owned(),
                        client_id: client_id.to_owned(),
                        asker: Asker::Offboard,
                    });
                    Ok(Cleared::by_gate(user, client, Some(id), again))
                }
                (Some(why), _) => Err(why),
                (None, Err(reason)) => Err(Kept::Refused(reason)),
            };
            plan.tokens.push((token, verdict));
        }
        let all_cleared = plan.tokens.iter().all(|(_, v)| v.is_ok());
        let policies = self.in_force();
        let pair_exempt = policies
            .exemption_for(&bare_facts("", user_id, client_id))
            .is_some();
        if let Ok((user, client)) = pair
            && all_cleared
            && !plan.tokens.is_empty()
            && !pair_exempt
            && !policies.has_token_exemptions()
        {
            let again = self.again(again::Cleared::Pair {
                user_id: user_id.to_owned(),
                client_id: client_id.to_owned(),
                tokens: tokens.into(),
            });
            plan.whole_pair = Some(Cleared::by_gate(user, client, None, again));
        }
        Ok(plan)
    }

    async fn require_lease(&self) -> Result<(), store::Error> {
        if self.lease.is_held().await {
            Ok(())
        } else {
            Err(store::Error::LeaseNotHeld)
        }
    }
}

fn refused(e: &crate::ids::InvalidId) -> String {
    format!("refused: {e}; nothing was sent")
}

/// The typed pair, or why its ids are not ones Okta could have sent.
fn pair_ids(user: &str, client: &str) -> Result<(UserId, ClientId), String> {
    Ok((
        UserId::new(user).map_err(|e| refused(&e))?,
        ClientId::new(client).map_err(|e| refused(&e))?,
    ))
}

/// The typed ids of one token revocation, or why they are not ones Okta could have sent.
fn ids(user: &str, client: &str, token: &str) -> Result<(UserId, ClientId, TokenId), String> {
    let (user, client) = pair_ids(user, client)?;
    Ok((user, client, TokenId::new(token).map_err(|e| refused(&e))?))
}

/// When a listing last found the token gone (or Okta listed it `REVOKED`), in words.
fn gone_since(row: &TokenRow) -> Option<String> {
    if let Some(at) = &row.gone_at {
        return Some(format!(
            "not sent: the listing of {at} no longer showed the token"
        ));
    }
    (row.status.as_deref() == Some("REVOKED"))
        .then(|| "not sent: Okta listed the token REVOKED".to_owned())
}

fn bare_facts<'a>(token_id: &'a str, user_id: &'a str, client_id: &'a str) -> TokenFacts<'a> {
    TokenFacts {
        token_id,
        user_id,
        client_id,
        active: true,
        scopes: &[],
        created: None,
        last_updated: None,
        expires_at: None,
    }
}

/// The token's facts as last recorded (scopes returned beside, since facts borrow them).
pub(crate) fn row_facts(row: &TokenRow) -> (Vec<String>, TokenFacts<'_>) {
    let parse = |t: Option<&str>| {
        t.and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc))
    };
    let scopes: Vec<String> = serde_json::from_str(&row.scopes).unwrap_or_default();
    let facts = TokenFacts {
        token_id: &row.token_id,
        user_id: &row.user_id,
        client_id: &row.client_id,
        active: true,
        scopes: &[],
        created: parse(row.created_at.as_deref()),
        last_updated: parse(row.last_updated_at.as_deref()),
        expires_at: parse(row.expires_at.as_deref()),
    };
    (scopes, facts)
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod tests_again;
