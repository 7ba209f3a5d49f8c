//! A user's clients (`GET /api/v1/users/{id}/clients`), which offboarding and `user` targets
//! start from: Okta documents one array, but if it paged the list like its others, every page
//! is followed (a client on a later page would otherwise keep a departed user's tokens).

use revokd::config::Mode;
use revokd::okta::UserId;
use revokd::sim::{RouteKind, SimConfig};
use revokd::sweep::WideTargets;

use crate::helpers::{TestApp, sim_ids, small_org, spawn_app_with};

/// Three users, each holding tokens for all four clients; the org pages a user's clients
/// `page` at a time (`None`: one array, as documented).
async fn app(page: Option<usize>) -> TestApp {
    let sim = SimConfig {
        users: 3,
        clients: 4,
        pairs: 12,
        big_pairs: 0,
        user_clients_page: page,
        ..small_org()
    };
    spawn_app_with(sim, |c| c.safety.max_revocation_fraction = 1.0).await
}

fn clients_of(app: &TestApp, user: &str) -> Vec<String> {
    (app.org.pairs().into_iter())
        .filter(|(u, _)| u == user)
        .map(|(_, c)| c)
        .collect()
}

#[tokio::test]
async fn an_offboarding_follows_every_page_of_the_users_clients() {
    for page in [None, Some(1), Some(3)] {
        let app = app(page).await;
        let user = app.org.pairs()[0].0.clone();
        let clients = clients_of(&app, &user);
        assert_eq!(clients.len(), 4);
        let held = (app.org.all_tokens().iter())
            .filter(|t| t.user_id == user)
            .count();
        let (_, report) = app.offboard(&user).await;
        assert!(report.succeeded(), "{page:?}: {:?}", report.error());
        assert_eq!(report.clients.len(), 4, "{page:?}");
        assert_eq!(report.tokens() as usize, held, "{page:?}");
        assert!(
            app.org.all_tokens().iter().all(|t| t.user_id != user),
            "{page:?}: every token of the user is revoked"
        );
        let pages = page.map_or(1, |n| 4_usize.div_ceil(n));
        let asked = app.org.stats().route(RouteKind::ListClients);
        assert_eq!(asked, pages as u64, "{page:?}");
    }
}

#[tokio::test]
async fn a_user_target_lists_every_client_on_every_page() {
    for page in [None, Some(1)] {
        let app = app(page).await;
        let user = app.org.pairs()[1].0.clone();
        let wide = WideTargets {
            apps: Vec::new(),
            users: vec![UserId::new(user.clone()).unwrap()],
        };
        let report = crate::apps::sweep(&app, Mode::DryRun, Vec::new(), wide).await;
        let clients = clients_of(&app, &user);
        assert_eq!(
            report.counts.targets_total,
            clients.len() as u64,
            "{page:?}"
        );
        for c in &clients {
            let stored = app.stored_ids(&user, c).await;
            assert_eq!(stored, sim_ids(&app.org.tokens(&user, c)), "{page:?} {c}");
        }
    }
}
