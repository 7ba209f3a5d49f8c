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
        mode,
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
                && k.mode == mode
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

#[cfg(test)]
mod tests {
    use super::*;

    fn url(n: u32) -> Url {
        Url::parse(&format!("https://o.okta.com/tokens?after={n}")).unwrap()
    }

    /// A fingerprint of `bodies`, decided a minute ago under `policies`, counting `revoke`,
    /// standing for an hour.
    fn known(bodies: &[&str], policies: &PolicySet, revoke: u64) -> Option<ListingPrint> {
        let hashes = bodies
            .iter()
            .map(|b| RawTokenPage::sent(b).hash())
            .collect();
        let mut listed = Listed {
            tokens_seen: 3,
            to_revoke: revoke,
            ..Listed::default()
        };
        listed.stable_until = Some(Utc::now() + chrono::TimeDelta::hours(1));
        let decided = Utc::now() - chrono::TimeDelta::minutes(1);
        Some(print_of(hashes, &listed, policies, Mode::DryRun, decided))
    }

    #[test]
    fn matching_pages_are_passed_over_and_the_listing_counts_what_was_counted() {
        let policies = PolicySet::default();
        let mut pages = Pages::new(
            known(&["[1]", "[2]"], &policies, 2),
            &policies,
            Mode::DryRun,
            Utc::now(),
        );
        assert!(pages.take(url(0), &RawTokenPage::sent("[1]")).is_none());
        assert!(pages.take(url(1), &RawTokenPage::sent("[2]")).is_none());
        match pages.end() {
            Ending::Unchanged(listed, hashes) => {
                assert!(listed.unchanged);
                assert_eq!(
                    (listed.tokens_seen, listed.to_revoke, listed.pages),
                    (3, 2, 2)
                );
                assert_eq!(hashes.len(), 2);
            }
            Ending::Read(_) => panic!("unchanged"),
        }
    }

    #[test]
    fn a_differing_page_reads_the_pages_passed_over_and_knows_if_they_changed() {
        let policies = PolicySet::default();
        let mut pages = Pages::new(
            known(&["[1]", "[2]", "[3]"], &policies, 0),
            &policies,
            Mode::DryRun,
            Utc::now(),
        );
        assert!(pages.take(url(0), &RawTokenPage::sent("[1]")).is_none());
        assert!(pages.take(url(1), &RawTokenPage::sent("[2]")).is_none());
        let before = pages
            .take(url(2), &RawTokenPage::sent("[3, 4]"))
            .expect("read now");
        assert_eq!(before, [(0, url(0)), (1, url(1))]);
        assert!(pages.again(0, RawTokenPage::sent("[1]").hash()));
        assert!(
            !pages.again(1, RawTokenPage::sent("[2, 9]").hash()),
            "changed in between"
        );
        // Every later page is read at once; the fingerprint left has the new page's hash.
        assert_eq!(
            pages.take(url(3), &RawTokenPage::sent("[5]")),
            Some(Vec::new())
        );
        assert!(matches!(pages.end(), Ending::Read(ref b) if b.is_empty()));
        assert_eq!(pages.hashes()[2], RawTokenPage::sent("[3, 4]").hash());
    }

    #[test]
    fn a_listing_with_fewer_pages_or_a_fingerprint_that_cannot_stand_is_read() {
        let policies = PolicySet::default();
        let mut pages = Pages::new(
            known(&["[1]", "[2]"], &policies, 0),
            &policies,
            Mode::DryRun,
            Utc::now(),
        );
        assert!(pages.take(url(0), &RawTokenPage::sent("[1]")).is_none());
        assert!(matches!(pages.end(), Ending::Read(ref b) if b.len() == 1));
        // Enforce with revocations to make, a fingerprint of another mode, or past
        // `stable_until`: read.
        for (mode, revoke, now) in [
            (Mode::Enforce, 1, Utc::now()),
            (Mode::Enforce, 0, Utc::now()),
            (Mode::DryRun, 0, Utc::now() + chrono::TimeDelta::hours(2)),
        ] {
            let mut print = known(&["[1]"], &policies, revoke);
            if let Some(p) = print
                .as_mut()
                .filter(|_| mode == Mode::Enforce && revoke == 1)
            {
                p.mode = Mode::Enforce;
            }
            let mut pages = Pages::new(print, &policies, mode, now);
            assert!(
                pages.take(url(0), &RawTokenPage::sent("[1]")).is_some(),
                "{mode:?} {revoke}"
            );
        }
        // The same fingerprint in enforce with nothing to revoke stands.
        let mut print = known(&["[1]"], &policies, 0);
        if let Some(p) = print.as_mut() {
            p.mode = Mode::Enforce;
        }
        let mut pages = Pages::new(print, &policies, Mode::Enforce, Utc::now());
        assert!(pages.take(url(0), &RawTokenPage::sent("[1]")).is_none());
    }
}
