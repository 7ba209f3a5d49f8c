//! Whole apps and whole users as targets: app listings through ApplicationTokens (paged, in
//! their own bucket, no per-pair listing), users' clients discovered, a mix listing each pair
//! once, revocation by user and client through the gate, and gone after a complete listing.

use std::collections::BTreeSet;

use revokd::config::Mode;
use revokd::okta::{ClientId, UserId};
use revokd::sim::{RevokeHow, RouteKind, SimConfig, SimOrg};
use revokd::store::Trigger;
use revokd::sweep::{SweepPlan, SweepReport, Target, WideTargets, run_once};

use crate::helpers::{
    SIM_TOKEN, TestApp, admin_policy, admin_policy_selects, all_output, run_revokd, sim_ids,
    spawn_app_with, target,
};

/// 30 users × 3 clients, every pair seeded, two of them big: an app holds hundreds of tokens.
pub(crate) fn org() -> SimConfig {
    SimConfig {
        rate_limit_per_window: 60_000,
        apps_rate_limit_per_window: Some(20_000),
        seed: 11,
        users: 30,
        clients: 3,
        pairs: 90,
        big_pairs: 2,
        api_token: SIM_TOKEN.to_owned(),
        ..SimConfig::default()
    }
}

/// The app (client) with the most tokens, and its token count.
pub(crate) fn biggest_app(org: &SimOrg) -> (String, usize) {
    let mut by_app = std::collections::BTreeMap::<String, usize>::new();
    for t in org.all_tokens() {
        *by_app.entry(t.client_id).or_default() += 1;
    }
    by_app
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .expect("the org has tokens")
}

fn app_tokens(org: &SimOrg, app: &str) -> BTreeSet<String> {
    org.all_tokens()
        .into_iter()
        .filter(|t| t.client_id == app)
        .map(|t| t.id)
        .collect()
}

pub(crate) async fn spawn(page_size: u32) -> TestApp {
    spawn_app_with(org(), |c| {
        c.okta.page_size = page_size;
        c.policies = vec![admin_policy()];
    })
    .await
}

pub(crate) async fn sweep(
    app: &TestApp,
    mode: Mode,
    targets: Vec<Target>,
    wide: WideTargets,
) -> SweepReport {
    let plan = SweepPlan {
        named_targets: false,
        trigger: Trigger::Cli,
        mode,
        targets,
        wide,
    };
    run_once(&app.deps, &plan, app.now)
        .await
        .expect("the database does not fail")
}

pub(crate) fn apps(ids: &[&str]) -> WideTargets {
    WideTargets {
        apps: ids
            .iter()
            .map(|a| ClientId::new(*a).expect("app id"))
            .collect(),
        users: Vec::new(),
    }
}

/// Token ids stored (not gone) for a client, across all its users.
async fn stored_for_client(app: &TestApp, client: &str) -> BTreeSet<String> {
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT token_id FROM tokens WHERE client_id = ? AND gone_at IS NULL")
            .bind(client)
            .fetch_all(app.store.pool())
            .await
            .expect("query");
    rows.into_iter().map(|(id,)| id).collect()
}

#[tokio::test]
async fn an_app_target_lists_every_users_tokens_in_pages_without_per_pair_requests() {
    let app = spawn(50).await;
    let (client, n) = biggest_app(&app.org);
    assert!(n > 300, "the seed gives a big app: {n}");
    let report = sweep(&app, Mode::DryRun, Vec::new(), apps(&[&client])).await;

    let stats = app.org.stats();
    assert_eq!(stats.route(RouteKind::AppListTokens), n.div_ceil(50) as u64);
    assert_eq!(stats.route(RouteKind::ListTokens), 0);
    assert_eq!(stats.route(RouteKind::ListClients), 0);
    assert_eq!(
        stored_for_client(&app, &client).await,
        app_tokens(&app.org, &client)
    );
    assert_eq!(report.counts.tokens_seen, n as u64);
    assert_eq!(report.apps.len(), 1);
    let tally = &report.apps[0];
    assert_eq!(
        (tally.pages, tally.tokens),
        (n.div_ceil(50) as u64, n as u64)
    );
    assert!(tally.complete && !tally.resumed);

    // Every pair it reached is a discovered target.
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT user_id, source, last_result FROM targets WHERE client_id = ? ORDER BY user_id",
    )
    .bind(&client)
    .fetch_all(app.store.pool())
    .await
    .unwrap();
    let users: BTreeSet<String> = app
        .org
        .pairs()
        .into_iter()
        .filter(|(u, c)| c == &client && !app.org.tokens(u, c).is_empty())
        .map(|(u, _)| u)
        .collect();
    assert_eq!(
        rows.iter().map(|r| r.0.clone()).collect::<BTreeSet<_>>(),
        users
    );
    assert!(
        rows.iter().all(|r| r.1 == "discovered" && r.2 == "ok"),
        "{rows:?}"
    );
}

#[tokio::test]
async fn tokens_found_through_an_app_are_revoked_by_user_and_client_through_the_gate() {
    let app = spawn(200).await;
    let (client, _) = biggest_app(&app.org);
    let expected: BTreeSet<String> = admin_policy_selects(&app.org, app.now)
        .into_iter()
        .filter(|t| t.client_id == client)
        .map(|t| t.id)
        .collect();
    assert!(
        expected.len() >= 3,
        "the seed selects some: {}",
        expected.len()
    );
    let report = sweep(&app, Mode::Enforce, Vec::new(), apps(&[&client])).await;

    let revoked = app.org.revoked();
    assert!(revoked.iter().all(|r| r.how == RevokeHow::Single));
    assert_eq!(
        sim_ids(&revoked.iter().map(|r| r.token.clone()).collect::<Vec<_>>()),
        expected
    );
    let stats = app.org.stats();
    assert_eq!(stats.route(RouteKind::RevokeToken), expected.len() as u64);
    assert_eq!(stats.route(RouteKind::AppRevokeToken), 0);
    assert_eq!(report.counts.revocations_done, expected.len() as u64);
    let done: Vec<(String, String)> =
        sqlx::query_as("SELECT user_id, client_id FROM revocations WHERE state = 'done'")
            .fetch_all(app.store.pool())
            .await
            .unwrap();
    assert_eq!(done.len(), expected.len());
    assert!(done.iter().all(|(u, c)| c == &client && !u.is_empty()));
}

#[tokio::test]
async fn a_user_alone_is_listed_for_every_client_it_holds_tokens_for() {
    let app = spawn(200).await;
    let user = app.org.pairs()[0].0.clone();
    let clients: Vec<String> = app
        .org
        .pairs()
        .into_iter()
        .filter(|(u, _)| u == &user)
        .map(|(_, c)| c)
        .collect();
    assert!(clients.len() >= 2);
    let wide = WideTargets {
        apps: Vec::new(),
        users: vec![UserId::new(user.clone()).unwrap()],
    };
    let report = sweep(&app, Mode::DryRun, Vec::new(), wide).await;

    let stats = app.org.stats();
    assert_eq!(stats.route(RouteKind::ListClients), 1);
    assert_eq!(stats.route(RouteKind::AppListTokens), 0);
    assert_eq!(report.counts.targets_total, clients.len() as u64);
    for c in &clients {
        assert_eq!(
            app.stored_ids(&user, c).await,
            sim_ids(&app.org.tokens(&user, c))
        );
        let source: (String,) =
            sqlx::query_as("SELECT source FROM targets WHERE user_id = ? AND client_id = ?")
                .bind(&user)
                .bind(c)
                .fetch_one(app.store.pool())
                .await
                .unwrap();
        assert_eq!(source.0, "discovered");
    }
}

#[tokio::test]
async fn mixed_targets_list_each_pair_once_and_leave_an_apps_pairs_to_its_listing() {
    let app = spawn(200).await;
    let (big_app, _) = biggest_app(&app.org);
    let user = app
        .org
        .pairs()
        .into_iter()
        .map(|(u, _)| u)
        .find(|u| app.org.pairs().iter().filter(|(pu, _)| pu == u).count() == 3)
        .expect("a user of every client");
    let others: Vec<String> = app
        .org
        .pairs()
        .into_iter()
        .filter(|(u, c)| u == &user && c != &big_app)
        .map(|(_, c)| c)
        .collect();
    // The same pairs reached as configured pairs, through the user, and through the app.
    let configured = vec![
        target(&user, &big_app),
        target(&user, &others[0]),
        target(&user, &others[0]),
    ];
    let wide = WideTargets {
        apps: vec![ClientId::new(big_app.clone()).unwrap(); 2],
        users: vec![UserId::new(user.clone()).unwrap(); 2],
    };
    let report = sweep(&app, Mode::DryRun, configured, wide).await;

    let listed: Vec<String> = app
        .org
        .requests()
        .into_iter()
        .filter(|r| r.route == RouteKind::ListTokens)
        .map(|r| {
            r.path_and_query
                .split('?')
                .next()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    let unique: BTreeSet<&String> = listed.iter().collect();
    assert_eq!(
        listed.len(),
        unique.len(),
        "a pair listed twice: {listed:?}"
    );
    assert_eq!(listed.len(), others.len(), "{listed:?}");
    assert!(listed.iter().all(|p| !p.contains(&big_app)), "{listed:?}");
    let stats = app.org.stats();
    assert_eq!(stats.route(RouteKind::ListClients), 1);
    let n = app_tokens(&app.org, &big_app).len();
    assert_eq!(
        stats.route(RouteKind::AppListTokens),
        n.div_ceil(200) as u64
    );
    assert_eq!(report.apps.len(), 1);
    assert_eq!(report.counts.targets_total, others.len() as u64 + 1);
    assert_eq!(
        stored_for_client(&app, &big_app).await,
        app_tokens(&app.org, &big_app)
    );
    for c in &others {
        assert_eq!(
            app.stored_ids(&user, c).await,
            sim_ids(&app.org.tokens(&user, c))
        );
    }
}

#[tokio::test]
async fn a_token_gone_from_an_app_is_marked_gone_after_the_next_complete_listing() {
    let app = spawn(50).await;
    let (client, _) = biggest_app(&app.org);
    sweep(&app, Mode::DryRun, Vec::new(), apps(&[&client])).await;
    let victim = app
        .org
        .all_tokens()
        .into_iter()
        .find(|t| t.client_id == client)
        .unwrap();
    assert!(
        app.org
            .revoke_out_of_band(&victim.user_id, &client, &victim.id)
    );
    sweep(&app, Mode::DryRun, Vec::new(), apps(&[&client])).await;
    let gone = app.store.token(&victim.id).await.unwrap().unwrap().gone_at;
    assert!(gone.is_some());
    assert_eq!(
        stored_for_client(&app, &client).await,
        app_tokens(&app.org, &client)
    );
}

#[tokio::test]
async fn config_check_refuses_an_app_target_without_okta_apps_read_naming_both() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("revokd.toml");
    // config check reads the key, as a sweep would: a real one (a test fixture).
    let key = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/oauth/test-only-rsa.pkcs8.pem"
    );
    let oauth = format!(
        "[okta]\norg_url = \"https://example.okta.com\"\nauth = \"oauth\"\n\
         client_id = \"0oaService\"\nprivate_key_file = \"{key}\"\n"
    );
    let shown = path.display().to_string();
    let write = |scopes: &str| {
        std::fs::write(
            &path,
            format!("{oauth}scopes = [{scopes}]\n[[targets]]\napp = \"0oaPayroll\"\n"),
        )
        .expect("written");
    };
    let args = ["--config", shown.as_str(), "config", "check"];
    write("\"okta.users.read\", \"okta.users.manage\"");
    let out = run_revokd(&args, &[]).await;
    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(78), "{text}");
    assert!(
        text.contains("okta.scopes") && text.contains("okta.apps.read"),
        "{text}"
    );
    assert!(text.contains("targets[0].app (`0oaPayroll`)"), "{text}");
    write("\"okta.users.read\", \"okta.users.manage\", \"okta.apps.read\"");
    let out = run_revokd(&args, &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
}
