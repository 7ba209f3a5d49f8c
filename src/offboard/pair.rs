//! One user/client pair of an offboarding: list, ask the revocation gate, intend, revoke,
//! re-list until nothing revocable is left. The gate decides per token (an exempt token stays,
//! recorded with why) and whether the pair may be revoked whole (revoke-all) or must be
//! revoked token by token. A retry of the same job reuses the intents it left open (and
//! settles the pair's revoke-all intents an ended job left, see [`super::whole`]). Each
//! token's outcome carries the status and request id of the DELETE that removed it.

use chrono::Utc;
use tracing::{Instrument, info_span, warn};

use super::rounds::PairRevocation;
use super::rows::{audit_row, kept_row};
use super::{ClientOutcome, Offboarding, VerifySettings};
use crate::config::Mode;
use crate::okta::{self, OktaClient};
use crate::store::{self, RevocationState, TargetOutcome};
use crate::sweep::{Deps, Target, observation};

/// Lists, revokes and verifies one pair; appends every audit row of it.
pub(super) async fn offboard_pair(
    deps: &Deps,
    job: &Offboarding,
    target: &Target,
    verify: VerifySettings,
) -> Result<ClientOutcome, store::Error> {
    let span = info_span!("pair", okta.client_id = %target.client);
    async {
        let mut outcome = ClientOutcome::new(target);
        let started = Utc::now();
        let active = match list_pair(deps, &deps.okta, target).await? {
            Ok(ids) => ids,
            Err(e) => return fail_listing(deps, target, outcome, &e).await,
        };
        if job.dry_run {
            dry_run(deps, job, target, &active, &mut outcome).await?;
            return Ok(outcome);
        }
        let mut pair = PairRevocation::start(deps, job, target, active).await?;
        let unrevoked = pair.revoke_in_rounds(verify).await?;
        pair.finish(outcome, &unrevoked, started).await
    }
    .instrument(span)
    .await
}

/// A dry run: `planned` for what the gate would clear, `skipped_exempt` for an exempt token,
/// `withdrawn` for one it refuses (see [`kept_row`]).
async fn dry_run(
    deps: &Deps,
    job: &Offboarding,
    target: &Target,
    active: &[String],
    outcome: &mut ClientOutcome,
) -> Result<(), store::Error> {
    let preview = deps
        .gate
        .preview_pair(target.user.as_str(), target.client.as_str(), active);
    let rows: Vec<_> = preview
        .iter()
        .map(|(t, why)| match why {
            None => audit_row(job, target, t, Mode::DryRun, RevocationState::Planned),
            Some(kept) => kept_row(job, target, t, Mode::DryRun, kept),
        })
        .collect();
    deps.store.append_revocations(&rows).await?;
    outcome.tokens = active.len() as u64;
    outcome.stayed = preview
        .into_iter()
        .filter_map(|(t, kept)| kept.map(|k| (t, k.why().to_owned())))
        .collect();
    record(deps, target, TargetOutcome::Ok, None).await
}

async fn fail_listing(
    deps: &Deps,
    target: &Target,
    mut outcome: ClientOutcome,
    e: &okta::Error,
) -> Result<ClientOutcome, store::Error> {
    warn!(error.message = %e, okta.request_id = e.request_id(), "cannot list the pair's tokens");
    let text = e.to_string();
    record(deps, target, TargetOutcome::Failed, Some(&text)).await?;
    outcome.error = Some(text);
    Ok(outcome)
}

pub(super) async fn record(
    deps: &Deps,
    target: &Target,
    result: TargetOutcome,
    error: Option<&str>,
) -> Result<(), store::Error> {
    deps.store
        .record_target(&target.result(result, error.map(str::to_owned), Utc::now()))
        .await
}

/// Lists the pair completely, recording every page; returns the ids of its ACTIVE tokens.
/// A 404 (user or client gone) is an empty pair.
pub(super) async fn list_pair(
    deps: &Deps,
    okta: &OktaClient,
    target: &Target,
) -> Result<Result<Vec<String>, okta::Error>, store::Error> {
    let mut active = Vec::new();
    let mut pages = okta.list_tokens(&target.user, &target.client);
    loop {
        let page = match pages.next_page().await {
            Ok(Some(page)) => page,
            Ok(None) => return Ok(Ok(active)),
            Err(e) if e.is_not_found() => return Ok(Ok(Vec::new())),
            Err(e) => return Ok(Err(e)),
        };
        let rows: Vec<_> = page
            .tokens
            .into_iter()
            .filter(|o| o.token.id.is_some())
            .map(|mut o| {
                if o.token.may_be_active() {
                    active.extend(o.token.id.clone());
                }
                let scopes = o.token.take_scope_names();
                // Offboarding decides no rules: each token keeps its last sweep's.
                observation(target, o, &scopes, String::new())
            })
            .collect();
        deps.store
            .record_page_keeping_rules(rows, Utc::now())
            .await?;
    }
}
