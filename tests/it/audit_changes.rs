//! The audit trail records changes, not repetitions: a dry-run plan and an exemption are
//! recorded once while they stand and closed with one `withdrawn` row when a later sweep no
//! longer finds them (token gone, exempt now, policy changed); a token planned again after
//! that gets a new `planned` intent; switching to enforce revokes what was planned. The
//! `sweeps` rows keep the per-sweep counts and the chain verifies throughout.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use revokd::config::{ExemptionConfig, Mode, PolicyConfig};
use revokd::store::{AuditRow, SweepStatus};

use crate::helpers::{
    TestApp, admin_policy, admin_policy_selects, sim_ids, small_org, spawn_app_with,
};

async fn rows(app: &TestApp) -> Vec<AuditRow> {
    app.store.revocations().await.expect("audit rows")
}

/// The states each token's rows went through, in order.
async fn states_by_token(app: &TestApp) -> BTreeMap<String, Vec<String>> {
    let mut by_token: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in rows(app).await {
        let token = r.token_id.clone().expect("a token row");
        by_token.entry(token).or_default().push(r.state);
    }
    by_token
}

/// The `v_revocation_log` state of each intent of `token`, oldest first.
pub(crate) async fn log_states(app: &TestApp, token: &str) -> Vec<String> {
    sqlx::query_scalar("SELECT state FROM v_revocation_log WHERE token_id = ? ORDER BY intent_id")
        .bind(token)
        .fetch_all(app.store.pool())
        .await
        .expect("log")
}

async fn verifies(app: &TestApp) {
    let n = rows(app).await.len() as u64;
    assert_eq!(app.store.verify_audit().await.expect("query"), Ok(n));
}

async fn planned_per_sweep(app: &TestApp) -> Vec<i64> {
    sqlx::query_scalar("SELECT revocations_planned FROM sweeps ORDER BY id")
        .fetch_all(app.store.pool())
        .await
        .expect("sweeps")
}

/// The first half of the selected tokens (at least one), and an exemption naming them.
fn exempt_some(app: &TestApp) -> (BTreeSet<String>, ExemptionConfig) {
    let selected = admin_policy_selects(&app.org, app.now);
    let ids: BTreeSet<String> = selected
        .iter()
        .take((selected.len() / 2).max(1))
        .map(|t| t.id.clone())
        .collect();
    let exemption = ExemptionConfig {
        name: Some("break-glass".into()),
        tokens: ids.iter().cloned().collect(),
        ..ExemptionConfig::default()
    };
    (ids, exemption)
}

#[tokio::test]
async fn an_unchanged_dry_run_sweep_appends_no_audit_record_and_keeps_its_counts() {
    let mut app = spawn_app_with(small_org(), |c| c.policies = vec![admin_policy()]).await;
    let (spared, exemption) = exempt_some(&app);
    app.reconfigure(&[admin_policy()], &[exemption]);
    let selected = admin_policy_selects(&app.org, app.now);
    let exempt = selected.iter().filter(|t| spared.contains(&t.id)).count();
    let planned = selected.len() - exempt;
    assert!(exempt > 0 && planned > 0);

    let first = app.sweep(Mode::DryRun).await;
    assert_eq!(first.status, SweepStatus::Ok);
    assert_eq!(first.counts.revocations_planned, planned as u64);
    assert_eq!(rows(&app).await.len(), selected.len());
    for _ in 0..2 {
        let again = app.sweep(Mode::DryRun).await;
        assert_eq!(again.counts.revocations_planned, planned as u64);
        assert_eq!(rows(&app).await.len(), selected.len(), "nothing appended");
    }
    assert_eq!(planned_per_sweep(&app).await, vec![planned as i64; 3]);
    for states in states_by_token(&app).await.values() {
        assert_eq!(states.len(), 1, "{states:?}");
    }
    verifies(&app).await;

    // An enforce sweep records each exemption anew and withdraws the dry-run's, saying why.
    app.sweep(Mode::Enforce).await;
    let why: BTreeSet<String> = (rows(&app).await.into_iter())
        .filter(|r| r.state == "withdrawn" && spared.contains(r.token_id.as_deref().unwrap_or("")))
        .filter_map(|r| r.error)
        .collect();
    assert_eq!(
        why,
        BTreeSet::from(["recorded again by an enforce sweep".to_owned()])
    );
}

#[tokio::test]
async fn a_plan_no_longer_planned_is_withdrawn_once_and_planned_anew_when_selected_again() {
    let mut app = spawn_app_with(small_org(), |c| c.policies = vec![admin_policy()]).await;
    let selected = admin_policy_selects(&app.org, app.now);
    assert!(selected.len() >= 3, "{}", selected.len());
    app.sweep(Mode::DryRun).await;
    let before = rows(&app).await.len();

    // Token gone: revoked behind revokd's back.
    let gone = &selected[selected.len() - 1];
    assert!(
        app.org
            .revoke_out_of_band(&gone.user_id, &gone.client_id, &gone.id)
    );
    app.sweep(Mode::DryRun).await;
    let after_gone = rows(&app).await;
    assert_eq!(after_gone.len(), before + 1, "exactly one row");
    let w = after_gone.last().expect("a row");
    assert_eq!(
        (w.token_id.as_deref(), w.state.as_str()),
        (Some(gone.id.as_str()), "withdrawn")
    );
    assert!(w.intent_id.is_some());
    assert_eq!(
        w.error.as_deref(),
        Some("token gone: Okta no longer lists it")
    );
    assert_eq!(log_states(&app, &gone.id).await, ["withdrawn"]);

    // Exempt now: the first half of the selected tokens.
    let (spared, exemption) = exempt_some(&app);
    app.reconfigure(&[admin_policy()], std::slice::from_ref(&exemption));
    app.sweep(Mode::DryRun).await;
    app.sweep(Mode::DryRun).await;
    let by_token = states_by_token(&app).await;
    for t in selected
        .iter()
        .filter(|t| spared.contains(&t.id) && t.id != gone.id)
    {
        assert_eq!(
            by_token[&t.id],
            ["planned", "skipped_exempt", "withdrawn"],
            "{}",
            t.id
        );
    }

    // Policy changed: nothing selects any token now.
    app.reconfigure(&[], &[exemption]);
    app.sweep(Mode::DryRun).await;
    let settled = rows(&app).await.len();
    app.sweep(Mode::DryRun).await;
    assert_eq!(
        rows(&app).await.len(),
        settled,
        "an unchanged sweep appends nothing"
    );
    let withdrawn_for_policy = rows(&app)
        .await
        .into_iter()
        .filter(|r| r.error.as_deref() == Some("no policy selects it any more"))
        .count();
    assert_eq!(
        withdrawn_for_policy,
        selected.len() - 1,
        "each standing record once"
    );

    // Selected again: a new intent, planned.
    app.reconfigure(&[admin_policy()], &[]);
    app.sweep(Mode::DryRun).await;
    let by_token = states_by_token(&app).await;
    for t in selected.iter().filter(|t| t.id != gone.id) {
        assert_eq!(
            by_token[&t.id].last().map(String::as_str),
            Some("planned"),
            "{}",
            t.id
        );
        let log = log_states(&app, &t.id).await;
        assert_eq!(log.last().map(String::as_str), Some("planned"));
        assert!(
            log[..log.len() - 1].iter().all(|s| s == "withdrawn"),
            "{log:?}"
        );
    }
    assert_eq!(by_token[&gone.id], ["planned", "withdrawn"]);
    let counts = planned_per_sweep(&app).await;
    let n = selected.len() as i64;
    let exempted = selected
        .iter()
        .filter(|t| spared.contains(&t.id) && t.id != gone.id)
        .count() as i64;
    assert_eq!(
        counts,
        [n, n - 1, n - 1 - exempted, n - 1 - exempted, 0, 0, n - 1]
    );
    verifies(&app).await;
}

#[tokio::test]
async fn switching_to_enforce_revokes_what_dry_run_planned_and_closes_the_plans() {
    let app = spawn_app_with(small_org(), |c| c.policies = vec![admin_policy()]).await;
    let expected = sim_ids(&admin_policy_selects(&app.org, app.now));
    app.sweep(Mode::DryRun).await;
    app.sweep(Mode::DryRun).await;

    let report = app.sweep(Mode::Enforce).await;
    assert_eq!(report.status, SweepStatus::Ok);
    assert_eq!(report.counts.revocations_done, expected.len() as u64);
    let revoked: BTreeSet<String> = app.org.revoked().into_iter().map(|r| r.token.id).collect();
    assert_eq!(
        revoked, expected,
        "a standing plan does not hold enforcement back"
    );
    let by_token = states_by_token(&app).await;
    for id in &expected {
        assert_eq!(
            by_token[id],
            ["planned", "withdrawn", "pending", "done"],
            "{id}"
        );
        assert_eq!(log_states(&app, id).await, ["withdrawn", "done"]);
    }
    let closing: Vec<_> = rows(&app)
        .await
        .into_iter()
        .filter(|r| r.state == "withdrawn")
        .collect();
    assert!(closing.iter().all(|r| r.mode == "dry-run"
        && r.error.as_deref()
            == Some("the sweep enforces: the revocation is an intent of its own")));

    let settled = rows(&app).await.len();
    app.sweep(Mode::Enforce).await;
    assert_eq!(rows(&app).await.len(), settled, "nothing left to record");
    verifies(&app).await;
}

#[tokio::test]
async fn a_plan_larger_than_a_chunk_of_appends_is_recorded_once_and_withdrawn_once() {
    let sim = revokd::sim::SimConfig {
        users: 16,
        clients: 2,
        pairs: 16,
        big_pairs: 16,
        ..small_org()
    };
    let every = PolicyConfig {
        name: "every-token".into(),
        older_than: Some(Duration::from_secs(1)),
        ..PolicyConfig::default()
    };
    let mut app = spawn_app_with(sim, |c| {
        c.policies = vec![every];
        c.safety.max_revocations_per_sweep = u64::MAX;
        c.safety.max_revocation_fraction = 1.0;
    })
    .await;
    let first = app.sweep(Mode::DryRun).await;
    let planned = first.counts.revocations_planned;
    assert!(planned > 4_096, "the plan spans several chunks: {planned}");
    assert_eq!(rows(&app).await.len() as u64, planned);
    app.sweep(Mode::DryRun).await;
    assert_eq!(rows(&app).await.len() as u64, planned, "nothing appended");

    app.reconfigure(&[admin_policy()], &[]);
    let after = app.sweep(Mode::DryRun).await;
    let rows = rows(&app).await;
    let withdrawn = rows.iter().filter(|r| r.state == "withdrawn").count() as u64;
    assert_eq!(withdrawn, planned, "every record closed once");
    let expected = 2 * planned + after.counts.revocations_planned;
    assert_eq!(rows.len() as u64, expected);
    for states in states_by_token(&app).await.values() {
        assert!(states.len() <= 3, "{states:?}");
    }
    verifies(&app).await;
}

/// A sweep whose rules for a token changed, stopped by a failed write after its first
/// chunk of records, leaves at most one standing plan per token: the old one withdrawn, or
/// the new one recorded, never both standing.
#[tokio::test]
async fn a_sweep_stopped_between_its_withdrawals_and_its_new_plans_never_leaves_two_standing() {
    use revokd::store::RevocationState;
    use revokd::sweep::run_once;

    let mut app = spawn_app_with(small_org(), |c| c.policies = vec![admin_policy()]).await;
    let selected = admin_policy_selects(&app.org, app.now);
    assert!(!selected.is_empty());
    app.sweep(Mode::DryRun).await;
    // The same tokens, now under a rule of another name.
    let renamed = PolicyConfig {
        name: "admin-renamed".into(),
        ..admin_policy()
    };
    app.reconfigure(&[renamed], &[]);
    // Every `withdrawn` row the second sweep appends fails, as a full disk would.
    sqlx::query(
        "CREATE TRIGGER refuse_withdrawals BEFORE INSERT ON revocations
         WHEN NEW.state = 'withdrawn' BEGIN SELECT RAISE(ABORT, 'disk full'); END",
    )
    .execute(app.store.pool())
    .await
    .expect("trigger");
    let _stopped = run_once(&app.deps, &app.plan(Mode::DryRun), app.now).await;
    let standing = app
        .store
        .standing_records(RevocationState::Planned)
        .await
        .expect("standing");
    for t in &selected {
        let n = standing.iter().filter(|s| s.token_id == t.id).count();
        assert!(n <= 1, "{} has {n} standing plans", t.id);
    }
}
