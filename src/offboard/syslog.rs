//! System Log catch-up: one poll of `/api/v1/logs` for the offboarding event types, the
//! pattern FACTS §4 prescribes. The first poll starts `lookback` ago; every later one
//! requests the persisted `next` link verbatim, while it answers the poller's query (the org,
//! the event types, the page size): a changed query starts again `lookback` before the cursor
//! last moved, so an added event type is caught up and nothing is skipped; so does a saved
//! link Okta refuses with a 400 (kept past what Okta still answers). Each page's jobs and its `next` link are
//! committed together, so events are neither skipped nor lost by a crash (de-duplication by
//! uuid absorbs the ones the hook already delivered).

use std::time::Duration;

use chrono::{DateTime, Utc};
use tracing::error;
use url::Url;

use super::events::jobs_from_events;
use crate::okta::{self, OktaClient};
use crate::store::{self, Store};

/// Events asked for per page.
pub const PAGE_LIMIT: u32 = 100;
/// Pages read in one poll at most (the rest waits for the next poll).
pub const MAX_PAGES_PER_POLL: usize = 20;

/// Why a poll failed.
#[derive(Debug, thiserror::Error)]
pub enum PollError {
    #[error(transparent)]
    Okta(#[from] okta::Error),
    #[error(transparent)]
    Store(#[from] store::Error),
    #[error("the persisted System Log cursor is not a URL: {0}")]
    Cursor(#[from] url::ParseError),
}

/// How far back Okta's System Log answers `since` (FACTS §4: a `since` more than 180 days back
/// is refused with a 400, and events are kept 90 days), less an hour, clear of the edge.
const RETENTION: chrono::Duration = chrono::Duration::hours(180 * 24 - 1);

/// `since`, or the oldest instant Okta still answers if it is older.
fn oldest_since(since: DateTime<Utc>, now: DateTime<Utc>) -> DateTime<Utc> {
    since.max(now - RETENTION)
}

/// What one poll did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Polled {
    pub pages: usize,
    pub events: usize,
    /// Jobs created (events not already known).
    pub enqueued: usize,
}

/// Polls until a page is not full (caught up) or [`MAX_PAGES_PER_POLL`] pages.
pub async fn poll_once(
    okta: &OktaClient,
    store: &Store,
    event_types: &[String],
    lookback: Duration,
) -> Result<Polled, PollError> {
    let mut types = event_types.to_vec();
    types.sort();
    types.dedup();
    // The query a cursor answers: the first URL without its `since`.
    let query = okta
        .first_system_log_url(DateTime::UNIX_EPOCH, &types, PAGE_LIMIT)
        .to_string();
    let back = chrono::Duration::from_std(lookback).unwrap_or_default();
    let now = Utc::now();
    let cursor = store.system_log_cursor().await?;
    // A new query starts `lookback` before the events the cursor had passed (or now).
    let restart = || {
        let passed = (cursor.as_ref())
            .and_then(|c| {
                (c.position.as_deref())
                    .and_then(|p| DateTime::parse_from_rfc3339(p).ok())
                    .or_else(|| DateTime::parse_from_rfc3339(&c.updated_at).ok())
            })
            .map_or(now, |t| t.with_timezone(&Utc));
        okta.first_system_log_url(oldest_since(passed - back, now), &types, PAGE_LIMIT)
    };
    let (mut url, mut saved) = match &cursor {
        Some(c) if c.query.as_deref() == Some(query.as_str()) => (Url::parse(&c.next_url)?, true),
        // Another query (or none yet).
        _ => (restart(), false),
    };
    let mut polled = Polled::default();
    while polled.pages < MAX_PAGES_PER_POLL {
        let page = match okta.system_log_page(&url).await {
            // Okta refuses the saved link itself (one kept past what Okta still answers): a
            // new query, rather than the same refusal at every poll for ever.
            Err(e) if saved && e.status() == Some(400) => {
                error!(error.message = %e, okta.request_id = e.request_id(), "Okta refused the saved System Log cursor; polling starts a new query");
                (url, saved) = (restart(), false);
                continue;
            }
            page => page?,
        };
        saved = false;
        polled.pages += 1;
        polled.events += page.events.len();
        let jobs = jobs_from_events(&page.events, event_types, store::JobSource::SystemLog);
        let Some(next) = page.next else {
            // Not a polling answer: keep the cursor, enqueue what came.
            polled.enqueued += store.enqueue_jobs(&jobs, Utc::now()).await?.len();
            break;
        };
        let position = latest_published(page.events.iter().filter_map(|e| e.published.as_deref()));
        polled.enqueued += store
            .save_system_log_page(
                &jobs,
                next.as_str(),
                &query,
                position.as_deref(),
                Utc::now(),
            )
            .await?
            .len();
        let full = page.events.len() >= PAGE_LIMIT as usize;
        url = next;
        if !full {
            break;
        }
    }
    Ok(polled)
}

/// The latest of events' `published` instants, in revokd's timestamp form. Compared as
/// instants, not as text: the contract says only `date-time`, so an offset other than `Z`, or
/// another number of fraction digits, must not make an earlier event the latest. An
/// unparsable value is left out.
fn latest_published<'a>(published: impl Iterator<Item = &'a str>) -> Option<String> {
    published
        .filter_map(|p| DateTime::parse_from_rfc3339(p).ok())
        .max()
        .map(|at| store::ts(at.with_timezone(&Utc)))
}

#[cfg(test)]
mod tests {
    use super::latest_published;

    #[test]
    fn the_latest_event_is_told_by_its_instant_not_its_text() {
        let published = [
            "2026-12-03T10:00:00.5+01:00",
            "2026-12-03T09:30:00Z",
            "2026-12-03T09:29:59.999999Z",
            "yesterday",
        ];
        assert_eq!(
            latest_published(published.into_iter()).as_deref(),
            Some("2026-12-03T09:30:00.000Z")
        );
        assert_eq!(latest_published(["garbage"].into_iter()), None);
    }
}
