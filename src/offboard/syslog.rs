//! System Log catch-up: one poll of `/api/v1/logs` for the offboarding event types, the
//! pattern FACTS §4 prescribes. The first poll starts `lookback` ago; every later one
//! requests the persisted `next` link verbatim. Each page's jobs and its `next` link are
//! committed together, so events are neither skipped nor lost by a crash (de-duplication by
//! uuid absorbs the ones the hook already delivered).

use std::time::Duration;

use chrono::Utc;
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
    let mut url = match store.system_log_cursor().await? {
        Some(next) => Url::parse(&next)?,
        None => {
            let since = Utc::now() - chrono::Duration::from_std(lookback).unwrap_or_default();
            okta.first_system_log_url(since, event_types, PAGE_LIMIT)
        }
    };
    let mut polled = Polled::default();
    while polled.pages < MAX_PAGES_PER_POLL {
        let page = okta.system_log_page(&url).await?;
        polled.pages += 1;
        polled.events += page.events.len();
        let jobs = jobs_from_events(&page.events, event_types, store::JobSource::SystemLog);
        let Some(next) = page.next else {
            // Not a polling answer: keep the cursor, enqueue what came.
            polled.enqueued += store.enqueue_jobs(&jobs, Utc::now()).await?.len();
            break;
        };
        polled.enqueued += store
            .save_system_log_page(&jobs, next.as_str(), Utc::now())
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
