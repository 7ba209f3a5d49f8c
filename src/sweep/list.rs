//! Listing one target: page by page, each token decided as it arrives, each page handed to
//! the sweep's observation writer ([`Ingest`]) and its decisions to the sweep's plan stage
//! ([`PlanStage`]), so memory holds a few pages, never the plan or the whole org; unless the
//! pair's listing is unchanged (see [`super::unchanged`]), when none of that happens. A
//! target's listing is complete, for the sweep, once its closing write is committed.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use tracing::{Instrument, debug, error, info_span, warn};

use super::decide::{decide_one, observation};
use super::halt::Breaker;
use super::report::PolicyTally;
use super::unchanged::{Ending, Pages, print_of};
use super::{Deps, Target};
use crate::config::Mode;
use crate::okta::{self, ClientId, OktaClient, RawTokenPage};
use crate::store::{
    self, Ingest, KnownPair, ListingPrint, Pending, PlanStage, PrintWrite, StagedEntry,
    TargetOutcome, TargetResult, UnchangedListing,
};

/// What a complete listing of one target found. Its plan goes to the sweep's [`PlanStage`]
/// page by page; the listing keeps counts.
#[derive(Debug, Default)]
pub struct Listed {
    pub tokens_seen: u64,
    pub active_seen: u64,
    pub pages: u64,
    /// What each rule planned, exempted and flagged.
    pub policies: BTreeMap<String, PolicyTally>,
    /// Tokens revokd had revoked that Okta lists as ACTIVE again.
    pub reappeared: u64,
    /// Revocations planned (tokens, where `policies` counts rules).
    pub to_revoke: u64,
    /// The first instant at which one of the decisions changes with time.
    pub stable_until: Option<DateTime<Utc>>,
    /// The listing matched the pair's fingerprint: nothing was read, written or staged.
    pub unchanged: bool,
    /// Decisions not staged yet: the planned ones, and the exempt ones (whose `reason` names
    /// the exemption).
    pub(super) unstaged: (Vec<StagedEntry>, Vec<StagedEntry>),
}

impl Listed {
    /// Stages the decisions taken since the last call; `via_app` when an app's listing took
    /// them.
    pub(super) async fn stage(
        &mut self,
        stage: &PlanStage,
        via_app: bool,
    ) -> Result<(), store::Error> {
        let (planned, exempt) = std::mem::take(&mut self.unstaged);
        stage.add(via_app, planned, exempt).await
    }

    pub(super) fn tally(&mut self, rules: &[&str], bump: impl Fn(&mut PolicyTally)) {
        for rule in rules {
            // Looked up before inserting: a rule's name is cloned once, not per token.
            match self.policies.get_mut(*rule) {
                Some(tally) => bump(tally),
                None => bump(self.policies.entry((*rule).to_owned()).or_default()),
            }
        }
    }
}

impl Target {
    /// Its `targets` row after a listing that ended `outcome` at `at`.
    pub(crate) fn result(
        &self,
        outcome: TargetOutcome,
        error: Option<String>,
        at: DateTime<Utc>,
    ) -> TargetResult {
        TargetResult {
            user_id: self.user.to_string(),
            client_id: self.client.to_string(),
            source: self.source,
            outcome,
            error,
            polled_at: at,
        }
    }
}

/// One pair's listing, under way.
pub(super) type Listing<'f, 't> = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<Fetched<'t>, store::Error>> + Send + 'f>,
>;

/// Every pair listing of a sweep, under way.
pub(super) type Listings<'f, 't> = std::pin::Pin<
    Box<dyn std::future::Future<Output = Vec<Result<Fetched<'t>, store::Error>>> + Send + 'f>,
>;

/// A target as listed, its writes possibly still on their way to the database.
pub(super) struct Fetched<'t> {
    target: &'t Target,
    /// Okta's part: a failure here fails only this target (and is recorded in `targets`).
    outcome: Result<Listed, okta::Error>,
    writes: Vec<Pending>,
    /// An unchanged listing, recorded once every listing has ended.
    pub unchanged: Option<UnchangedListing>,
}

impl<'t> Fetched<'t> {
    /// Waits until every write of the target is committed; notes the tokens revokd had
    /// revoked that the listing showed ACTIVE again.
    pub async fn committed(
        self,
    ) -> Result<(&'t Target, Result<Listed, okta::Error>), store::Error> {
        let mut reappeared = 0;
        for write in self.writes {
            for token_id in write.committed().await? {
                error!(
                    okta.user_id = %self.target.user,
                    okta.client_id = %self.target.client,
                    okta.token_id = %token_id,
                    "a token revokd revoked is ACTIVE again in Okta; policy decides it anew"
                );
                reappeared += 1;
            }
        }
        let outcome = self.outcome.map(|mut listed| {
            listed.reappeared = reappeared;
            listed
        });
        Ok((self.target, outcome))
    }
}

/// What every pair listing of a sweep shares.
pub(super) struct Lister<'a> {
    pub deps: &'a Deps,
    pub okta: &'a OktaClient,
    pub ingest: &'a Ingest,
    pub stage: &'a PlanStage,
    pub sweep_id: i64,
    pub mode: Mode,
    /// Decisions are taken as of this instant.
    pub now: DateTime<Utc>,
    pub breaker: &'a Breaker,
    /// The apps the sweep lists whole: their pairs' listings are always read token by token,
    /// as the app's listing decides the same tokens again.
    pub apps: &'a [ClientId],
}

/// Pairs whose fingerprints are read at once, as their listings' turn nears.
pub(super) const PRINTS_AT_ONCE: usize = 256;

impl Lister<'_> {
    /// The targets of `chunk`, each with its pair's fingerprint where one stands (never for
    /// a pair of an app the sweep lists whole). A failed read leaves every pair to be read
    /// whole.
    pub(super) async fn known<'t>(&self, chunk: &'t [Target]) -> Vec<(&'t Target, KnownPair)> {
        let pairs: Vec<(&str, &str)> = (chunk.iter())
            .map(|t| (t.user.as_str(), t.client.as_str()))
            .collect();
        let known = match self.deps.store.known_listings(&pairs).await {
            Ok(known) => known,
            Err(e) => {
                warn!(error.message = %e, "fingerprints not read; these pairs are read whole");
                vec![KnownPair::default(); chunk.len()]
            }
        };
        chunk.iter().zip(known).collect()
    }
}

/// Lists a target completely, handing every page and the target's closing row to the
/// writer. Fails only when the database writer has failed.
pub(super) async fn list_target<'t>(
    l: &Lister<'_>,
    target: &'t Target,
    known: KnownPair,
) -> Result<Fetched<'t>, store::Error> {
    if l.breaker.skips() {
        l.deps.progress.target_done(0);
        return Ok(Fetched {
            target,
            outcome: Err(okta::Error::Refused {
                reason: "not listed: the sweep stopped early".into(),
                request_id: None,
            }),
            writes: Vec::new(),
            unchanged: None,
        });
    }
    let span = info_span!("target", okta.user_id = %target.user, okta.client_id = %target.client);
    async {
        let started = Utc::now();
        let mut writes = Vec::new();
        // A pair of an app the sweep lists whole is read whole, and keeps no fingerprint: the
        // app's listing writes its tokens too.
        let of_app = l.apps.contains(&target.client);
        let changes = known.changes;
        let known = known.print.filter(|_| !of_app);
        let outcome = list_pages(l, target, known, &mut writes).await?;
        let seen = outcome.as_ref().map_or(0, |(l, _)| l.tokens_seen);
        l.deps.progress.target_done(seen);
        let finished = Utc::now();
        let (listed, print) = match outcome {
            Ok((listed, Closing::Unchanged(pages, at))) => {
                let result = target.result(TargetOutcome::Ok, None, finished);
                let unchanged = Some(UnchangedListing { result, pages, at });
                return Ok(Fetched { target, outcome: Ok(listed), writes, unchanged });
            }
            Ok((listed, Closing::Read(_))) if of_app => (Ok(listed), PrintWrite::Nothing),
            Ok((listed, Closing::Read(print))) => {
                let (sweep_id, tokens) = (l.sweep_id, listed.tokens_seen);
                (Ok(listed), PrintWrite::Print { sweep_id, print, changes, tokens })
            }
            Err(e) => {
                // A halt is told once, by the sweep; other failures here, per target.
                if l.breaker.observe(&e) {
                    debug!(error.message = %e, "target failed; the sweep stops early");
                } else {
                    warn!(error.message = %e, okta.request_id = e.request_id(), "target failed; the sweep goes on");
                }
                (Err(e), PrintWrite::Nothing)
            }
        };
        let (gone_before, result) = match &listed {
            Ok(_) => (Some(started), target.result(TargetOutcome::Ok, None, finished)),
            Err(e) => (None, target.result(TargetOutcome::Failed, Some(e.to_string()), finished)),
        };
        writes.push(l.ingest.finish_target(gone_before, result, print).await?);
        Ok(Fetched { target, outcome: listed, writes, unchanged: None })
    }
    .instrument(span)
    .await
}

/// How a complete listing closes.
enum Closing {
    /// It matched the pair's fingerprint: its pages' hashes, and when it saw the pair.
    Unchanged(Vec<u128>, DateTime<Utc>),
    /// It was read token by token: the fingerprint it leaves.
    Read(ListingPrint),
}

/// A listing's pages, each read token by token unless the whole listing matches the pair's
/// fingerprint (see [`super::unchanged`]).
async fn list_pages(
    l: &Lister<'_>,
    target: &Target,
    known: Option<ListingPrint>,
    writes: &mut Vec<Pending>,
) -> Result<Result<(Listed, Closing), okta::Error>, store::Error> {
    let mut pages = Pages::new(known, &l.deps.policies, l.mode, l.now);
    let mut listed = Listed::default();
    let mut listing = l.okta.list_tokens(&target.user, &target.client);
    while let Some(url) = listing.next_url().cloned() {
        let page = match listing.next_raw().await {
            Ok(Some(page)) => page,
            Ok(None) => break,
            Err(e) => return Ok(Err(e)),
        };
        if let Some(before) = pages.take(url, &page) {
            if let Err(e) = read_again(l, target, &pages, before, &mut listed, writes).await? {
                return Ok(Err(e));
            }
            if let Err(e) = read_page(l, target, page, &mut listed, writes).await? {
                return Ok(Err(e));
            }
        }
    }
    match pages.end() {
        Ending::Unchanged(listed, pages) => {
            return Ok(Ok((listed, Closing::Unchanged(pages, Utc::now()))));
        }
        Ending::Read(before) => {
            if let Err(e) = read_again(l, target, &pages, before, &mut listed, writes).await? {
                return Ok(Err(e));
            }
        }
    }
    let print = print_of(pages.hashes(), &listed, &l.deps.policies, l.mode, l.now);
    Ok(Ok((listed, Closing::Read(print))))
}

/// Fetches again the pages a listing passed over while they matched its fingerprint, and reads
/// them: the listing turned out not to be unchanged.
async fn read_again(
    l: &Lister<'_>,
    target: &Target,
    pages: &Pages,
    before: Vec<(usize, url::Url)>,
    listed: &mut Listed,
    writes: &mut Vec<Pending>,
) -> Result<Result<(), okta::Error>, store::Error> {
    for (at, url) in before {
        let page = match l.okta.token_page_again(&url).await {
            Ok(page) => page,
            Err(e) => return Ok(Err(e)),
        };
        if !pages.again(at, page.hash()) {
            return Ok(Err(okta::Error::Refused {
                reason: "the pair's tokens changed while it was listed; it is listed again next \
                         sweep"
                    .into(),
                request_id: page.request_id().map(str::to_owned),
            }));
        }
        if let Err(e) = read_page(l, target, page, listed, writes).await? {
            return Ok(Err(e));
        }
    }
    Ok(Ok(()))
}

/// Decodes a page, decides each of its tokens, stages the decisions and hands the page to
/// the writer.
async fn read_page(
    l: &Lister<'_>,
    target: &Target,
    page: RawTokenPage,
    listed: &mut Listed,
    writes: &mut Vec<Pending>,
) -> Result<Result<(), okta::Error>, store::Error> {
    let page = match page.decode() {
        Ok(page) => page,
        Err(e) => return Ok(Err(e)),
    };
    listed.pages += 1;
    if let Some(i) = page.tokens.iter().position(|t| t.token.id.is_none()) {
        return Ok(Err(okta::Error::Refused {
            reason: format!("token {i} of a page has no id"),
            request_id: page.request_id,
        }));
    }
    let rows = (page.tokens.into_iter())
        .map(|mut observed| {
            let scopes = observed.token.take_scope_names();
            let matched = decide_one(l.deps, target, &observed, &scopes, l.now, listed);
            observation(target, observed, &scopes, matched)
        })
        .collect();
    listed.stage(l.stage, false).await?;
    let sweep_id = Some(l.sweep_id);
    writes.push(l.ingest.page(sweep_id, rows, Utc::now()).await?);
    Ok(Ok(()))
}
