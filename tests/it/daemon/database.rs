//! The daemon's database: opened with the `[database]` settings, exactly as the other commands
//! open it.

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
