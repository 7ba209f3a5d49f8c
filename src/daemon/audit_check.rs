//! Whether the audit hash chain verifies, for `/metrics` and the daemon's audit watch
//! ([`super::audit_watch`], every 30 s), without either waiting for a walk of the whole chain
//! (~0.8 s of CPU for 85k records, ten times that at a million). Records added since the last
//! verdict are checked at each call, on from the end that verdict covers: the record count is
//! current, and a forged record after that end is seen at once. The whole chain, for an edit
//! behind that end, is walked in the background: once the last whole walk is [`RECHECK`] old if
//! the database's `data_version` has moved since it started, and once it is [`MAX_WALK_AGE`]
//! old in any case (an edit made to the file behind SQLite's back, which `data_version` cannot
//! see); a later call reports its verdict. Only the first call walks the whole chain itself, and
//! so does a call after a whole walk failed (the database could not be read), so it fails as the
//! database does. Reads only.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::warn;

use crate::store::{AuditBreak, Error, Store, Verified, Version};

/// How old a whole walk may be before a commit made since it started has it walked again.
pub const RECHECK: Duration = Duration::from_secs(60);

/// How old a whole walk may be while nothing at all was committed.
pub const MAX_WALK_AGE: Duration = Duration::from_secs(3600);

/// What the chain was last found to be.
#[derive(Debug, Clone)]
enum Verdict {
    Whole(Verified),
    Broken(AuditBreak),
}

impl Verdict {
    fn of(found: Result<Verified, AuditBreak>) -> Verdict {
        found.map_or_else(Verdict::Broken, Verdict::Whole)
    }

    /// `Ok(records)`, or where the chain breaks.
    fn answer(&self) -> Result<u64, AuditBreak> {
        match self {
            Verdict::Whole(v) => Ok(v.records),
            Verdict::Broken(b) => Err(b.clone()),
        }
    }
}

#[derive(Debug, Default)]
struct State {
    verdict: Option<Verdict>,
    /// When the last whole walk started, and the `data_version` then.
    last_walk: Option<(Instant, Version)>,
    /// The whole walk under way in the background.
    walking: Option<JoinHandle<()>>,
    /// Moved each time the verdict turns broken: a whole walk that started before cannot
    /// clear a break found since.
    breaks: u64,
    /// Set at shutdown: no whole walk starts after it.
    stopped: bool,
}

impl State {
    /// Puts what a walk found in force; returns it.
    fn set(&mut self, found: Result<Verified, AuditBreak>) -> Verdict {
        let verdict = Verdict::of(found);
        if let Verdict::Broken(_) = verdict {
            self.breaks += 1;
        }
        self.verdict = Some(verdict.clone());
        verdict
    }

    /// Whether a whole walk is due at `now`, the database at `version`.
    fn due(&self, version: Version, now: Instant) -> bool {
        !self.stopped
            && self.last_walk.is_none_or(|(at, seen)| {
                let age = now.saturating_duration_since(at);
                age >= MAX_WALK_AGE || (seen != version && age >= RECHECK)
            })
            && self.walking.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// A whole walk's result, unless a break was found since it started (`breaks` then) or an
    /// append checked since verified a longer chain.
    fn merge_walk(&mut self, found: Result<Verified, AuditBreak>, breaks: u64) {
        match (found, &self.verdict) {
            (Err(broken), _) => {
                self.set(Err(broken));
            }
            (Ok(_), Some(Verdict::Broken(_))) if self.breaks != breaks => {}
            (Ok(walked), Some(Verdict::Whole(now))) if now.records > walked.records => {}
            (Ok(walked), _) => self.verdict = Some(Verdict::Whole(walked)),
        }
    }
}

/// The chain's verdict as last found; one check at a time.
#[derive(Debug, Default)]
pub struct AuditCheck {
    state: Arc<Mutex<State>>,
}

impl AuditCheck {
    /// `Ok(records)` when the chain verifies, else where it breaks, given the database's
    /// `data_version` read just now.
    pub async fn verdict(
        &self,
        store: &Store,
        version: Version,
    ) -> Result<Result<u64, AuditBreak>, Error> {
        self.verdict_at(store, version, Instant::now()).await
    }

    pub(super) async fn verdict_at(
        &self,
        store: &Store,
        version: Version,
        now: Instant,
    ) -> Result<Result<u64, AuditBreak>, Error> {
        let mut state = self.state.lock().await;
        let verdict = match state.verdict.clone() {
            None => {
                state.last_walk = Some((now, version));
                let found = store.verify_audit_from(None).await?;
                return Ok(state.set(found).answer());
            }
            Some(Verdict::Whole(verified)) => {
                // Nothing added: an empty range, the head read twice and the last key.
                let found = store.verify_audit_from(verified.end.as_ref()).await?;
                state.set(found)
            }
            Some(broken) => broken,
        };
        if state.due(version, now) {
            state.last_walk = Some((now, version));
            let (store, shared, breaks) = (store.clone(), Arc::clone(&self.state), state.breaks);
            state.walking = Some(tokio::spawn(async move {
                let found = store.verify_audit_from(None).await;
                let mut state = shared.lock().await;
                match found {
                    Ok(found) => state.merge_walk(found, breaks),
                    Err(e) => {
                        warn!(error.message = %e, "cannot walk the audit chain");
                        // No verdict stands: the next scrape walks the chain itself.
                        state.verdict = None;
                    }
                }
            }));
        }
        Ok(verdict.answer())
    }

    /// Stops a whole walk under way, and any from starting (at shutdown, before the database
    /// is closed).
    pub async fn stop(&self) {
        let walking = {
            let mut state = self.state.lock().await;
            state.stopped = true;
            state.walking.take()
        };
        if let Some(walking) = walking {
            walking.abort();
            let _ = walking.await;
        }
    }

    /// Waits for the whole walk under way, if any.
    #[cfg(test)]
    pub(super) async fn wait_for_walk(&self) {
        let walking = self.state.lock().await.walking.take();
        if let Some(walking) = walking {
            walking.await.unwrap();
        }
    }
}

#[cfg(test)]
#[path = "tests_audit_check.rs"]
pub(super) mod tests;
