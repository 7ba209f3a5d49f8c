//! An unchanged pair listing: every page hashes as the pair's stored fingerprint says, under
//! the same policy and mode, before any decision could change with time. Such a listing holds
//! nothing the database does not, and decides what was decided: its pages are not decoded, no
//! token is written, nothing is staged, and its counts are the fingerprint's. While pages
//! match, only their addresses are kept (never their bodies: eight listings at once would
//! hold megabytes); at the first that does not, or at the end of a listing that is not
//! unchanged after all, the pages before are fetched again and read token by token.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use url::Url;

use super::list::Listed;
use super::report::PolicyTally;
use crate::config::Mode;
use crate::okta::RawTokenPage;
use crate::policy::PolicySet;
use crate::store::ListingPrint;

/// What a listing counted, as its fingerprint keeps it (`pair_listings.tally`).
#[derive(Debug, Default, Serialize, Deserialize)]
struct Tally {
    tokens: u64,
    active: u64,
    /// Revocations planned (tokens, not rules).
    revoke: u64,
    /// Per rule: planned, exempted, flagged.
    rules: BTreeMap<String, [u64; 3]>,
}

impl Tally {
    fn of(listed: &Listed) -> Tally {
        Tally {
            tokens: listed.tokens_seen,
            active: listed.active_seen,
            revoke: listed.to_revoke,
            rules: (listed.policies.iter())
                .map(|(rule, t)| (rule.clone(), [t.planned, t.exempted, t.flagged]))
                .collect(),
        }
    }

    fn listed(self, pages: u64) -> Listed {
        let policies = (self.rules.into_iter())
            .map(|(rule, [planned, exempted, flagged])| {
                let tally = PolicyTally {
                    planned,
                    exempted,
                    flagged,
                    ..PolicyTally::default()
                };
                (rule, tally)
            })
            .collect();
        Listed {
            tokens_seen: self.tokens,
            active_seen: self.active,
            to_revoke: self.revoke,
            pages,
            policies,
            unchanged: true,
            ..Listed::default()
        }
    }
}

/// The fingerprint a complete listing read token by token leaves: its pages' hashes and what
/// it decided, as of `now`.
pub(super) fn print_of(
    pages: Vec<u128>,
    listed: &Listed,
    policies: &PolicySet,
    mode: Mode,
    now: DateTime<Utc>,
) -> ListingPrint {
    ListingPrint {
        pages,
        policy: policies.fingerprint(),
        mode: mode.as_str().to_owned(),
        decided_at: now,
        stable_until: listed.stable_until,
        tally: serde_json::to_string(&Tally::of(listed)).unwrap_or_default(),
    }
}

/// A pair listing's pages as they come, against the fingerprint it may match.
pub(super) struct Pages {
    /// The stored fingerprint and its counts, while every page so far matches it.
    known: Option<(Vec<u128>, Tally)>,
    hashes: Vec<u128>,
    /// The address of each page so far, while they match.
    held: Vec<Url>,
}

/// How a listing ended.
pub(super) enum Ending {
    /// Unchanged: what it counted, and its pages' hashes.
    Unchanged(Listed, Vec<u128>),
    /// Read token by token: the pages to fetch again and read (by position and address).
    Read(Vec<(usize, Url)>),
}

impl Pages {
    /// Against `known`, if it can stand for a listing decided under `policies` in `mode` at
    /// `now` (an enforce sweep reads every pair with revocations to make).
    pub(super) fn new(
        known: Option<ListingPrint>,
        policies: &PolicySet,
        mode: Mode,
        now: DateTime<Utc>,
    ) -> Pages {
        let known = known.and_then(|k| {
            let tally: Tally = serde_json::from_str(&k.tally).ok()?;
            let stands = k.policy == policies.fingerprint()
                && k.mode == mode.as_str()
                && k.decided_at <= now
                && k.stable_until.is_none_or(|until| now < until)
                && (mode == Mode::DryRun || tally.revoke == 0);
            stands.then_some((k.pages, tally))
        });
        Pages {
            known,
            hashes: Vec::new(),
            held: Vec::new(),
        }
    }

    /// Takes the page fetched from `url`: `None` while pages match, else the pages before it
    /// to fetch again (by position and address) and read, then this one.
    pub(super) fn take(&mut self, url: Url, page: &RawTokenPage) -> Option<Vec<(usize, Url)>> {
        let hash = page.hash();
        let at = self.hashes.len();
        self.hashes.push(hash);
        match &self.known {
            Some((pages, _)) if pages.get(at) == Some(&hash) => {
                self.held.push(url);
                None
            }
            _ => {
                self.known = None;
                Some(
                    std::mem::take(&mut self.held)
                        .into_iter()
                        .enumerate()
                        .collect(),
                )
            }
        }
    }

    /// Page `at` was fetched again and hashed `hash`: whether it is still the page first
    /// fetched. (If not, the pages read again and those read the first time may overlap or
    /// leave a gap, as tokens moved between them.)
    pub(super) fn again(&self, at: usize, hash: u128) -> bool {
        self.hashes.get(at) == Some(&hash)
    }

    /// Every page's hash so far.
    pub(super) fn hashes(self) -> Vec<u128> {
        self.hashes
    }

    /// The listing is complete.
    pub(super) fn end(&mut self) -> Ending {
        match self.known.take() {
            Some((pages, tally)) if pages == self.hashes => {
                Ending::Unchanged(tally.listed(pages.len() as u64), pages)
            }
            _ => Ending::Read(
                std::mem::take(&mut self.held)
                    .into_iter()
                    .enumerate()
                    .collect(),
            ),
        }
    }
}
