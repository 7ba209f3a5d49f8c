//! Commands that only read or maintain the database (`report`, `status`, `audit verify`,
//! `db migrate`) run with nothing but a database: no Okta settings, no configuration file,
//! the database named by `--db` (a URL or a bare path) or `REVOKD_DATABASE__URL`.

use std::borrow::Cow;
use std::str::FromStr;

use revokd::config::Mode;
use revokd::store::MIGRATOR;
use sqlx::migrate::Migrator;
use sqlx::sqlite::SqliteConnectOptions;

use crate::helpers::{
    admin_policy, all_output, assert_quiet_on_a_closed_stdout, run_revokd, small_org,
    spawn_app_with,
};

/// A database left by one enforce sweep of a small org, and its path.
async fn swept_database() -> (crate::helpers::TestApp, String) {
    let app = spawn_app_with(small_org(), |c| c.policies = vec![admin_policy()]).await;
    app.sweep(Mode::Enforce).await;
    app.store.close().await;
    let path = app.db_path.display().to_string();
    (app, path)
}

#[tokio::test(flavor = "multi_thread")]
async fn database_commands_need_no_okta_settings_given_db_as_a_path_or_a_url() {
    let (_app, path) = swept_database().await;
    let url = format!("sqlite://{path}");
    let runs: [&[&str]; 5] = [
        &["--db", &path, "report", "inventory"],
        &["--db", &url, "report", "sweeps", "--format", "json"],
        &["--db", &path, "audit", "verify"],
        &["audit", "verify", "--db", &url],
        &["--db", &path, "db", "migrate"],
    ];
    for args in runs {
        let out = run_revokd(args, &[]).await;
        let text = all_output(&out);
        assert_eq!(out.status.code(), Some(0), "{args:?}\n{text}");
        assert!(!text.contains("okta.org_url"), "{args:?}\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_database_url_from_the_environment_is_enough_for_a_report() {
    let (_app, path) = swept_database().await;
    let url = format!("sqlite://{path}");

    let out = run_revokd(
        &["report", "inventory", "--format", "csv"],
        &[("REVOKD_DATABASE__URL", &url)],
    )
    .await;

    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.starts_with("user_id,client_id,token_id"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn db_overrides_the_configured_database() {
    let (_app, path) = swept_database().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("revokd.toml");
    std::fs::write(
        &config,
        format!(
            "[database]\nurl = \"sqlite://{}\"\n",
            dir.path().join("absent.db").display()
        ),
    )
    .expect("config written");
    let config = config.display().to_string();

    let without = run_revokd(&["--config", &config, "audit", "verify"], &[]).await;
    let with = run_revokd(
        &["--config", &config, "--db", &path, "audit", "verify"],
        &[],
    )
    .await;

    let text = all_output(&without);
    assert_eq!(without.status.code(), Some(1), "{text}");
    assert!(text.contains("absent.db does not exist (fix"), "{text}");
    assert!(!text.contains("  "), "no runs of spaces: {text}");
    assert_eq!(with.status.code(), Some(0), "{}", all_output(&with));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sweep_still_needs_the_okta_settings() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("revokd.db").display().to_string();

    let out = run_revokd(&["--db", &db, "sweep"], &[]).await;

    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(78), "{text}");
    assert!(text.contains("okta.org_url"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_closed_stdout_pipe_ends_every_database_command_quietly_with_0() {
    let (_app, path) = swept_database().await;
    let commands: [&[&str]; 5] = [
        &["report", "inventory"],
        &["status"],
        &["audit", "verify"],
        &["offboard", "release", "--all"],
        &["db", "migrate"],
    ];
    for command in commands {
        let mut args = vec!["--db", path.as_str()];
        args.extend_from_slice(command);
        assert_quiet_on_a_closed_stdout(&args, &[]).await;
    }
}

/// Commands that read the database never change its schema: a database a migration behind
/// this binary (an older daemon may still run on it) or ahead of it (a newer revokd wrote it)
/// is refused, untouched, saying what to do. `offboard release`, which writes, migrates it as
/// the other offboarding commands do.
#[tokio::test(flavor = "multi_thread")]
async fn reading_commands_refuse_a_database_of_another_schema_and_leave_it_as_it_is() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("behind.db").display().to_string();
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{path}"))
        .expect("a URL")
        .create_if_missing(true);
    let pool = sqlx::SqlitePool::connect_with(options)
        .await
        .expect("raw pool");
    let latest = MIGRATOR
        .iter()
        .map(|m| m.version)
        .max()
        .expect("migrations");
    let behind = Migrator {
        migrations: Cow::Owned(
            MIGRATOR
                .iter()
                .filter(|m| m.version < latest)
                .cloned()
                .collect(),
        ),
        ..Migrator::DEFAULT
    };
    behind
        .run(&pool)
        .await
        .expect("migrated but for the latest");
    let applied = |pool: sqlx::SqlitePool| async move {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
            .fetch_one(&pool)
            .await
            .expect("count");
        n
    };
    let reads: [&[&str]; 4] = [
        &["--db", &path, "status"],
        &["--db", &path, "report", "inventory"],
        &["--db", &path, "report", "overview", "--format", "json"],
        &["--db", &path, "audit", "verify"],
    ];
    let refused = |says: &'static str| {
        let pool = pool.clone();
        async move {
            let before = applied(pool.clone()).await;
            for args in reads {
                let out = run_revokd(args, &[]).await;
                let text = all_output(&out);
                assert_eq!(out.status.code(), Some(1), "{args:?}\n{text}");
                assert!(text.contains(says), "{args:?}\n{text}");
            }
            assert_eq!(applied(pool).await, before, "the schema is left as it was");
        }
    };
    refused("revokd db migrate").await;
    let out = run_revokd(&["--db", &path, "offboard", "release", "--all"], &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    assert_eq!(applied(pool.clone()).await, MIGRATOR.iter().count() as i64);
    // A migration this binary does not know: a newer revokd wrote the database.
    let ahead = "INSERT INTO _sqlx_migrations (version, description, success, checksum, \
                 execution_time) VALUES (99991231000000, 'from a newer revokd', 1, x'00', 0)";
    sqlx::query(ahead).execute(&pool).await.expect(ahead);
    refused("newer revokd").await;
    pool.close().await;
}

/// "Reports never write to the database": each command that only reads changes no byte of it,
/// and reads one SQLite was told it may not write (`?mode=ro`), as an auditor's copy may be.
#[tokio::test(flavor = "multi_thread")]
async fn reading_commands_change_no_byte_of_the_database_and_read_it_read_only() {
    use sha2::{Digest, Sha256};
    let (_app, path) = swept_database().await;
    let digest = || Sha256::digest(std::fs::read(&path).expect("the database file"));
    let before = digest();
    let read_only = format!("sqlite://{path}?mode=ro");
    let runs: [&[&str]; 6] = [
        &["--db", &path, "report", "sweeps"],
        &["--db", &path, "report", "inventory", "--format", "json"],
        &["--db", &path, "report", "overview", "--format", "json"],
        &["--db", &path, "status"],
        &["--db", &path, "audit", "verify"],
        &["--db", &read_only, "report", "revocations"],
    ];
    for args in runs {
        let out = run_revokd(args, &[]).await;
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", all_output(&out));
        assert_eq!(digest(), before, "{args:?} changed the database");
    }
    let out = run_revokd(&["--db", &read_only, "status"], &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
}

/// A SQLite file of another program (a mistyped `--db`) is refused by every command, which
/// changes no byte of it: neither told to migrate nor migrated.
#[tokio::test(flavor = "multi_thread")]
async fn another_programs_database_is_refused_and_left_as_it_is() {
    use sha2::{Digest, Sha256};
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("other.db");
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
        .expect("url")
        .create_if_missing(true);
    let pool = sqlx::SqlitePool::connect_with(options)
        .await
        .expect("created");
    sqlx::query("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
        .execute(&pool)
        .await
        .expect("a table of its own");
    pool.close().await;
    let digest = || Sha256::digest(std::fs::read(&path).expect("the file"));
    let before = digest();
    let db = path.display().to_string();
    for args in [&["status"][..], &["db", "migrate"], &["report", "sweeps"]] {
        let mut all = vec!["--db", db.as_str()];
        all.extend_from_slice(args);
        let out = run_revokd(&all, &[]).await;
        let text = all_output(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {text}");
        assert!(text.contains("not a revokd database"), "{args:?}: {text}");
        assert!(text.contains("invoices"), "{text}");
        assert!(!text.contains("revokd db migrate`"), "{text}");
        assert_eq!(digest(), before, "{args:?} changed the file");
    }
}

/// A path names the file as it is spelled, `%` included, given as `--db` or as
/// `database.url`; a URL of another scheme is refused naming where it came from.
#[tokio::test(flavor = "multi_thread")]
async fn a_database_path_with_a_percent_sign_is_the_file_it_names() {
    let (app, _) = swept_database().await;
    let odd = app.db_path.with_file_name("a%20b#c.db");
    std::fs::copy(&app.db_path, &odd).expect("copied");
    let path = odd.display().to_string();
    let out = run_revokd(&["--db", &path, "report", "sweeps"], &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    let env = [("REVOKD_DATABASE__URL", path.as_str())];
    let out = run_revokd(&["report", "sweeps"], &env).await;
    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));

    let out = run_revokd(&["--db", "mysql://h/db", "status"], &[]).await;
    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(78), "{text}");
    assert!(
        text.contains("`mysql:` is not a SQLite URL") && text.contains("(from --db)"),
        "{text}"
    );
}

/// A `sweep --target` trial of one pair does not begin the history `report … --at` answers
/// from: until a sweep lists every configured target, no instant is answered; after, the
/// instants before it end are refused and the later ones answered.
#[tokio::test(flavor = "multi_thread")]
async fn a_trial_of_named_pairs_does_not_begin_the_history_at_answers() {
    let org = revokd::sim::SimOrg::start(small_org()).await.expect("org");
    let dir = tempfile::tempdir().expect("temp dir");
    let (config, _) = crate::helpers::sim_config(&org, dir.path(), &org.pairs(), "");
    let (user, client) = org.pairs()[0].clone();
    let pair = format!("{user}:{client}");
    let at =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let inventory_at = |t: String| {
        let config = config.clone();
        async move {
            run_revokd(
                &["--config", &config, "report", "inventory", "--at", &t],
                &[],
            )
            .await
        }
    };
    let trial = run_revokd(
        &["--config", &config, "sweep", "--dry-run", "--target", &pair],
        &[],
    )
    .await;
    assert_eq!(trial.status.code(), Some(0), "{}", all_output(&trial));
    let between = chrono::Utc::now();

    let refused = inventory_at(at(between)).await;
    let text = all_output(&refused);
    assert_eq!(refused.status.code(), Some(64), "{text}");
    assert!(
        text.contains("no sweep has yet listed every target"),
        "{text}"
    );

    clock_past(between).await;
    let whole = run_revokd(&["--config", &config, "sweep", "--dry-run"], &[]).await;
    assert_eq!(whole.status.code(), Some(0), "{}", all_output(&whole));
    let refused = inventory_at(at(between)).await;
    let text = all_output(&refused);
    assert_eq!(refused.status.code(), Some(64), "{text}");
    assert!(text.contains("first sweep of every target"), "{text}");
    let after = chrono::Utc::now();
    clock_past(after).await;
    let answered = inventory_at(at(after)).await;
    assert_eq!(answered.status.code(), Some(0), "{}", all_output(&answered));
}

/// Returns once the clock is a few milliseconds past `t` (without sleeping), so what is
/// stored from now on is stamped after it.
async fn clock_past(t: chrono::DateTime<chrono::Utc>) {
    while chrono::Utc::now() <= t + chrono::Duration::milliseconds(3) {
        tokio::task::yield_now().await;
    }
}
