//! Storage faults seen from the real binary: a missing directory, a read-only database, a
//! database locked by another process and a full database each end `revokd sweep --enforce`
//! with exit 1 and a message that names the database and the cause, revoke nothing they cannot
//! record, and leave an audit trail that still verifies and a file that passes
//! `PRAGMA integrity_check`.

use std::path::{Path, PathBuf};

use revokd::sim::SimOrg;
use revokd::store::{PAGE_SIZE, Store};
use sqlx::{Connection, SqliteConnection};
use tempfile::TempDir;

use crate::helpers::{SIM_TOKEN, all_output, run_revokd, small_org, write_config};

const ADMIN_POLICY: &str =
    "[[policies]]\nname = \"old-admin\"\nolder_than = \"180d\"\nscopes_any = [\"admin:write\"]\n";

/// A running org, a temp dir, and a config file whose database is `db`.
struct Setup {
    org: SimOrg,
    dir: TempDir,
    config: String,
    db: PathBuf,
}

impl Setup {
    async fn new(db_relative: &str) -> Setup {
        let org = SimOrg::start(small_org()).await.expect("org starts");
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join(db_relative);
        let config = write_config(
            dir.path(),
            org.base_url().as_str(),
            &format!("api_token = \"{SIM_TOKEN}\""),
            &db,
            &org.pairs(),
            ADMIN_POLICY,
        );
        Setup {
            org,
            dir,
            config: config.display().to_string(),
            db,
        }
    }

    fn url(&self) -> String {
        format!("sqlite://{}", self.db.display())
    }

    async fn revokd(&self, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
        let mut all = vec!["--config", self.config.as_str()];
        all.extend_from_slice(args);
        run_revokd(&all, env).await
    }

    /// A database with history in it: one dry-run sweep (snapshots and `planned` audit rows).
    async fn with_history(db_relative: &str) -> Setup {
        let setup = Setup::new(db_relative).await;
        let out = setup.revokd(&["sweep", "--dry-run"], &[]).await;
        assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
        setup
    }

    /// `revokd audit verify` exits 0 and the file passes SQLite's integrity check.
    async fn assert_audit_intact(&self) {
        let out = self.revokd(&["audit", "verify"], &[]).await;
        assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
        assert!(all_output(&out).contains("audit chain intact"));
        let mut conn = SqliteConnection::connect(&self.url()).await.expect("opens");
        let check: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_all(&mut conn)
            .await
            .expect("integrity_check runs");
        assert_eq!(check, vec!["ok".to_owned()]);
        conn.close().await.expect("closes");
    }
}

/// Exit 1, with stderr naming the database (`names`) and the cause (`cause`).
fn assert_fails_clearly(out: &std::process::Output, names: &str, cause: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{}", all_output(out));
    assert!(stderr.contains(names), "database not named:\n{stderr}");
    assert!(
        stderr.contains(cause),
        "cause `{cause}` not said:\n{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_database_directory_exits_1_naming_the_directory_and_revokes_nothing() {
    let setup = Setup::new("no/such/dir/revokd.db").await;

    let out = setup.revokd(&["sweep", "--enforce"], &[]).await;

    let missing = setup.dir.path().join("no/such/dir");
    assert_fails_clearly(&out, &setup.url(), "does not exist");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&missing.display().to_string()),
        "{}",
        all_output(&out)
    );
    assert!(!setup.dir.path().join("no").exists(), "nothing created");
    assert!(setup.org.revoked().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_read_only_database_exits_1_saying_so_and_keeps_the_audit_intact() {
    let setup = Setup::with_history("revokd.db").await;
    // The tests run as root (in CI too), and root ignores file and directory permissions, so
    // `chmod` cannot make the file read-only here; SQLite's own read-only mode refuses every
    // write the same way a read-only file or file system does (SQLITE_READONLY).
    let read_only = format!("{}?mode=ro", setup.url());

    let out = setup
        .revokd(
            &["sweep", "--enforce"],
            &[("REVOKD_DATABASE__URL", read_only.as_str())],
        )
        .await;

    assert_fails_clearly(&out, &read_only, "read-only");
    assert!(setup.org.revoked().is_empty());
    setup.assert_audit_intact().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_database_locked_by_another_process_exits_1_naming_the_lock() {
    let setup = Setup::with_history("revokd.db").await;
    let mut holder = SqliteConnection::connect(&setup.url())
        .await
        .expect("opens");
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut holder)
        .await
        .expect("lock taken");

    let out = setup
        .revokd(
            &["sweep", "--enforce"],
            &[("REVOKD_DATABASE__BUSY_TIMEOUT", "200ms")],
        )
        .await;

    sqlx::query("ROLLBACK")
        .execute(&mut holder)
        .await
        .expect("lock released");
    holder.close().await.expect("closes");
    assert_fails_clearly(&out, &setup.url(), "locked by another process");
    assert!(setup.org.revoked().is_empty());
    setup.assert_audit_intact().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_database_exits_1_and_the_next_sweep_with_room_completes_the_audit() {
    let setup = Setup::new("revokd.db").await;
    let migrated = migrated_size(&setup.url()).await;
    // A few pages of room: the sweep starts, then its snapshots of the big pair fill it.
    let limit = format!("{}KiB", (migrated + 8 * PAGE_SIZE) / 1024);

    let out = setup
        .revokd(
            &["sweep", "--enforce"],
            &[("REVOKD_DATABASE__MAX_SIZE", limit.as_str())],
        )
        .await;

    assert_fails_clearly(&out, &setup.url(), "the database is full");
    assert!(
        sweeps_started(&setup.db).await >= 1,
        "the sweep got going before the disk filled"
    );
    assert_eq!(
        sweep_statuses(&setup.db).await,
        ["failed"],
        "the sweep that died closed its own row (in place: a full disk still takes it)"
    );
    setup.assert_audit_intact().await;

    let out = setup
        .revokd(
            &["sweep", "--enforce"],
            &[("REVOKD_DATABASE__MAX_SIZE", "1GiB")],
        )
        .await;

    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    assert!(!setup.org.revoked().is_empty(), "the policy revoked tokens");
    assert_eq!(sweep_statuses(&setup.db).await, ["failed", "ok"]);
    setup.assert_audit_intact().await;
    assert_every_outcome_follows_its_intent(&setup.url()).await;
}

/// The size in bytes of a freshly migrated database.
async fn migrated_size(url: &str) -> u64 {
    let store = Store::connect(url).await.expect("migrates");
    let pages: i64 = sqlx::query_scalar("PRAGMA page_count")
        .fetch_one(store.pool())
        .await
        .expect("page_count");
    store.close().await;
    u64::try_from(pages).expect("a page count") * PAGE_SIZE
}

async fn sweeps_started(db: &Path) -> usize {
    sweep_statuses(db).await.len()
}

async fn sweep_statuses(db: &Path) -> Vec<String> {
    let mut conn = SqliteConnection::connect(&format!("sqlite://{}", db.display()))
        .await
        .expect("opens");
    let statuses = sqlx::query_scalar("SELECT status FROM sweeps ORDER BY id")
        .fetch_all(&mut conn)
        .await
        .expect("read");
    conn.close().await.expect("closes");
    statuses
}

/// Every outcome row (`intent_id` set) comes after its intent, which is a `pending` row of the
/// same token, and no intent is left `pending` once a sweep has finished normally.
async fn assert_every_outcome_follows_its_intent(url: &str) {
    let store = Store::connect_existing(url).await.expect("opens");
    let rows = store.revocations().await.expect("rows");
    let by_id: std::collections::HashMap<i64, _> = rows.iter().map(|r| (r.id, r)).collect();
    let mut outcomes = 0;
    for row in rows.iter().filter(|r| r.intent_id.is_some()) {
        let intent_id = row.intent_id.expect("filtered");
        let intent = by_id
            .get(&intent_id)
            .unwrap_or_else(|| panic!("row {} has no intent {intent_id}", row.id));
        assert!(intent_id < row.id, "row {} precedes its intent", row.id);
        assert_eq!(intent.state, "pending", "intent {intent_id}");
        assert!(intent.intent_id.is_none(), "intent {intent_id}");
        assert_eq!(
            (&intent.token_id, &intent.user_id, &intent.client_id),
            (&row.token_id, &row.user_id, &row.client_id),
            "row {}",
            row.id
        );
        outcomes += 1;
    }
    assert!(outcomes > 0, "the enforce sweep recorded outcomes");
    let open = store.open_intents().await.expect("open intents");
    assert!(
        open.iter().all(|r| r.state != "pending"),
        "pending intents left: {open:?}"
    );
    store.close().await;
}
