//! A 5xx does not say a change did not happen: Okta may revoke and still answer 500 or 503.
//! The sim can play that (`FaultKind::AppliedThenStatus`), and revokd counts each such
//! revocation done once Okta no longer has the token, never failed nor irrevocable, on a
//! sweep and on an offboarding alike.

use revokd::config::Mode;
use revokd::sim::{Fault, FaultKind};
use revokd::store::RevocationState;

use crate::helpers::{admin_policy, admin_policy_selects, small_org, spawn_app_with};

#[tokio::test(flavor = "multi_thread")]
async fn revocations_that_took_effect_behind_a_5xx_are_recorded_done() {
    for status in [500, 503] {
        let app = spawn_app_with(small_org(), |c| c.policies = vec![admin_policy()]).await;
        let selected = admin_policy_selects(&app.org, app.now);
        let pair = (selected[0].user_id.clone(), selected[0].client_id.clone());
        let hit: Vec<_> = (selected.iter())
            .filter(|t| (&t.user_id, &t.client_id) == (&pair.0, &pair.1))
            .collect();
        // Every DELETE of the pair takes effect and is answered `status`, retries included.
        app.org.inject(Fault {
            user: Some(pair.0.clone()),
            client: Some(pair.1.clone()),
            ..Fault::always(FaultKind::AppliedThenStatus(status))
        });

        let report = app.sweep(Mode::Enforce).await;

        let held: Vec<String> = app.org.all_tokens().into_iter().map(|t| t.id).collect();
        assert!(
            selected.iter().all(|t| !held.contains(&t.id)),
            "all revoked"
        );
        let rows = app.store.revocations().await.expect("audit rows");
        let failed: Vec<_> = rows.iter().filter(|r| r.state == "failed").collect();
        assert_eq!(report.counts.revocations_failed, 0, "{status}: {failed:#?}");
        for t in hit {
            let last = (rows.iter())
                .rfind(|r| r.token_id.as_deref() == Some(t.id.as_str()))
                .expect("an intent of the token");
            assert_eq!(last.state, RevocationState::Done.as_str(), "{last:?}");
            let note = last.error.as_deref().unwrap_or_default();
            assert!(note.starts_with("the attempt took effect"), "{note}");
            assert_eq!(last.http_status, Some(i64::from(status)), "{last:?}");
            assert!(last.okta_request_id.is_some(), "{last:?}");
            assert!(last.verified_at.is_some(), "{last:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_offboarding_whose_revocations_took_effect_behind_a_500_ends_verified() {
    let app = spawn_app_with(small_org(), |c| c.policies = vec![admin_policy()]).await;
    let (user, _) = (app.org.pairs().into_iter())
        .find(|(u, c)| !app.org.tokens(u, c).is_empty())
        .expect("a pair with tokens");
    app.org.inject(Fault {
        user: Some(user.clone()),
        times: Some(1),
        ..Fault::always(FaultKind::AppliedThenStatus(500))
    });

    let (_, report) = app.offboard(&user).await;

    assert!(report.succeeded(), "{report:?}");
    let left: usize = (app.org.pairs().iter())
        .filter(|(u, _)| *u == user)
        .map(|(u, c)| app.org.tokens(u, c).len())
        .sum();
    assert_eq!(left, 0);
}
