//! The gate asked again right before each attempt of a DELETE: every kind of clearance,
//! after a reload of the policies, of the mode, and with the lease given up.

use std::sync::Arc;

use chrono::Utc;

use super::tests::{CLIENT, USER, assert_pair_kept, gate, request, rules, withdrawn};
use super::{Asker, Kept, Verdict};
use crate::config::ExemptionConfig;
use crate::okta::Unsent;
use crate::policy::PolicySet;

/// Every clearance is checked again before each attempt is sent: after a reload, and after
/// the lease is given up, the same clearances no longer let their DELETE through.
#[sqlx::test(migrations = "./migrations")]
async fn a_clearance_asked_again_answers_for_the_configuration_and_lease_of_that_moment(
    pool: sqlx::SqlitePool,
) {
    let gate = gate(pool, vec![]).await;
    let lease = gate.hold("test").await.unwrap();
    let mut cleared = Vec::new();
    for asker in [Asker::Policy, Asker::Offboard] {
        match gate
            .check_token(request("oarOld", asker), Utc::now())
            .await
            .unwrap()
        {
            Verdict::Cleared(c) => cleared.push(c),
            other => panic!("{asker:?}: {other:?}"),
        }
    }
    let plan = gate
        .check_pair(USER, CLIENT, &["oarOld".into(), "oarNew".into()])
        .await
        .unwrap();
    cleared.push(plan.whole_pair.expect("revoke-all"));
    for (_, v) in plan.tokens {
        let Ok(c) = v else { panic!("{v:?}") };
        cleared.push(c);
    }
    for c in &cleared {
        assert_eq!(c.recheck().await, Ok(()), "{c:?}");
    }

    // A token exemption: each token clearance of `oarOld` and the revoke-all stop; `oarNew`'s
    // own clearance still stands.
    let exempt = ExemptionConfig {
        name: Some("late".into()),
        tokens: vec!["oarOld".into()],
        ..ExemptionConfig::default()
    };
    gate.put_in_force(Arc::new(
        PolicySet::from_config(&rules(), std::slice::from_ref(&exempt)).unwrap(),
    ));
    for c in &cleared {
        let again = c.recheck().await;
        match c.token().map(|t| t.as_str()) {
            Some("oarNew") => assert_eq!(again, Ok(()), "{c:?}"),
            Some(_) => assert!(withdrawn_for(&again).contains("late"), "{again:?}"),
            None => assert!(withdrawn_for(&again).contains("no longer be revoked whole")),
        }
    }

    gate.put_in_force(Arc::new(PolicySet::from_config(&rules(), &[]).unwrap()));
    // A reload to dry-run: nothing is let through, whatever it is; back to enforce, it is.
    gate.put_mode_in_force(crate::config::Mode::DryRun);
    for c in &cleared {
        let again = c.recheck().await;
        assert!(
            withdrawn_for(&again).contains("dry-run now"),
            "{c:?}: {again:?}"
        );
    }
    let v = gate
        .check_token(request("oarNew", Asker::Offboard), Utc::now())
        .await
        .unwrap();
    assert!(withdrawn(&v).contains("dry-run now"));
    // An offboarding's pair: every token kept, refused (not exempt), none revoked whole.
    assert_pair_kept(
        &gate,
        |k| matches!(k, Kept::Refused(why) if why.contains("dry-run now")),
    )
    .await;
    gate.put_mode_in_force(crate::config::Mode::Enforce);
    assert_eq!(cleared[0].recheck().await, Ok(()));
    lease.release().await;
    for c in &cleared {
        let again = c.recheck().await;
        assert!(
            withdrawn_for(&again).contains("enforcer lease"),
            "{c:?}: {again:?}"
        );
    }
}

/// The reason of a recheck that withdrew the attempt (anything else fails the test).
fn withdrawn_for(again: &Result<(), Unsent>) -> &str {
    match again {
        Err(Unsent::Withdrawn(why)) => why,
        other => panic!("not withdrawn: {other:?}"),
    }
}
