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
    app_of(SimConfig {
        user_clients_page: page,
        ..small_org()
    })
    .await
}

async fn app_of(sim: SimConfig) -> TestApp {
    let sim = SimConfig {
        users: 3,
        clients: 4,
        pairs: 12,
        big_pairs: 0,
        ..sim
    };
    spawn_app_with(sim, |c| c.safety.max_revocation_fraction = 1.0).await
}

/// An org that lists for a user only the clients they hold a token for, and a user of it
/// with a client whose every token another admin has revoked since a sweep stored them: Okta
/// no longer names that client for the user.
async fn a_client_left_behind() -> (TestApp, String, String) {
    let app = app_of(SimConfig {
        user_clients_held_only: true,
        ..small_org()
    })
    .await;
    app.sweep(Mode::DryRun).await;
    let (user, client) = (app.org.pairs().into_iter())
        .find(|(u, c)| !app.org.tokens(u, c).is_empty())
        .expect("a pair with tokens");
    for t in app.org.tokens(&user, &client) {
        assert!(app.org.revoke_out_of_band(&user, &client, &t.id));
    }
    (app, user, client)
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

#[tokio::test]
async fn a_user_targets_tokens_of_a_client_okta_no_longer_names_are_gone() {
    let (app, user, client) = a_client_left_behind().await;
    assert!(!app.stored_ids(&user, &client).await.is_empty());
    let wide = WideTargets {
        apps: Vec::new(),
        users: vec![UserId::new(user.clone()).expect("a user id")],
    };

    let report = crate::apps::sweep(&app, Mode::DryRun, Vec::new(), wide).await;

    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!(
        app.stored_ids(&user, &client).await,
        Default::default(),
        "Okta holds none of them: the stored pair is listed again and found empty"
    );
}

#[tokio::test]
async fn an_offboarding_lists_the_stored_clients_okta_no_longer_names() {
    let (app, user, client) = a_client_left_behind().await;

    let (_, report) = app.offboard(&user).await;

    assert!(report.succeeded(), "{:?}", report.error());
    assert!(
        report.clients.iter().any(|c| c.client_id == client),
        "the stored pair is offboarded too"
    );
    let active: Vec<String> =
        sqlx::query_scalar("SELECT token_id FROM v_active_tokens WHERE user_id = ?")
            .bind(&user)
            .fetch_all(app.store.pool())
            .await
            .expect("the view");
    assert_eq!(
        active,
        Vec::<String>::new(),
        "no token of the user is left active"
    );
}
