//! Client ids as Okta allows them (alphanumerics and `$-_.+!*'(),`): each goes out as exactly
//! one path segment that the simulated org decodes back unchanged, through discovery, paged
//! listing and revocation. A client id Okta lists that revokd refuses (a `/`, a space) fails
//! the sweep's target and the offboarding job, visibly, instead of being passed over.

use percent_encoding::percent_decode_str;
use revokd::config::{Mode, PolicyConfig};
use revokd::okta::UserId;
use revokd::sim::{RevokeHow, RouteKind, SimOrg, SimToken};
use revokd::sweep::WideTargets;
use sqlx::SqlitePool;

use crate::apps::sweep;
use crate::helpers::{
    TestApp, all_output, run_revokd, sim_config, sim_ids, small_org, spawn_app_with,
};

/// A client id holding every special character the contract allows.
const ODD: &str = "app+prod$(1)!*',x";

/// An app whose policy revokes every token of [`ODD`], listing two tokens a page.
async fn spawn() -> TestApp {
    spawn_app_with(small_org(), |c| {
        c.okta.page_size = 2;
        c.safety.max_revocation_fraction = 1.0;
        c.policies = vec![PolicyConfig {
            name: "odd-app".into(),
            clients: vec![ODD.into()],
            ..PolicyConfig::default()
        }];
    })
    .await
}

/// Client ids Okta could list but revokd refuses: they would leave their path segment.
const REFUSED: [&str; 2] = ["bad/client", "bad client"];

/// Gives a user who holds no big pair three tokens of each of `clients` (so each listing
/// takes two pages); returns the user.
fn seed_clients(org: &SimOrg, clients: &[&str]) -> String {
    let pairs = org.pairs();
    let small = |u: &String| {
        pairs
            .iter()
            .filter(|(pu, _)| pu == u)
            .all(|(pu, c)| org.tokens(pu, c).len() <= 3)
    };
    let template = org
        .all_tokens()
        .into_iter()
        .find(|t| small(&t.user_id))
        .expect("a token of a user without a big pair");
    for client in clients {
        for n in 0..3 {
            org.add_token(SimToken {
                id: format!("oarodd{n}"),
                client_id: (*client).to_owned(),
                ..template.clone()
            });
        }
    }
    template.user_id
}

/// The user as a whole-user target: every client Okta lists for it.
fn whole_user(user: &str) -> WideTargets {
    WideTargets {
        apps: Vec::new(),
        users: vec![UserId::new(user).expect("user id")],
    }
}

/// The client segment of every request of `route`, decoded, checking that the path has
/// `segments` segments in all.
fn client_segments(app: &TestApp, route: RouteKind, segments: usize) -> Vec<String> {
    app.org
        .requests()
        .into_iter()
        .filter(|r| r.route == route)
        .map(|r| {
            let path = r.path_and_query.split('?').next().unwrap_or_default();
            let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
            assert_eq!(segs.len(), segments, "{path}");
            percent_decode_str(segs[5]).decode_utf8_lossy().into_owned()
        })
        .collect()
}

#[tokio::test]
async fn a_client_id_with_every_allowed_special_character_is_listed_and_revoked_as_one_segment() {
    let app = spawn().await;
    let user = seed_clients(&app.org, &[ODD]);
    let held = sim_ids(&app.org.tokens(&user, ODD));
    assert_eq!(held.len(), 3);
    let wide = whole_user(&user);

    let dry = sweep(&app, Mode::DryRun, Vec::new(), wide.clone()).await;
    assert!(dry.failures.is_empty(), "{:?}", dry.failures);
    assert_eq!(app.stored_ids(&user, ODD).await, held);
    let listed = client_segments(&app, RouteKind::ListTokens, 7);
    assert_eq!(listed.iter().filter(|c| *c == ODD).count(), 2, "{listed:?}");

    let enforced = sweep(&app, Mode::Enforce, Vec::new(), wide).await;
    assert!(enforced.failures.is_empty(), "{:?}", enforced.failures);
    assert_eq!(enforced.counts.revocations_done, 3);
    assert!(app.org.tokens(&user, ODD).is_empty());
    let revoked: Vec<(String, String, RevokeHow)> = app
        .org
        .revoked()
        .into_iter()
        .map(|r| (r.token.id, r.token.client_id, r.how))
        .collect();
    for id in &held {
        assert!(
            revoked.contains(&(id.clone(), ODD.to_owned(), RevokeHow::Single)),
            "{id} not revoked: {revoked:?}"
        );
    }
    let deleted = client_segments(&app, RouteKind::RevokeToken, 8);
    assert_eq!(deleted, vec![ODD; 3]);
}

#[tokio::test]
async fn a_client_id_okta_lists_but_revokd_refuses_fails_that_target_of_the_sweep() {
    let app = spawn().await;
    let user = seed_clients(&app.org, &REFUSED);
    let others: Vec<String> = app
        .org
        .pairs()
        .into_iter()
        .filter(|(u, c)| u == &user && !REFUSED.contains(&c.as_str()))
        .map(|(_, c)| c)
        .collect();

    let report = sweep(&app, Mode::Enforce, Vec::new(), whole_user(&user)).await;

    let mut failed: Vec<(&str, &str)> = report
        .failures
        .iter()
        .map(|f| (f.user_id.as_str(), f.client_id.as_str()))
        .collect();
    failed.sort_unstable();
    assert_eq!(
        failed,
        vec![(user.as_str(), "bad client"), (user.as_str(), "bad/client")]
    );
    assert!(
        report.failures.iter().all(|f| f.error.contains("refused")),
        "{:?}",
        report.failures
    );
    assert_eq!(report.counts.targets_failed, 2);
    assert_eq!(report.counts.targets_total, others.len() as u64 + 2);
    assert!(!report.is_clean());
    let (status, _) = app.sweep_row(report.sweep_id).await;
    assert_eq!(status, "partial");
    let live = app.deps.progress.snapshot();
    assert_eq!(live.targets_done, live.targets_total);
    for client in REFUSED {
        assert_eq!(app.org.tokens(&user, client).len(), 3, "{client}");
    }
    for client in &others {
        assert_eq!(
            app.stored_ids(&user, client).await,
            sim_ids(&app.org.tokens(&user, client)),
            "{client}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_offboarding_whose_user_holds_a_refused_client_id_is_not_reported_complete() {
    let org = SimOrg::start(small_org()).await.expect("org starts");
    let user = seed_clients(&org, &REFUSED[..1]);
    let others: Vec<String> = org
        .pairs()
        .into_iter()
        .filter(|(u, c)| u == &user && c != REFUSED[0] && !org.tokens(u, c).is_empty())
        .map(|(_, c)| c)
        .collect();
    assert!(!others.is_empty());
    let dir = tempfile::tempdir().expect("temp dir");
    let (config, db) = sim_config(&org, dir.path(), &[], "");

    let out = run_revokd(&["--config", &config, "offboard", "--user", &user], &[]).await;

    assert_eq!(out.status.code(), Some(3), "{}", all_output(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("bad/client"), "{stdout}");
    assert!(!stdout.contains("result: ok"), "{stdout}");
    let pool = SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .expect("the database opens");
    let (state, error): (String, Option<String>) =
        sqlx::query_as("SELECT state, error FROM offboarding_jobs WHERE user_id = ?")
            .bind(&user)
            .fetch_one(&pool)
            .await
            .expect("the job row");
    assert_eq!(state, "failed");
    assert!(error.unwrap_or_default().contains("bad/client"));
    assert_eq!(org.tokens(&user, REFUSED[0]).len(), 3);
    for client in &others {
        assert!(org.tokens(&user, client).is_empty(), "{client} kept tokens");
    }
}
