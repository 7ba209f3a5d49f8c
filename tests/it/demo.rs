//! `revokd demo` through the real binary: it writes the configuration it used beside its
//! database, ends with three commands that work as printed, tells each phase on stderr when
//! stderr is not a terminal, and refuses to replace an earlier demo unless `--force`, and
//! anything but a demo's files even then.

use std::path::Path;
use std::process::Output;

use crate::helpers::all_output;

/// Runs `revokd` in `dir` with a clean environment.
async fn revokd_in(dir: &Path, args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_revokd"))
        .args(args)
        .current_dir(dir)
        .env_clear()
        .envs(crate::clock_env::clock_env())
        .kill_on_drop(true)
        .output()
        .await
        .expect("revokd runs")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_writes_its_config_and_its_printed_commands_work() {
    let dir = tempfile::tempdir().expect("temp dir");

    let out = revokd_in(dir.path(), &["demo"]).await;

    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let config = std::fs::read_to_string(dir.path().join("revokd-demo.toml")).expect("written");
    assert!(config.contains("[[policies]]"), "{config}");
    assert!(config.contains("[[exemptions]]"), "{config}");
    assert!(
        config.contains("url = \"sqlite://revokd-demo.db\""),
        "{config}"
    );
    assert!(
        config.contains("# The guard is raised for the demo"),
        "{config}"
    );
    assert!(
        config.contains("max_revocation_fraction = 0.95"),
        "{config}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    for phase in ["dry-run pass…", "enforce pass…", "wrote revokd-demo.toml"] {
        assert!(
            stderr
                .lines()
                .any(|l| l.starts_with("revokd demo: ") && l.contains(phase)),
            "`{phase}` not told:\n{stderr}"
        );
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let commands: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.trim().strip_prefix("revokd "))
        .collect();
    assert_eq!(
        commands,
        vec![
            "--config revokd-demo.toml report inventory",
            "--config revokd-demo.toml status",
            "--config revokd-demo.toml audit verify",
        ],
        "{stdout}"
    );
    for command in commands {
        let args: Vec<&str> = command.split_whitespace().collect();
        let run = revokd_in(dir.path(), &args).await;
        assert_eq!(
            run.status.code(),
            Some(0),
            "{command}\n{}",
            all_output(&run)
        );
        assert!(!run.stdout.is_empty(), "{command}");
        assert!(!all_output(&run).contains("no [[policies]]"), "{command}");
    }
    // Without the configuration a report decides with no rules: said, not silently "keep".
    for report in ["inventory", "exposure", "apps", "overview"] {
        let args = ["--db", "revokd-demo.db", "report", report];
        let run = revokd_in(dir.path(), &args).await;
        let text = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(0), "{report}: {text}");
        assert!(
            text.contains("no [[policies]]") && text.contains("rule(s)"),
            "{report}: {text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_demo_refuses_to_replace_an_earlier_database_unless_forced() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("earlier.db");
    let first = revokd_in(dir.path(), &["demo", "--db", "earlier.db"]).await;
    assert_eq!(first.status.code(), Some(0), "{}", all_output(&first));
    let earlier = std::fs::read(&db).expect("the earlier demo");

    let refused = revokd_in(dir.path(), &["demo", "--db", "earlier.db"]).await;

    let text = all_output(&refused);
    assert_eq!(refused.status.code(), Some(1), "{text}");
    assert!(text.contains("earlier.db exists"), "{text}");
    assert!(text.contains("--force"), "{text}");
    assert_eq!(std::fs::read(&db).expect("kept"), earlier);

    let forced = revokd_in(dir.path(), &["demo", "--db", "earlier.db", "--force"]).await;

    assert_eq!(forced.status.code(), Some(0), "{}", all_output(&forced));
    assert!(dir.path().join("earlier.toml").exists());
}

/// `--force` replaces an earlier demo, never a database of real work nor a configuration the
/// demo did not write, whatever their names.
#[tokio::test(flavor = "multi_thread")]
async fn the_demo_replaces_nothing_but_a_demo_even_when_forced() {
    use crate::helpers::{small_org, spawn_app};
    let app = spawn_app(small_org()).await;
    app.sweep(revokd::config::Mode::DryRun).await;
    app.store.close().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (db, config) = (dir.path().join("revokd.db"), dir.path().join("revokd.toml"));
    std::fs::copy(&app.db_path, &db).expect("a database of real work");
    std::fs::write(&config, "mode = \"enforce\"\n").expect("an operator's configuration");
    let files = || (std::fs::read(&db).unwrap(), std::fs::read(&config).unwrap());
    let before = files();

    let refused = revokd_in(dir.path(), &["demo", "--db", "revokd.db", "--force"]).await;

    let text = all_output(&refused);
    assert_eq!(refused.status.code(), Some(1), "{text}");
    assert!(
        text.contains("not a database only `revokd demo` wrote"),
        "{text}"
    );
    assert!(files() == before, "both files kept");

    // A demo's database beside a configuration the demo did not write.
    std::fs::remove_file(&db).expect("removed");
    let demo = revokd_in(dir.path(), &["demo", "--db", "other.db"]).await;
    assert_eq!(demo.status.code(), Some(0), "{}", all_output(&demo));
    std::fs::rename(dir.path().join("other.db"), &db).expect("moved");
    let refused = revokd_in(dir.path(), &["demo", "--db", "revokd.db", "--force"]).await;
    let text = all_output(&refused);
    assert_eq!(refused.status.code(), Some(1), "{text}");
    assert!(
        text.contains("revokd.toml is not a configuration"),
        "{text}"
    );
    assert_eq!(std::fs::read(&config).unwrap(), before.1);
}

#[tokio::test]
async fn a_demo_database_named_as_its_configuration_would_be_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");

    let refused = revokd_in(dir.path(), &["demo", "--db", "demo.toml"]).await;

    let text = all_output(&refused);
    assert_eq!(refused.status.code(), Some(64), "{text}");
    assert!(
        text.contains("demo.toml") && text.contains(".toml"),
        "{text}"
    );
    assert!(!dir.path().join("demo.toml").exists(), "nothing written");
}

/// The overview page the demo writes beside its database replaces no page of someone else's:
/// refused without `--force`, and with it unless revokd wrote the page.
#[tokio::test(flavor = "multi_thread")]
async fn the_demo_replaces_no_page_it_did_not_write() {
    let dir = tempfile::tempdir().expect("temp dir");
    let page = dir.path().join("notes-overview.html");
    std::fs::write(&page, "<html><title>my notes</title></html>\n").expect("someone's page");

    for args in [
        &["demo", "--db", "notes.db"][..],
        &["demo", "--db", "notes.db", "--force"],
    ] {
        let refused = revokd_in(dir.path(), args).await;
        let text = all_output(&refused);
        assert_eq!(refused.status.code(), Some(1), "{args:?} {text}");
        assert!(text.contains("notes-overview.html"), "{text}");
        assert!(
            !dir.path().join("notes.db").exists(),
            "nothing written: {text}"
        );
    }
    let kept = std::fs::read_to_string(&page).expect("kept");
    assert_eq!(kept, "<html><title>my notes</title></html>\n");
}
