//! The daemon's database: opened with the `[database]` settings, exactly as the other commands
//! open it, and the one `--db` names kept across SIGHUP reloads.

use revokd::store::{PAGE_SIZE, Store};

use super::harness::{Running, daemon_config, message, yearly};
use super::{ADMIN_POLICY, setup, stop, write};

#[tokio::test(flavor = "multi_thread")]
async fn the_daemon_honours_database_max_size_and_its_sweep_fails_like_on_a_full_disk() {
    let (org, dir) = setup().await;
    let sizer = dir.path().join("sizer.db");
    let store = Store::connect(&format!("sqlite://{}", sizer.display()))
        .await
        .expect("migrates");
    let pages: i64 = sqlx::query_scalar("PRAGMA page_count")
        .fetch_one(store.pool())
        .await
        .expect("page_count");
    store.close().await;
    // A few pages of room: the daemon starts, then its first sweep's snapshots fill it.
    let limit = (u64::try_from(pages).expect("pages") + 8) * PAGE_SIZE / 1024;
    let schedule = format!(
        "[schedule]\nsweep = \"{}\"\nsweep_on_start = true\n{ADMIN_POLICY}",
        yearly()
    );
    let text = daemon_config(&org, dir.path(), "dry-run", "", &schedule).replace(
        "[database]\n",
        &format!("[database]\nmax_size = \"{limit}KiB\"\n"),
    );
    let config = write(dir.path(), &text);
    let mut daemon = Running::start(&config).await;

    let ended = daemon.wait_for_log("job run ended").await;

    assert_eq!(ended["outcome"], "failed", "{}", daemon.dump());
    let failed = daemon
        .seen
        .iter()
        .find(|l| message(l) == "job failed")
        .unwrap_or_else(|| panic!("no `job failed` line:\n{}", daemon.dump()));
    let error = failed["error.message"].as_str().unwrap_or_default();
    assert!(error.contains("the database is full"), "{failed}");
    stop(&mut daemon).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reload_keeps_the_database_given_by_db_without_a_restart_warning() {
    let (org, dir) = setup().await;
    let config = write(
        dir.path(),
        &daemon_config(&org, dir.path(), "dry-run", "", ""),
    );
    let given = dir.path().join("given.db");
    let given_arg = given.display().to_string();
    let mut daemon = Running::start_with(&config, &["--db", &given_arg]).await;
    assert!(given.exists(), "the daemon opened the database --db names");

    daemon.signal("HUP").await;
    daemon.wait_for_log("configuration reloaded").await;

    let restart: Vec<_> = daemon
        .seen
        .iter()
        .filter(|l| message(l).contains("takes effect at the next restart"))
        .collect();
    assert!(restart.is_empty(), "{restart:?}");
    stop(&mut daemon).await;
}
