//! The gate's decisions against a real database, and the structural rule that nothing but the
//! gate issues a [`Cleared`] request.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use super::{Asker, Gate, Kept, TokenRequest, Verdict};
use crate::config::{ExemptionConfig, PolicyConfig};
use crate::policy::PolicySet;
use crate::store::{self, Store};

pub(super) const USER: &str = "00u1";
pub(super) const CLIENT: &str = "0oa1";

/// A gate with one rule (tokens older than 30 days) and `exemptions`, over a store that knows
/// token `oarOld` (created a year ago) and `oarNew` (created now).
pub(super) async fn gate(pool: sqlx::SqlitePool, exemptions: Vec<ExemptionConfig>) -> Gate {
    let store = Store::from_pool(pool).await.unwrap();
    let year_ago = store::ts(Utc::now() - chrono::Duration::days(365));
    let now = store::ts(Utc::now());
    for (token, created) in [("oarOld", &year_ago), ("oarNew", &now)] {
        sqlx::query(
            "INSERT INTO tokens (token_id, user_id, client_id, status, created_at, first_seen_at, last_seen_at)
             VALUES (?, ?, ?, 'ACTIVE', ?, ?, ?)",
        )
        .bind(token)
        .bind(USER)
        .bind(CLIENT)
        .bind(created)
        .bind(&now)
        .bind(&now)
        .execute(store.pool())
        .await
        .unwrap();
    }
    let policies = PolicySet::from_config(&rules(), &exemptions).unwrap();
    Gate::new(store, Arc::new(policies), Duration::ZERO)
}

pub(super) fn rules() -> [PolicyConfig; 1] {
    [PolicyConfig {
        name: "older-than-30d".into(),
        older_than: Some(Duration::from_secs(30 * 86_400)),
        ..PolicyConfig::default()
    }]
}

pub(super) fn request(token: &str, asker: Asker) -> TokenRequest<'_> {
    TokenRequest {
        token_id: token,
        user_id: USER,
        client_id: CLIENT,
        asker,
    }
}

pub(super) fn withdrawn(v: &Verdict) -> &str {
    match v {
        Verdict::Withdrawn(why) => why,
        other => panic!("not withdrawn: {other:?}"),
    }
}

#[sqlx::test(migrations = "./migrations")]
async fn nothing_is_cleared_without_the_enforcer_lease(pool: sqlx::SqlitePool) {
    let gate = gate(pool, vec![]).await;
    let refused = gate
        .check_token(request("oarOld", Asker::Policy), Utc::now())
        .await;
    assert!(
        matches!(refused, Err(store::Error::LeaseNotHeld)),
        "{refused:?}"
    );
    let pair = gate.check_pair(USER, CLIENT, &["oarOld".into()]).await;
    assert!(matches!(pair, Err(store::Error::LeaseNotHeld)));
    let lease = gate.hold("test").await.unwrap();
    let verdict = gate
        .check_token(request("oarOld", Asker::Policy), Utc::now())
        .await
        .unwrap();
    assert!(matches!(verdict, Verdict::Cleared(_)));
    lease.release().await;
    assert!(
        gate.check_token(request("oarOld", Asker::Policy), Utc::now())
            .await
            .is_err()
    );
}

#[sqlx::test(migrations = "./migrations")]
async fn ids_okta_could_not_have_sent_are_refused(pool: sqlx::SqlitePool) {
    let gate = gate(pool, vec![]).await;
    let _lease = gate.hold("test").await.unwrap();
    for bad in ["..", ".", "%2e%2e", "a/b"] {
        for asker in [Asker::Policy, Asker::Offboard] {
            let v = gate
                .check_token(request(bad, asker), Utc::now())
                .await
                .unwrap();
            assert!(
                withdrawn(&v).starts_with("refused: invalid token id"),
                "{bad}: {v:?}"
            );
        }
    }
    let plan = gate
        .check_pair(USER, CLIENT, &["..".into(), "oarOld".into()])
        .await
        .unwrap();
    assert_eq!(
        plan.whole_pair, None,
        "a pair with a refused id is never revoked whole"
    );
    assert!(
        matches!(&plan.tokens[0].1, Err(Kept::Refused(why)) if why.starts_with("refused")),
        "{:?}",
        plan.tokens[0]
    );
    let Ok(c) = &plan.tokens[1].1 else {
        panic!("{:?}", plan.tokens[1])
    };
    assert_eq!(c.token().map(|t| t.as_str()), Some("oarOld"));
}

#[sqlx::test(migrations = "./migrations")]
async fn a_policy_revocation_is_decided_again_now(pool: sqlx::SqlitePool) {
    let gate = gate(pool, vec![]).await;
    let _lease = gate.hold("test").await.unwrap();
    let now = Utc::now();
    assert!(matches!(
        gate.check_token(request("oarOld", Asker::Policy), now)
            .await
            .unwrap(),
        Verdict::Cleared(_)
    ));
    let v = gate
        .check_token(request("oarNew", Asker::Policy), now)
        .await
        .unwrap();
    assert_eq!(withdrawn(&v), "no policy selects it any more");
    let v = gate
        .check_token(request("oarUnknown", Asker::Policy), now)
        .await
        .unwrap();
    assert!(withdrawn(&v).contains("not in the database"));
    // Offboarding does not ask the policies: a new token is revoked all the same.
    assert!(matches!(
        gate.check_token(request("oarNew", Asker::Offboard), now)
            .await
            .unwrap(),
        Verdict::Cleared(_)
    ));
}

#[sqlx::test(migrations = "./migrations")]
async fn exemptions_win_for_every_asker_and_for_revoke_all(pool: sqlx::SqlitePool) {
    let by_user = ExemptionConfig {
        name: Some("break-glass".into()),
        users: vec![USER.into()],
        ..ExemptionConfig::default()
    };
    let gate = gate(pool, vec![by_user]).await;
    let _lease = gate.hold("test").await.unwrap();
    for asker in [Asker::Policy, Asker::Offboard, Asker::Manual] {
        let v = gate
            .check_token(request("oarOld", asker), Utc::now())
            .await
            .unwrap();
        assert!(withdrawn(&v).contains("break-glass"), "{asker:?}: {v:?}");
    }
    assert_pair_kept(
        &gate,
        |k| matches!(k, Kept::Exempt(why) if why.contains("break-glass")),
    )
    .await;
}

/// Checks an offboarding of the pair holding `oarOld` and `oarNew`: not revoked whole, and
/// each token kept as `kept` says.
pub(super) async fn assert_pair_kept(gate: &Gate, kept: impl Fn(&Kept) -> bool) {
    let plan = gate
        .check_pair(USER, CLIENT, &["oarOld".into(), "oarNew".into()])
        .await
        .unwrap();
    assert_eq!(plan.whole_pair, None);
    assert!(
        plan.tokens
            .iter()
            .all(|(_, v)| v.as_ref().err().is_some_and(&kept)),
        "{:?}",
        plan.tokens
    );
}

#[sqlx::test(migrations = "./migrations")]
async fn a_token_exemption_turns_revoke_all_into_one_by_one(pool: sqlx::SqlitePool) {
    let by_token = ExemptionConfig {
        tokens: vec!["oarKeep".into()],
        ..ExemptionConfig::default()
    };
    let gate = gate(pool.clone(), vec![by_token]).await;
    let lease = gate.hold("test").await.unwrap();
    let plan = gate
        .check_pair(USER, CLIENT, &["oarOld".into(), "oarKeep".into()])
        .await
        .unwrap();
    assert_eq!(plan.whole_pair, None);
    assert!(plan.tokens[0].1.is_ok());
    assert!(
        matches!(&plan.tokens[1].1, Err(Kept::Exempt(why)) if why.contains("oarKeep")),
        "{:?}",
        plan.tokens[1]
    );
    // The same pair with no exemption of any token may be revoked whole (another gate is
    // another lease owner: the first one gives the lease up).
    lease.release().await;
    let open = Gate::new(
        gate.store.clone(),
        Arc::new(PolicySet::from_config(&[], &[]).unwrap()),
        Duration::ZERO,
    );
    let _lease = open.hold("test").await.unwrap();
    let plan = open
        .check_pair(USER, CLIENT, &["oarOld".into()])
        .await
        .unwrap();
    let whole = plan.whole_pair.expect("revoke-all");
    assert_eq!(whole.token(), None);
}

/// Walks `src/`: `Cleared::by_gate` is called only in the gate (and in test modules, which do
/// not ship), so every DELETE revokd can send has passed the gate.
#[test]
fn only_the_gate_issues_cleared_requests() {
    fn walk(dir: &std::path::Path, found: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, found);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let shown = path.display().to_string();
            let allowed = shown.contains("/src/gate/")
                || name.starts_with("tests")
                || shown.ends_with("/src/okta/revoke.rs");
            if text.contains(&["by", "_gate("].concat()) && !allowed {
                found.push(shown);
            }
        }
    }
    let mut found = Vec::new();
    walk(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut found,
    );
    assert!(
        found.is_empty(),
        "Cleared issued outside the revocation gate: {found:?}"
    );
}

#[sqlx::test(migrations = "./migrations")]
async fn two_gates_in_one_process_never_hold_the_lease_together(pool: sqlx::SqlitePool) {
    let first = gate(pool, vec![]).await;
    let second = Gate::new(
        first.store.clone(),
        Arc::new(PolicySet::from_config(&[], &[]).unwrap()),
        Duration::ZERO,
    );
    let held = first.hold("a sweep before a reload").await.unwrap();
    let busy = second.hold("a job after the reload").await;
    assert!(
        matches!(busy, Err(store::Error::EnforcerBusy(_))),
        "{busy:?}"
    );
    held.release().await;
    let taken = second.hold("a job after the reload").await.unwrap();
    assert!(
        first
            .check_token(request("oarOld", Asker::Policy), Utc::now())
            .await
            .is_err()
    );
    taken.release().await;
}

#[sqlx::test(migrations = "./migrations")]
async fn a_configuration_put_in_force_applies_to_runs_already_going(pool: sqlx::SqlitePool) {
    let in_force = gate(pool, vec![]).await;
    // A run took its clone of the gate before the reload.
    let running = in_force.clone();
    let _lease = running.hold("test").await.unwrap();
    let exempt = ExemptionConfig {
        name: Some("added-by-reload".into()),
        users: vec![USER.into()],
        ..ExemptionConfig::default()
    };
    in_force.put_in_force(Arc::new(
        PolicySet::from_config(&rules(), std::slice::from_ref(&exempt)).unwrap(),
    ));
    for asker in [Asker::Policy, Asker::Offboard] {
        let v = running
            .check_token(request("oarOld", asker), Utc::now())
            .await
            .unwrap();
        assert!(
            withdrawn(&v).contains("added-by-reload"),
            "{asker:?}: {v:?}"
        );
    }
    let plan = running
        .check_pair(USER, CLIENT, &["oarOld".into()])
        .await
        .unwrap();
    assert_eq!(plan.whole_pair, None);
    assert!(
        matches!(&plan.tokens[0].1, Err(Kept::Exempt(why)) if why.contains("added-by-reload")),
        "{:?}",
        plan.tokens[0]
    );
}

#[sqlx::test(migrations = "./migrations")]
async fn a_policy_revocation_of_a_token_found_gone_is_not_sent(pool: sqlx::SqlitePool) {
    let gate = gate(pool, vec![]).await;
    let _lease = gate.hold("test").await.unwrap();
    gate.store
        .mark_token_gone("oarOld", Utc::now())
        .await
        .unwrap();
    let v = gate
        .check_token(request("oarOld", Asker::Policy), Utc::now())
        .await
        .unwrap();
    let Verdict::Gone(note) = v else {
        panic!("{v:?}")
    };
    assert!(note.contains("no longer showed the token"), "{note}");
    // A token gone that no policy selects any more is withdrawn all the same.
    gate.store
        .mark_token_gone("oarNew", Utc::now())
        .await
        .unwrap();
    let v = gate
        .check_token(request("oarNew", Asker::Policy), Utc::now())
        .await
        .unwrap();
    assert_eq!(withdrawn(&v), "no policy selects it any more");
}
