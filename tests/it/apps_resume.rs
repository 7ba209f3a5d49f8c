//! An app listing killed half-way (SIGKILL of the real binary while a page is in flight): the
//! next sweep continues from the last committed page, decides each token once, and revokes
//! exactly what the policy selects; `revokd status` shows the listing under way meanwhile.

use std::collections::BTreeSet;

use chrono::Utc;
use revokd::sim::{Fault, FaultKind, RouteKind, SimOrg};

use crate::apps::{biggest_app, org};
use crate::helpers::{SIM_TOKEN, admin_policy_selects, all_output, run_revokd, write_config};

const POLICY: &str = "[[policies]]\nname = \"old-admin\"\nolder_than = \"180d\"\n\
                      scopes_any = [\"admin:write\"]\n";

/// A sweep of the biggest app killed while its fifth page is in flight (four committed).
struct Killed {
    org: SimOrg,
    client: String,
    /// The app's tokens, and its pages of 20.
    n: usize,
    pages: u64,
    _dir: tempfile::TempDir,
    db: std::path::PathBuf,
    config: String,
}

async fn killed_half_way() -> Killed {
    let org = SimOrg::start(org()).await.expect("sim");
    let (client, n) = biggest_app(&org);
    let pages = n.div_ceil(20) as u64;
    assert!(pages >= 10, "{pages}");
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("revokd.db");
    let extra = format!("[[targets]]\napp = \"{client}\"\n{POLICY}");
    let config = write_config(
        dir.path(),
        org.base_url().as_str(),
        &format!("api_token = \"{SIM_TOKEN}\"\npage_size = 20"),
        &db,
        &[],
        &extra,
    );
    let config = config.to_str().expect("a UTF-8 path").to_owned();

    // The fifth page is never answered: the process is killed while it waits.
    org.inject(Fault::always(FaultKind::HangBeforeNth {
        route: RouteKind::AppListTokens,
        after: 4,
    }));
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_revokd"))
        .args(["--config", &config, "sweep", "--dry-run"])
        .env_clear()
        .envs(crate::clock_env::clock_env())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("revokd starts");
    tokio::select! {
        () = org.until_hung(1) => child.start_kill().expect("SIGKILL"),
        status = child.wait() => panic!("the sweep ended before the hang: {status:?}"),
    }
    child.wait().await.expect("reaped");
    org.clear_faults();
    Killed {
        org,
        client,
        n,
        pages,
        _dir: dir,
        db,
        config,
    }
}

#[tokio::test]
async fn a_sweep_killed_half_way_through_an_app_listing_continues_from_its_last_page() {
    let Killed {
        org,
        client,
        n,
        pages,
        _dir,
        db,
        config,
    } = killed_half_way().await;
    let asked = |org: &SimOrg| {
        org.requests()
            .iter()
            .filter(|r| r.route == RouteKind::AppListTokens)
            .count() as u64
    };
    assert_eq!(asked(&org), 5);
    let status = run_revokd(&["--config", &config, "status"], &[]).await;
    let status = all_output(&status);
    let line = format!("app          {client}: under way since");
    assert!(
        status.contains(&line) && status.contains("pages 4 · tokens 80"),
        "{status}"
    );

    let expected: BTreeSet<String> = admin_policy_selects(&org, Utc::now())
        .into_iter()
        .filter(|t| t.client_id == client)
        .map(|t| t.id)
        .collect();
    let out = run_revokd(&["--config", &config, "sweep", "--enforce"], &[]).await;
    assert!(out.status.success(), "{}", all_output(&out));
    let summary = String::from_utf8_lossy(&out.stdout);
    let line = format!(
        "app {client} · pages {} · tokens {n} · complete (resumed)",
        pages - 4
    );
    assert!(summary.contains(&line), "{summary}");

    // Four pages kept, the one in flight asked for again, then the rest: minimum + 1.
    assert_eq!(asked(&org), pages + 1);
    let revoked: BTreeSet<String> = org.revoked().into_iter().map(|r| r.token.id).collect();
    assert!(!expected.is_empty());
    assert_eq!(revoked, expected);

    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    // Each token decided once: one intent per selected token, none twice.
    let intents: Vec<(String,)> =
        sqlx::query_as("SELECT token_id FROM revocations WHERE intent_id IS NULL")
            .fetch_all(&pool)
            .await
            .unwrap();
    let distinct: BTreeSet<String> = intents.iter().map(|r| r.0.clone()).collect();
    assert_eq!(intents.len(), distinct.len());
    assert_eq!(distinct, expected);
    let listing: (i64, i64, i64, Option<String>, Option<String>) = sqlx::query_as(
        "SELECT pages, tokens, sweeps, next_url, completed_at FROM app_listings WHERE app_id = ?",
    )
    .bind(&client)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(listing.0, pages as i64);
    assert_eq!(listing.1, n as i64);
    assert_eq!(listing.2, 2);
    assert!(listing.3.is_none() && listing.4.is_some(), "{listing:?}");
    let gone: (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM tokens WHERE client_id = ? AND gone_at IS NOT NULL AND revoked_at IS NULL",
    )
    .bind(&client)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        gone.0, 0,
        "no token the listing found before the kill is marked gone"
    );
}

#[tokio::test]
async fn an_app_listing_a_sweep_of_another_host_left_is_resumed_once_it_has_not_moved_for_an_hour()
{
    let k = killed_half_way().await;
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", k.db.display()))
        .await
        .unwrap();
    // The killed sweep's process, as a container recreated under a new host name leaves it.
    sqlx::query("UPDATE sweeps SET runner = 'a-recreated-container:7:7' WHERE status = 'running'")
        .execute(&pool)
        .await
        .unwrap();
    let listing = || async {
        let row: (i64, Option<String>) =
            sqlx::query_as("SELECT pages, next_url FROM app_listings WHERE app_id = ?")
                .bind(&k.client)
                .fetch_one(&pool)
                .await
                .unwrap();
        row
    };
    let sweep = || async {
        let out = run_revokd(&["--config", &k.config, "sweep", "--dry-run"], &[]).await;
        assert!(out.status.success(), "{}", all_output(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };

    // Its last page minutes ago: that process may still be listing; this pass lists the app
    // on its own and leaves the listing's row as it is.
    let summary = sweep().await;
    let whole = format!(
        "app {} · pages {} · tokens {} · complete",
        k.client, k.pages, k.n
    );
    assert!(summary.contains(&whole), "{summary}");
    let kept = listing().await;
    assert!(kept.0 == 4 && kept.1.is_some(), "{kept:?}");

    // Nothing for over an hour: taken for gone, its listing continued from the kept page.
    let moved = revokd::store::ts(Utc::now() - chrono::Duration::minutes(61));
    sqlx::query("UPDATE app_listings SET updated_at = ? WHERE app_id = ?")
        .bind(moved)
        .bind(&k.client)
        .execute(&pool)
        .await
        .unwrap();
    let summary = sweep().await;
    let resumed = format!(
        "app {} · pages {} · tokens {} · complete (resumed)",
        k.client,
        k.pages - 4,
        k.n
    );
    assert!(summary.contains(&resumed), "{summary}");
    assert_eq!(listing().await, (k.pages as i64, None));
}
