//! The result of one sweep: counts, per-policy tallies, failures, and the one summary line.

use std::collections::BTreeMap;

use tracing::info;

use super::reconcile::Reconciled;
use super::revoke::{RevocationOutcome, Work};
use super::{Listed, Target};
use crate::config::Mode;
use crate::store::{SweepCounts, SweepStatus};

/// What happened under one policy rule in a sweep.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PolicyTally {
    pub planned: u64,
    pub revoked: u64,
    pub already_gone: u64,
    pub failed: u64,
    pub exempted: u64,
    pub flagged: u64,
}

/// A target that could not be listed.
#[derive(Debug, Clone)]
pub struct TargetFailure {
    pub user_id: String,
    pub client_id: String,
    pub error: String,
}

/// What one app's listing did in a sweep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppTally {
    pub app_id: String,
    /// Pages and tokens this sweep listed (tokens include those an earlier sweep listed in
    /// a listing this one completed).
    pub pages: u64,
    pub tokens: u64,
    /// Whether it continued a listing an earlier sweep left under way.
    pub resumed: bool,
    /// Whether the listing completed (else the next sweep continues it).
    pub complete: bool,
}

/// One sweep's outcome, as recorded in `sweeps` and shown to the operator.
#[derive(Debug, Clone)]
pub struct SweepReport {
    pub sweep_id: i64,
    pub mode: Mode,
    pub status: SweepStatus,
    pub counts: SweepCounts,
    pub active_seen: u64,
    pub pages: u64,
    pub policies: BTreeMap<String, PolicyTally>,
    /// Targets that failed; `*` stands for every user of an app, or every client of a user
    /// whose clients could not be discovered.
    pub failures: Vec<TargetFailure>,
    /// Each app target's listing, in plan order.
    pub apps: Vec<AppTally>,
    /// Why the safety guard tripped, if it did.
    pub guard: Option<String>,
    /// What restart reconciliation did before this sweep.
    pub reconciled: Reconciled,
    /// The database's size after the sweep (WAL truncated), in bytes.
    pub db_bytes: Option<u64>,
    /// Revocations the gate withdrew (exempt now, no longer selected, ids refused).
    pub withdrawn: u64,
    /// Why the sweep stopped listing early, if it did (see [`super::Halt`]).
    pub halted: Option<super::Halt>,
}

impl SweepReport {
    pub(super) fn new(sweep_id: i64, mode: Mode, targets: usize) -> Self {
        SweepReport {
            sweep_id,
            mode,
            status: SweepStatus::Running,
            counts: SweepCounts {
                targets_total: targets as u64,
                ..SweepCounts::default()
            },
            active_seen: 0,
            pages: 0,
            policies: BTreeMap::new(),
            failures: Vec::new(),
            apps: Vec::new(),
            guard: None,
            reconciled: Reconciled::default(),
            db_bytes: None,
            withdrawn: 0,
            halted: None,
        }
    }

    fn tally(&mut self, rules: &[String], bump: impl Fn(&mut PolicyTally)) {
        for rule in rules {
            // Looked up before inserting: a rule's name is cloned once, not per token.
            match self.policies.get_mut(rule) {
                Some(tally) => bump(tally),
                None => bump(self.policies.entry(rule.clone()).or_default()),
            }
        }
    }

    pub(super) fn absorb(&mut self, listed: &Listed) {
        self.counts.tokens_seen += listed.tokens_seen;
        self.active_seen += listed.active_seen;
        self.pages += listed.pages;
        self.counts.tokens_reappeared += listed.reappeared;
        for (rule, t) in &listed.policies {
            let mine = self.policies.entry(rule.clone()).or_default();
            mine.planned += t.planned;
            mine.exempted += t.exempted;
            mine.flagged += t.flagged;
        }
    }

    /// Takes in one app's listing; returns what it found when it completed.
    pub(super) fn app(&mut self, listed: super::AppListed) -> Option<Listed> {
        let (pages, tokens) = listed
            .outcome
            .as_ref()
            .map_or((0, 0), |l| (l.pages, l.tokens_seen));
        self.apps.push(AppTally {
            app_id: listed.app.to_string(),
            pages,
            tokens,
            resumed: listed.resumed,
            complete: listed.outcome.is_ok(),
        });
        match listed.outcome {
            Ok(l) => {
                self.absorb(&l);
                Some(l)
            }
            Err(e) => {
                self.counts.targets_failed += 1;
                self.failures.push(TargetFailure {
                    user_id: "*".to_owned(),
                    client_id: listed.app.to_string(),
                    error: e.to_string(),
                });
                None
            }
        }
    }

    pub(super) fn discovery_failed(&mut self, failure: TargetFailure) {
        self.counts.targets_failed += 1;
        self.failures.push(failure);
    }

    pub(super) fn target_failed(&mut self, target: &Target, error: &crate::okta::Error) {
        self.counts.targets_failed += 1;
        self.failures.push(TargetFailure {
            user_id: target.user.to_string(),
            client_id: target.client.to_string(),
            error: error.to_string(),
        });
    }

    /// What reconciliation at the sweep's start did: a revocation it sent (or that failed) is
    /// the sweep's as much as any other, in its counts, its status and its exit code.
    pub(super) fn reconciled(&mut self, done: Reconciled) {
        for outcome in RevocationOutcome::ALL {
            self.count(outcome, done.count(outcome));
        }
        self.reconciled = done;
    }

    pub(super) fn revocation(&mut self, work: &Work, outcome: RevocationOutcome) {
        if outcome == RevocationOutcome::Settled {
            // Another run's to count.
            return;
        }
        if work.intent.is_some() {
            self.counts.revocations_retried += 1;
        }
        self.count(outcome, 1);
        let rules = &work.planned.rules;
        match outcome {
            RevocationOutcome::Done => self.tally(rules, |t| t.revoked += 1),
            RevocationOutcome::AlreadyGone => self.tally(rules, |t| t.already_gone += 1),
            RevocationOutcome::Failed | RevocationOutcome::Irrevocable => {
                self.tally(rules, |t| t.failed += 1);
            }
            RevocationOutcome::Withdrawn | RevocationOutcome::Settled => {}
        }
    }

    /// `n` revocations that ended in `outcome`, in the sweep's counts.
    fn count(&mut self, outcome: RevocationOutcome, n: u64) {
        let c = &mut self.counts;
        match outcome {
            RevocationOutcome::Done | RevocationOutcome::AlreadyGone => c.revocations_done += n,
            RevocationOutcome::Failed => c.revocations_failed += n,
            RevocationOutcome::Irrevocable => {
                c.revocations_failed += n;
                c.revocations_irrevocable += n;
            }
            RevocationOutcome::Withdrawn => self.withdrawn += n,
            RevocationOutcome::Settled => {}
        }
    }

    /// Whether the sweep finished cleanly (exit 0) rather than with failures (exit 3).
    pub fn is_clean(&self) -> bool {
        self.status == SweepStatus::Ok
    }

    pub(super) fn log_summary(&self) {
        let c = &self.counts;
        info!(
            sweep.id = self.sweep_id,
            mode = self.mode.as_str(),
            status = self.status.as_str(),
            targets = c.targets_total,
            targets_failed = c.targets_failed,
            pages = self.pages,
            examined = c.tokens_seen,
            planned = c.revocations_planned,
            revoked = c.revocations_done,
            failed = c.revocations_failed,
            retried = c.revocations_retried,
            irrevocable = c.revocations_irrevocable,
            reappeared = c.tokens_reappeared,
            reconciled = self.reconciled.intents_resolved,
            skipped = self.policies.values().map(|t| t.exempted).sum::<u64>(),
            http.requests = c.http_requests,
            http.status_429 = c.http_429,
            http.status_429_concurrency = c.http_429_concurrency,
            wait_ms = c.wait_ms,
            budget_wait_ms = c.budget_wait_ms,
            budget_wall_ms = c.budget_wall_ms,
            guard = self.guard.as_deref(),
            db.bytes = self.db_bytes,
            halted = self.halted.as_ref().map(super::Halt::message),
            "sweep finished"
        );
    }
}

impl SweepReport {
    /// How the pass ended: `failed` when every target failed, `partial` when some did, a
    /// revocation failed or the guard held the plan back, else `ok`.
    pub(super) fn derive_status(&self) -> SweepStatus {
        let c = &self.counts;
        if c.targets_total > 0 && c.targets_failed == c.targets_total {
            SweepStatus::Failed
        } else if c.targets_failed > 0 || c.revocations_failed > 0 || self.guard.is_some() {
            SweepStatus::Partial
        } else {
            SweepStatus::Ok
        }
    }
}
