//! Using a token, as its client does when it refreshes with it. Okta does not publish how a
//! refresh moves what it lists of a token (its contract says of `lastUpdated` only "when the
//! object was last updated"), so the sim plays each plausible way ([`OnUse`]) and tests run the
//! product against all of them.

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};

use super::{SimOrg, SimToken};

/// What a use of a refresh token changes in what Okta lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnUse {
    /// `lastUpdated` moves to the instant of use; nothing else changes.
    Touch,
    /// Nothing listed changes: `lastUpdated` stays where it was.
    Keep,
    /// Refresh token rotation: a new token (a new id, created and last updated at the use, same
    /// issuer, scopes and lifetime) replaces the one used, which is no longer listed ACTIVE.
    Rotate,
}

/// Numbers the tokens rotation issues, so each id is new.
static ROTATED: AtomicU64 = AtomicU64::new(0);

impl SimOrg {
    /// Token `id` of the pair used at `at`, as `how` says. Returns the token ACTIVE afterwards
    /// (the same, or its successor); `None` when the pair holds no such ACTIVE token.
    pub fn use_token(
        &self,
        user: &str,
        client: &str,
        id: &str,
        how: OnUse,
        at: DateTime<Utc>,
    ) -> Option<SimToken> {
        let mut store = self.handle.shared.store();
        let pair = store.resolve(user, client).ok()??;
        let used = store.take_active(pair, Some(&[id])).pop()?;
        let after = match how {
            OnUse::Keep => used,
            OnUse::Touch => SimToken {
                last_updated: at,
                ..used
            },
            OnUse::Rotate => {
                let n = ROTATED.fetch_add(1, Ordering::Relaxed);
                SimToken {
                    id: format!("oarR{n:016}"),
                    created: at,
                    last_updated: at,
                    expires_at: used.expires_at.map(|e| at + (e - used.created)),
                    ..used
                }
            }
        };
        store.add(after.clone());
        Some(after)
    }
}
