//! Listing one `app` target through ApplicationTokens: every user's tokens of the app, page by
//! page, each token recorded with its user and the app as client and decided like any other.
//! After each page the observation writer also records Okta's `next` link, so a listing
//! stopped half-way (a crash, SIGTERM, a restart, an Okta fault) continues at the next sweep
//! from its last committed page instead of the first.
//!
//! One listing, one decision per token: when a listing resumes, the tokens the earlier process
//! listed (and this one does not list again) are decided here from their recorded rows, once
//! the rest of the listing is committed. A complete listing marks the app's tokens not seen
//! since the listing began (`app_listings.started_at`, kept across restarts) gone.

use chrono::{DateTime, Utc};
use tracing::{Instrument, error, info, info_span, warn};

use super::decide::{decide_one, decide_recorded, observation};
use super::halt::Breaker;
use super::{Deps, Listed, Target};
use crate::okta::{self, ClientId, OktaClient, UserId};
use crate::store::{self, AppCursorWrite, Ingest, Pending, PlanStage, TargetSource};

/// What the listing of one app did in this sweep.
#[derive(Debug)]
pub struct AppListed {
    pub app: ClientId,
    /// Whether it continued a listing an earlier sweep left under way.
    pub resumed: bool,
    /// Whether the listing is complete (else it stays under way for the next sweep).
    pub outcome: Result<Listed, okta::Error>,
}

/// Lists `app` to the end (or until Okta fails it), continuing a listing left under way.
/// Fails only when the database fails.
#[allow(clippy::too_many_arguments)]
pub(super) async fn list_app(
    deps: &Deps,
    okta: &OktaClient,
    ingest: &Ingest,
    stage: &PlanStage,
    sweep_id: i64,
    app: &ClientId,
    now: DateTime<Utc>,
    breaker: &Breaker,
) -> Result<AppListed, store::Error> {
    if breaker.skips() {
        deps.progress.target_done(0);
        return Ok(AppListed {
            app: app.clone(),
            resumed: false,
            outcome: Err(okta::Error::Refused {
                reason: "not listed: the sweep stopped early".into(),
                request_id: None,
            }),
        });
    }
    let span = info_span!("app", okta.app_id = %app);
    async {
        let (mut started, mut resume) = begin(deps, sweep_id, app).await?;
        let resumed_at = Utc::now();
        let mut listed = Listed::default();
        let mut outcome = list_pages(
            deps,
            okta,
            ingest,
            stage,
            sweep_id,
            app,
            resume.as_deref(),
            now,
            &mut listed,
        )
        .await?;
        // A kept cursor that Okta (or the client) refuses before its first page would be
        // refused again by every sweep: the listing starts over instead.
        if let (Some(_), Err(e)) = (&resume, &outcome)
            && listed.pages == 0
            && cursor_refused(e)
        {
            warn!(error.message = %e, "the kept cursor of the app listing was refused; the listing starts over");
            started = Utc::now();
            deps.store
                .begin_app_listing(app.as_str(), sweep_id, started)
                .await?;
            resume = None;
            outcome =
                list_pages(deps, okta, ingest, stage, sweep_id, app, None, now, &mut listed)
                    .await?;
        }
        let outcome = match outcome {
            Ok(()) => {
                if resume.is_some() {
                    let earlier = deps
                        .store
                        .app_tokens_listed_between(app.as_str(), started, resumed_at)
                        .await?;
                    for row in &earlier {
                        decide_recorded(deps, row, now, &mut listed);
                    }
                    listed.stage(stage, true).await?;
                }
                let complete = AppCursorWrite::Complete {
                    app_id: app.to_string(),
                    sweep_id,
                    started,
                    at: Utc::now(),
                };
                ingest.app_cursor(complete).await?.committed().await?;
                info!(pages = listed.pages, tokens = listed.tokens_seen, "app listed");
                Ok(listed)
            }
            Err(e) => {
                let text = e.to_string();
                (deps.store)
                    .record_app_listing_failure(app.as_str(), sweep_id, &text, Utc::now())
                    .await?;
                if !breaker.observe(&e) {
                    warn!(error.message = %e, okta.request_id = e.request_id(), "app listing stopped; the next sweep continues it");
                }
                Err(e)
            }
        };
        deps.progress.target_done(0);
        Ok(AppListed {
            app: app.clone(),
            resumed: resume.is_some(),
            outcome,
        })
    }
    .instrument(span)
    .await
}

/// Whether a resumed listing failed on its kept cursor itself: refused by the client (another
/// origin, another listing) or by Okta with a client error other than 429.
fn cursor_refused(e: &okta::Error) -> bool {
    matches!(e, okta::Error::Refused { .. })
        || e.status()
            .is_some_and(|s| (400..500).contains(&s) && s != 429 && s != 401 && s != 403)
}

/// The listing's start and the `next` link to continue from, beginning a new listing unless
/// one is under way. While another sweep of a live process is listing the app (one of another
/// host counts as live while the listing moved within [`crate::runner::ELSEWHERE_QUIET`]),
/// this pass lists it whole on its own and leaves that listing's row to it (its writes to the
/// row are the row owner's only).
async fn begin(
    deps: &Deps,
    sweep_id: i64,
    app: &ClientId,
) -> Result<(DateTime<Utc>, Option<String>), store::Error> {
    let holder = deps
        .store
        .app_listing_holder(app.as_str(), sweep_id)
        .await?;
    let now = Utc::now();
    let live = |(_, r, moved): &(i64, String, String)| {
        crate::runner::may_be_running(r, crate::runner::heard_from_lately(moved, now))
    };
    if let Some((other, runner, _)) = holder.filter(live) {
        info!(run_id = other, runner = %runner, "another sweep is listing the app: this pass lists it on its own");
        return Ok((Utc::now(), None));
    }
    let kept = deps.store.app_listing(app.as_str()).await?;
    if let Some(kept) = kept.filter(store::AppListing::under_way)
        && let Ok(started) = DateTime::parse_from_rfc3339(&kept.started_at)
    {
        deps.store
            .resume_app_listing(app.as_str(), sweep_id)
            .await?;
        info!(
            pages = kept.pages,
            tokens = kept.tokens,
            "continuing the app listing from its last committed page"
        );
        return Ok((started.with_timezone(&Utc), kept.next_url));
    }
    let started = Utc::now();
    deps.store
        .begin_app_listing(app.as_str(), sweep_id, started)
        .await?;
    Ok((started, None))
}

#[allow(clippy::too_many_arguments)]
async fn list_pages(
    deps: &Deps,
    okta: &OktaClient,
    ingest: &Ingest,
    stage: &PlanStage,
    sweep_id: i64,
    app: &ClientId,
    resume: Option<&str>,
    now: DateTime<Utc>,
    listed: &mut Listed,
) -> Result<Result<(), okta::Error>, store::Error> {
    let mut pages = match okta.list_app_tokens(app, resume) {
        Ok(pages) => pages,
        Err(e) => return Ok(Err(e)),
    };
    loop {
        let page = match pages.next_page().await {
            Ok(Some(page)) => page,
            Ok(None) => return Ok(Ok(())),
            Err(e) => return Ok(Err(e)),
        };
        listed.pages += 1;
        deps.progress.app_page(page.tokens.len() as u64);
        let mut rows = Vec::with_capacity(page.tokens.len());
        for (i, mut observed) in page.tokens.into_iter().enumerate() {
            let user = observed.token.user_id.as_deref().map(UserId::new);
            let (Some(Ok(user)), Some(_)) = (user, observed.token.id.as_ref()) else {
                return Ok(Err(okta::Error::Refused {
                    reason: format!("token {i} of a page of app {app} has no valid id or userId"),
                    request_id: page.request_id,
                }));
            };
            if let Some(reason) = other_client(app, observed.token.client_id.as_deref()) {
                return Ok(Err(okta::Error::Refused {
                    reason,
                    request_id: page.request_id,
                }));
            }
            let target = Target {
                user,
                client: app.clone(),
                source: TargetSource::Discovered,
            };
            let scopes = observed.token.take_scope_names();
            let matched = decide_one(deps, &target, &observed, &scopes, now, listed);
            rows.push(observation(&target, observed, &scopes, matched));
        }
        listed.stage(stage, true).await?;
        let tokens = rows.len() as u64;
        let page_written = ingest.page(Some(sweep_id), rows, Utc::now()).await?;
        let cursor = AppCursorWrite::Page {
            app_id: app.to_string(),
            sweep_id,
            next: pages.next_url().map(ToString::to_string),
            tokens,
            at: Utc::now(),
        };
        let cursor_written = ingest.app_cursor(cursor).await?;
        // The next page is asked for only once this one and its link are committed: a stop
        // at any instant costs at most the page in flight.
        listed.reappeared += committed(app, page_written).await?;
        cursor_written.committed().await?;
        if pages.next_url().is_none() {
            return Ok(Ok(()));
        }
    }
}

/// Waits until a page is committed; counts the tokens revokd had revoked that it showed
/// ACTIVE again.
async fn committed(app: &ClientId, page: Pending) -> Result<u64, store::Error> {
    let back = page.committed().await?;
    for token_id in &back {
        error!(
            okta.app_id = %app,
            okta.token_id = %token_id,
            "a token revokd revoked is ACTIVE again in Okta; policy decides it anew"
        );
    }
    Ok(back.len() as u64)
}

/// Why a token the listing of `app` returned cannot be taken as the app's: its `clientId`
/// is not the app id, or it has none to compare. An app's `client_id` may be set by hand at
/// creation, and then differs from its instance id; the user+client route that revokes takes
/// only the `client_id`, so revoking under the app id would be answered 404 and taken for
/// "already gone". Such an app is listed through its users and client instead.
fn other_client(app: &ClientId, client_id: Option<&str>) -> Option<String> {
    let Some(client) = client_id else {
        return Some(format!(
            "a token the listing of app {app} returned carries no clientId, so revokd cannot \
             tell that the app id is its client_id (revoking under another id would be taken \
             for 'already gone'); target the app's client_id (its credentials.oauthClient.\
             client_id) with `client = \"...\"` and its `users`, or `users` alone, instead"
        ));
    };
    if client == app.as_str() {
        return None;
    }
    // An id revokd takes is shown as it is (it fits the suggested TOML string); any other
    // text of Okta's escaped and cut, like every refused id.
    let client: String = match ClientId::new(client) {
        Ok(_) => client.to_owned(),
        Err(_) => client
            .chars()
            .take(40)
            .collect::<String>()
            .escape_debug()
            .to_string(),
    };
    Some(format!(
        "the tokens of app {app} carry client_id {client}: its client_id was set apart from \
         its app id, and an `app` target needs the two to be one; target it with \
         `client = \"{client}\"` and its `users` (or `users` alone) instead"
    ))
}
