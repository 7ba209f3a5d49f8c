//! The Okta API token never leaves the process: not in output at the most verbose log level,
//! not in `config check`, not anywhere in the database; nor do the event hook's secrets.

use std::path::Path;

use revokd::sim::{SimConfig, SimOrg};
use sqlx::SqlitePool;

use crate::helpers::{all_output, run_revokd, small_org, write_config};

const SECRET: &str = "00SECRETsecret-token-value";

const ADMIN_POLICY: &str =
    "[[policies]]\nname = \"old-admin\"\nolder_than = \"180d\"\nscopes_any = [\"admin:write\"]\n";

/// How the token reaches the binary.
enum Given {
    File,
    Env,
}

/// How many values in every column of every table contain `needle`, and how many rows were
/// looked at (so an empty database cannot pass vacuously).
pub async fn occurrences_in_database(db: &Path, needle: &str) -> (i64, i64) {
    let pool = SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .expect("the database opens");
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
    )
    .fetch_all(&pool)
    .await
    .expect("tables");
    let (mut hits, mut rows) = (0_i64, 0_i64);
    for table in tables {
        let columns: Vec<String> = sqlx::query_scalar("SELECT name FROM pragma_table_info(?)")
            .bind(&table)
            .fetch_all(&pool)
            .await
            .expect("columns");
        let any = columns
            .iter()
            .map(|c| format!("instr(CAST(\"{c}\" AS TEXT), ?1) > 0"))
            .collect::<Vec<_>>()
            .join(" OR ");
        let sql = format!("SELECT COUNT(*) FROM \"{table}\" WHERE {any}");
        hits += sqlx::query_scalar::<_, i64>(&sql)
            .bind(needle)
            .fetch_one(&pool)
            .await
            .expect("scan");
        rows += sqlx::query_scalar::<_, i64>(&format!("SELECT COUNT(*) FROM \"{table}\""))
            .fetch_one(&pool)
            .await
            .expect("count");
    }
    pool.close().await;
    (hits, rows)
}

async fn assert_token_stays_secret(given: Given) {
    let org = SimOrg::start(SimConfig {
        api_token: SECRET.to_owned(),
        ..small_org()
    })
    .await
    .expect("org starts");
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("revokd.db");
    let token_file = dir.path().join("okta-token");
    std::fs::write(&token_file, format!("{SECRET}\n")).expect("token file");
    let auth_line = match given {
        Given::File => format!("api_token_file = \"{}\"", token_file.display()),
        Given::Env => String::new(),
    };
    let config = write_config(
        dir.path(),
        org.base_url().as_str(),
        &auth_line,
        &db,
        &org.pairs(),
        ADMIN_POLICY,
    );
    let config = config.to_str().expect("utf-8");
    let mut env = vec![("REVOKD_LOG", "trace")];
    if matches!(given, Given::Env) {
        env.push(("REVOKD_OKTA__API_TOKEN", SECRET));
    }

    let sweep = run_revokd(&["--config", config, "sweep", "--enforce"], &env).await;
    let check = run_revokd(&["--config", config, "config", "check"], &env).await;

    let sweep_text = all_output(&sweep);
    assert_eq!(sweep.status.code(), Some(0), "{sweep_text}");
    assert!(
        !org.revoked().is_empty(),
        "the token worked: revocations happened"
    );
    assert!(sweep_text.contains("TRACE"), "trace logging was on");
    assert!(!sweep_text.contains(SECRET), "the sweep printed the token");
    let check_text = all_output(&check);
    assert_eq!(check.status.code(), Some(0), "{check_text}");
    // A file-backed token shows as its file only; one from the environment as a comment.
    let shown = match given {
        Given::File => "\napi_token_file = ",
        Given::Env => "\n# api_token = \"[redacted]\" (set inline",
    };
    assert!(check_text.contains(shown), "{check_text}");
    assert!(
        !check_text.contains(SECRET),
        "config check printed the token"
    );

    let (hits, rows) = occurrences_in_database(&db, SECRET).await;
    assert!(rows > 100, "the database holds the sweep ({rows} rows)");
    assert_eq!(hits, 0, "the token is stored in the database");
    for suffix in ["", "-wal", "-shm"] {
        let file = format!("{}{suffix}", db.display());
        if let Ok(bytes) = std::fs::read(&file) {
            let found = bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes());
            assert!(!found, "the token is in {file}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_api_token_from_a_file_appears_in_no_output_and_nowhere_in_the_database() {
    assert_token_stays_secret(Given::File).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_api_token_from_the_environment_appears_in_no_output_and_nowhere_in_the_database() {
    assert_token_stays_secret(Given::Env).await;
}

const TARGET: &str = "[[targets]]\nuser = \"00u1\"\nclient = \"0oa1\"\n";

/// `revokd config check` and `revokd sweep` on `toml` (in a temp dir holding `files`).
async fn check_and_sweep(toml: &str, files: &[(&str, &str)]) -> [(Option<i32>, String); 2] {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("written");
    }
    let config = dir.path().join("revokd.toml");
    // Every case names one pair: a sweep refuses to start without a target.
    let toml = format!(
        "{}{TARGET}",
        toml.replace("{dir}", &dir.path().display().to_string())
    );
    std::fs::write(&config, toml).expect("written");
    let config = config.display().to_string();
    let mut out = Vec::new();
    for command in [&["config", "check"][..], &["sweep"][..]] {
        let mut args = vec!["--config", config.as_str()];
        args.extend_from_slice(command);
        let done = run_revokd(&args, &[]).await;
        out.push((done.status.code(), all_output(&done)));
    }
    [out[0].clone(), out[1].clone()]
}

#[tokio::test(flavor = "multi_thread")]
async fn config_check_refuses_the_credentials_a_sweep_would_refuse_naming_their_key() {
    let oauth = "[okta]\norg_url = \"https://example.okta.com\"\nauth = \"oauth\"\n\
                 client_id = \"0oaService\"\nprivate_key_file = \"{dir}/missing.pem\"\n\
                 [database]\nurl = \"{dir}/revokd.db\"\n";
    for (code, text) in check_and_sweep(oauth, &[]).await {
        assert_eq!(code, Some(78), "{text}");
        assert!(
            text.contains("okta.private_key_file: cannot read"),
            "{text}"
        );
    }
    // A token file with a line before the token: no HTTP header can carry it.
    let ssws = "[okta]\norg_url = \"https://example.okta.com\"\n\
                api_token_file = \"{dir}/token\"\n[database]\nurl = \"{dir}/revokd.db\"\n";
    let token = format!("# the revokd token\n{SECRET}\n");
    for (code, text) in check_and_sweep(ssws, &[("token", &token)]).await {
        assert_eq!(code, Some(78), "{text}");
        assert!(text.contains("okta.api_token_file: "), "{text}");
        assert!(!text.contains(SECRET), "{text}");
    }
}

/// The event hook's secrets, current and previous, never leave the process either: a daemon
/// at the most verbose log level takes a delivery under each and refuses a wrong one, and
/// neither secret is in its log or its database afterwards.
#[tokio::test(flavor = "multi_thread")]
async fn the_hook_secrets_appear_in_no_log_and_nowhere_in_the_database() {
    use crate::daemon::harness::{PATIENCE, Running, daemon_config, db_path};
    use crate::offboard::{DEACTIVATE, wait_for_jobs};
    use revokd::sim::Delivery;

    const CURRENT: &str = "hookSECRET-current-0123456789";
    const PREVIOUS: &str = "hookSECRET-previous-9876543210";
    let org = SimOrg::start(small_org()).await.expect("org starts");
    let dir = tempfile::tempdir().expect("temp dir");
    let server = format!("hook_secret = \"{CURRENT}\"\nhook_secret_previous = \"{PREVIOUS}\"");
    let config = dir.path().join("revokd.toml");
    let text = daemon_config(&org, dir.path(), "enforce", &server, "");
    std::fs::write(&config, text).expect("config written");
    let mut daemon = Running::start_with(&config, &["-vv"]).await;
    let url = format!("{}/hooks/okta", daemon.base);
    let mut users: Vec<String> = org.all_tokens().into_iter().map(|t| t.user_id).collect();
    users.sort();
    users.dedup();
    for (user, secret, status) in [
        (&users[0], PREVIOUS, 200),
        (&users[1], CURRENT, 200),
        (&users[2], "hookSECRET-wrong-5555555555", 401),
    ] {
        let event = org.emit_event(DEACTIVATE, user);
        let sent = org
            .deliver_hook(&url, secret, &[event], Delivery::Once)
            .await
            .expect("delivered");
        assert_eq!(sent, vec![status]);
    }
    wait_for_jobs(&daemon.pool, "both jobs done", |r| {
        r.len() == 2 && r.iter().all(|j| j.2 == "done")
    })
    .await;
    daemon.signal("TERM").await;
    assert_eq!(daemon.wait_exit(PATIENCE).await.code(), Some(0));

    let log = daemon.dump();
    // `-vv`: revokd at trace, its libraries at debug (the most revokd itself says).
    assert!(log.contains("\"DEBUG\""), "debug logging was on");
    assert!(
        log.contains("came with server.hook_secret_previous"),
        "{log}"
    );
    assert!(
        log.contains("refused: wrong or missing Authorization"),
        "{log}"
    );
    for secret in [CURRENT, PREVIOUS, "hookSECRET"] {
        assert!(!log.contains(secret), "the log holds {secret}");
        let (hits, rows) = occurrences_in_database(&db_path(dir.path()), secret).await;
        assert!(rows > 10, "the database holds the jobs ({rows} rows)");
        assert_eq!(hits, 0, "the database holds {secret}");
    }
}
