//! Crash safety of the real binary: `revokd sweep --enforce` is SIGKILLed at many points —
//! during a listing, between a revocation's intent and its DELETE, after the DELETE but before
//! the outcome is recorded, during verification — and restarted each time. In the end every
//! token the policy selects is revoked exactly once in the simulated org, each has exactly one
//! terminal audit state, nothing else was revoked, `revokd audit verify` passes, and SQLite's
//! integrity check is clean.

use std::collections::{BTreeMap, BTreeSet};

use chrono::Utc;
use revokd::sim::{Fault, FaultKind, RequestRecord, RouteKind, SimConfig, SimOrg};

use crate::helpers::{
    SIM_TOKEN, admin_policy_selects, all_output, run_revokd, small_org, write_config,
};

const POLICY: &str = "[safety]\nmax_revocation_fraction = 1.0\n\
    [[policies]]\nname = \"old-admin\"\nolder_than = \"180d\"\nscopes_any = [\"admin:write\"]\n";

/// Runs `revokd sweep --enforce` with `concurrency` until the org parks a request (then
/// SIGKILLs it) or it exits. Returns whether it was killed.
async fn run_until_hung(org: &SimOrg, config: &str, concurrency: &str) -> bool {
    let hung_before = org.hung();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_revokd"))
        .args(["--config", config, "sweep", "--enforce"])
        .env_clear()
        .envs(crate::clock_env::clock_env())
        .env("REVOKD_OKTA__CONCURRENCY", concurrency)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("revokd starts");
    let killed = tokio::select! {
        () = org.until_hung(hung_before + 1) => {
            child.start_kill().expect("SIGKILL");
            true
        }
        status = child.wait() => {
            status.expect("revokd ran");
            false
        }
    };
    child.wait().await.expect("reaped");
    killed
}

#[tokio::test(flavor = "multi_thread")]
async fn killing_the_binary_anywhere_loses_nothing_and_revokes_nothing_twice() {
    let org = SimOrg::start(SimConfig {
        users: 10,
        clients: 5,
        pairs: 40,
        big_pairs: 2,
        ..small_org()
    })
    .await
    .expect("sim");
    let expected: BTreeSet<String> = admin_policy_selects(&org, Utc::now())
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert!(
        expected.len() >= 6,
        "the seed selects enough tokens: {}",
        expected.len()
    );
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("revokd.db");
    let auth = format!("api_token = \"{SIM_TOKEN}\"");
    let config = write_config(
        dir.path(),
        org.base_url().as_str(),
        &auth,
        &db,
        &org.pairs(),
        POLICY,
    );
    let config = config.to_str().expect("utf-8 path").to_owned();

    // Pairs holding selected tokens, in the order the sweep revokes them (config order, one
    // revocation at a time): each crash point strikes the next pair still holding some.
    let holders: BTreeSet<(String, String)> = admin_policy_selects(&org, Utc::now())
        .into_iter()
        .map(|t| (t.user_id, t.client_id))
        .collect();
    let mut victims = org.pairs().into_iter().filter(|p| holders.contains(p));
    let mut next = || victims.next().expect("enough pairs hold selected tokens");
    let big = org
        .pairs()
        .into_iter()
        .max_by_key(|(u, c)| org.tokens(u, c).len())
        .expect("pairs");
    let points = [
        (FaultKind::HangBefore(RouteKind::ListTokens), big.clone()),
        (FaultKind::HangBefore(RouteKind::RevokeToken), next()),
        (FaultKind::HangAfter(RouteKind::RevokeToken), next()),
        (FaultKind::HangBefore(RouteKind::GetToken), next()),
        (FaultKind::HangAfter(RouteKind::ListTokens), big),
        (FaultKind::HangAfter(RouteKind::RevokeToken), next()),
    ];
    for (kind, (user, client)) in points {
        let point = format!("{kind:?} on {user}:{client}");
        org.inject(Fault {
            user: Some(user),
            client: Some(client),
            kind,
            times: Some(1),
        });
        let reached = run_until_hung(&org, &config, "1").await;
        assert!(
            reached,
            "the crash point was reached: {point}; requests: {:#?}",
            org.requests()
                .iter()
                .rev()
                .take(12)
                .map(|r| (r.method.clone(), r.path_and_query.clone(), r.status))
                .collect::<Vec<_>>()
        );
        org.clear_faults();
    }
    // And once with revocations in flight side by side, wherever the kill lands.
    org.inject(Fault {
        user: None,
        client: None,
        kind: FaultKind::HangAfter(RouteKind::RevokeToken),
        times: Some(1),
    });
    run_until_hung(&org, &config, "8").await;
    org.clear_faults();

    let last = run_revokd(&["--config", &config, "sweep", "--enforce"], &[]).await;
    assert_eq!(last.status.code(), Some(0), "{}", all_output(&last));

    let revoked: BTreeSet<String> = org.revoked().into_iter().map(|r| r.token.id).collect();
    assert_eq!(revoked, expected, "exactly the selected tokens are revoked");
    let log = org.requests();
    assert!(
        log.iter().all(|r| r.route != RouteKind::RevokeAll),
        "no pair was revoked wholesale"
    );
    let mut deletes: BTreeMap<String, Vec<&RequestRecord>> = BTreeMap::new();
    for r in log.iter().filter(|r| r.route == RouteKind::RevokeToken) {
        deletes
            .entry(r.token_id.clone().unwrap_or_default())
            .or_default()
            .push(r);
    }
    assert!(
        deletes.keys().all(|t| expected.contains(t)),
        "DELETEs only for selected tokens: {:?}",
        deletes.keys().collect::<Vec<_>>()
    );
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .expect("db");
    let rows: Vec<(Option<String>, String)> =
        sqlx::query_as("SELECT token_id, state FROM revocations ORDER BY id")
            .fetch_all(&pool)
            .await
            .expect("audit");
    let mut terminal: BTreeMap<String, usize> = BTreeMap::new();
    for (token, state) in &rows {
        if matches!(state.as_str(), "done" | "already_gone") {
            *terminal
                .entry(token.clone().unwrap_or_default())
                .or_default() += 1;
        }
    }
    for token in &expected {
        assert_eq!(
            terminal.get(token),
            Some(&1),
            "one terminal state for {token}"
        );
    }
    assert_deletes_are_explained(&pool, &deletes).await;
    let open: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM v_revocation_state WHERE state IN ('pending', 'failed', 'irrevocable')")
        .fetch_one(&pool)
        .await
        .expect("open intents");
    assert_eq!(open, 0, "nothing left pending or failed");
    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&pool)
        .await
        .expect("integrity");
    assert_eq!(integrity, "ok");
    pool.close().await;

    let verify = run_revokd(&["--config", &config, "audit", "verify"], &[]).await;
    assert_eq!(verify.status.code(), Some(0), "{}", all_output(&verify));
    let aborted = run_revokd(
        &["--config", &config, "report", "sweeps", "--format", "csv"],
        &[],
    )
    .await;
    assert!(
        all_output(&aborted).contains("aborted"),
        "killed sweeps are closed as aborted"
    );
}

/// Every DELETE the org received for a token after its first must be a retry the audit trail
/// (or the retry protocol) accounts for: an intent whose sweep was aborted before any outcome
/// of it was recorded (the DELETE's fate was unknown, so reconciliation asked Okta and sent it
/// again if the token was still there), a recorded `failed` attempt, or an HTTP-level retry
/// naming an earlier DELETE of the same token in `X-Okta-Retry-For`. And at most one DELETE
/// per token was accepted (204, answered or not).
async fn assert_deletes_are_explained(
    pool: &sqlx::SqlitePool,
    deletes: &BTreeMap<String, Vec<&RequestRecord>>,
) {
    let interrupted: Vec<(String, i64)> = sqlx::query_as(
        "SELECT i.token_id, COUNT(*) FROM revocations i JOIN sweeps s ON s.id = i.sweep_id \
         WHERE i.intent_id IS NULL AND i.state = 'pending' AND s.status = 'aborted' \
           AND NOT EXISTS (SELECT 1 FROM revocations o \
                           WHERE o.intent_id = i.id AND o.completed_at < s.finished_at) \
         GROUP BY i.token_id",
    )
    .fetch_all(pool)
    .await
    .expect("interrupted intents");
    let failed: Vec<(String, i64)> = sqlx::query_as(
        "SELECT token_id, COUNT(*) FROM revocations WHERE state = 'failed' GROUP BY token_id",
    )
    .fetch_all(pool)
    .await
    .expect("failed attempts");
    let interrupted: BTreeMap<String, i64> = interrupted.into_iter().collect();
    let failed: BTreeMap<String, i64> = failed.into_iter().collect();
    for (token, received) in deletes {
        let accepted = received.iter().filter(|r| r.status == 204).count();
        assert!(
            accepted <= 1,
            "{token} received {accepted} DELETEs that Okta accepted"
        );
        let ids: BTreeSet<&str> = received.iter().map(|r| r.request_id.as_str()).collect();
        let protocol_retries = received
            .iter()
            .filter(|r| r.retry_for.as_deref().is_some_and(|f| ids.contains(f)))
            .count();
        let explained = interrupted.get(token).copied().unwrap_or(0)
            + failed.get(token).copied().unwrap_or(0)
            + i64::try_from(protocol_retries).expect("small");
        let extra = i64::try_from(received.len()).expect("small") - 1;
        assert!(
            extra <= explained,
            "{token} received {} DELETEs; the audit trail explains {explained} retries: {:#?}",
            received.len(),
            received
                .iter()
                .map(|r| (r.status, r.answered, &r.request_id, &r.retry_for))
                .collect::<Vec<_>>()
        );
    }
}
