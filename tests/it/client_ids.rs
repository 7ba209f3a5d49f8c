//! Client ids as Okta allows them (alphanumerics and `$-_.+!*'(),`): each goes out as exactly
//! one path segment that the simulated org decodes back unchanged, through discovery, paged
//! listing and revocation.

use percent_encoding::percent_decode_str;
use revokd::config::{Mode, PolicyConfig};
use revokd::okta::UserId;
use revokd::sim::{RevokeHow, RouteKind, SimToken};
use revokd::sweep::WideTargets;

use crate::apps::sweep;
use crate::helpers::{TestApp, sim_ids, small_org, spawn_app_with};

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

/// Gives a user who holds no big pair three tokens of `client` (so its listing takes two
/// pages); returns the user.
pub(crate) fn seed_client(app: &TestApp, client: &str) -> String {
    let pairs = app.org.pairs();
    let small = |u: &String| {
        pairs
            .iter()
            .filter(|(pu, _)| pu == u)
            .all(|(pu, c)| app.org.tokens(pu, c).len() <= 3)
    };
    let template = app
        .org
        .all_tokens()
        .into_iter()
        .find(|t| small(&t.user_id))
        .expect("a token of a user without a big pair");
    for n in 0..3 {
        app.org.add_token(SimToken {
            id: format!("oarodd{n}"),
            client_id: client.to_owned(),
            ..template.clone()
        });
    }
    template.user_id
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
    let user = seed_client(&app, ODD);
    let held = sim_ids(&app.org.tokens(&user, ODD));
    assert_eq!(held.len(), 3);
    let wide = WideTargets {
        apps: Vec::new(),
        users: vec![UserId::new(user.clone()).expect("user id")],
    };

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
