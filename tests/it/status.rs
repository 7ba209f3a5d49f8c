//! `revokd status` on real databases: what it shows, its JSON, and exit 3 when something
//! needs attention (an irrevocable revocation, a failed offboarding job not done since, a last
//! sweep that failed or whose guard tripped).

use chrono::Utc;
use revokd::config::Mode;
use revokd::sim::{Fault, FaultKind};
use revokd::store::NewJob;
use serde_json::Value;

use crate::helpers::{TestApp, admin_policy, all_output, run_revokd, small_org, spawn_app_with};

/// `revokd --db <the app's database> status [args]`, after closing the app's store.
pub(crate) async fn status(app: &TestApp, args: &[&str]) -> std::process::Output {
    app.store.close().await;
    let db = app.db_path.display().to_string();
    let mut all = vec!["--db", db.as_str(), "status"];
    all.extend_from_slice(args);
    run_revokd(&all, &[]).await
}

/// A scheduled sweep started at `started` that the daemon's shutdown cut short at `finished`,
/// closed as the daemon closes it.
pub(crate) async fn aborted_scheduled_sweep(
    app: &TestApp,
    started: chrono::DateTime<Utc>,
    finished: chrono::DateTime<Utc>,
) {
    let (schedule, aborted) = (
        revokd::store::Trigger::Schedule,
        revokd::store::SweepStatus::Aborted,
    );
    app.store
        .begin_sweep(schedule, Mode::DryRun, started, "h:1:0")
        .await
        .expect("a sweep row");
    let why = "cut short by shutdown (server.shutdown_timeout)";
    let closed = app
        .store
        .close_running_sweeps(schedule, started, aborted, why, finished);
    assert_eq!(closed.await.expect("closed"), 1);
}

pub(crate) fn json_of(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", all_output(out)))
}

#[tokio::test(flavor = "multi_thread")]
async fn status_after_a_clean_sweep_shows_every_section_and_exits_0() {
    let app = spawn_app_with(small_org(), |c| c.policies = vec![admin_policy()]).await;
    let report = app.sweep(Mode::Enforce).await;
    let head = app.store.audit_head().await.unwrap().expect("a head");

    let out = status(&app, &[]).await;
    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    for part in [
        format!("#{:<5}", report.sweep_id),
        "enforce  ok".to_owned(),
        "revocations  pending 0 · failed 0 · irrevocable 0 · done".to_owned(),
        "offboarding  queued 0 · running 0 · held 0 · done 0 · failed 0".to_owned(),
        "notify       pending 0 · delivered 0 · failed 0".to_owned(),
        format!("audit chain  head {}:{} (intact", head.0, head.1),
        "nothing needs attention".to_owned(),
    ] {
        assert!(text.contains(&part), "`{part}` missing:\n{text}");
    }
    assert!(
        !text.contains("next runs"),
        "no daemon config given:\n{text}"
    );

    let out = status(&app, &["--format", "json"]).await;
    assert_eq!(out.status.code(), Some(0));
    let v = json_of(&out);
    assert_eq!(v["sweeps"][0]["id"], report.sweep_id);
    assert_eq!(v["sweeps"][0]["status"], "ok");
    assert!(v["sweeps"][0]["duration_ms"].as_i64().is_some(), "{v}");
    assert_eq!(
        v["revocations"]["done"].as_u64(),
        Some(report.counts.revocations_done)
    );
    assert_eq!(v["audit"]["intact"], true);
    assert_eq!(v["audit"]["head"]["id"], head.0);
    assert!(v["database"]["bytes"].as_i64().unwrap_or(0) > 0, "{v}");
    assert_eq!(v["attention"], serde_json::json!([]));
    assert!(v["next_runs"].is_null());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_irrevocable_revocation_needs_attention() {
    let app = spawn_app_with(small_org(), |c| {
        c.policies = vec![admin_policy()];
        c.revocation.max_attempts = 1;
        c.safety.max_revocation_fraction = 1.0;
    })
    .await;
    crate::lifecycle::ignored_victim(&app, None);
    app.sweep(Mode::Enforce).await;

    let out = status(&app, &["--format", "json"]).await;

    assert_eq!(out.status.code(), Some(3), "{}", all_output(&out));
    let v = json_of(&out);
    let irrevocable = v["revocations"]["irrevocable"].as_i64().unwrap_or(0);
    assert!(irrevocable > 0, "{v}");
    assert_eq!(
        v["attention"][0],
        format!("{irrevocable} irrevocable revocation(s)"),
        "{v}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_offboarding_job_needs_attention() {
    let app = spawn_app_with(small_org(), |_| {}).await;
    app.sweep(Mode::DryRun).await;
    let job = NewJob {
        user_id: "00uGONE".into(),
        source: revokd::store::JobSource::Cli,
        event_id: None,
        event_type: None,
        reason: None,
    };
    let id = app.store.start_job(&job, "test", Utc::now()).await.unwrap();
    app.store
        .finish_job(
            id,
            revokd::store::JobState::Failed,
            Some("Okta answered 500"),
            Utc::now(),
        )
        .await
        .unwrap();

    let out = status(&app, &[]).await;

    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(
        text.contains("offboarding  queued 0 · running 0 · held 0 · done 0 · failed 1"),
        "{text}"
    );
    assert!(
        text.contains("ATTENTION    1 failed offboarding job(s)"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_offboarding_done_since_for_the_same_user_needs_no_attention() {
    let app = spawn_app_with(small_org(), |_| {}).await;
    app.sweep(Mode::DryRun).await;
    let user = app.org.all_tokens()[0].user_id.clone();
    // A `revokd offboard` stopped half-way (its job failed), then run again to its end.
    let first = app.start_cli_job(&user).await;
    let state = revokd::store::JobState::Failed;
    let why = Some("interrupted: run it again");
    app.store
        .finish_job(first, state, why, Utc::now())
        .await
        .unwrap();
    let (again, report) = app.offboard(&user).await;
    assert!(report.succeeded() && again > first);
    app.store
        .finish_job(again, revokd::store::JobState::Done, None, Utc::now())
        .await
        .unwrap();

    let out = status(&app, &[]).await;

    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("done 1 · failed 1"), "{text}");
}

/// A failed job for `user`, then a preview (`--dry-run`) of offboarding them that ends `done`.
async fn failed_then_previewed(app: &TestApp, user: &str) {
    let first = app.start_cli_job(user).await;
    let state = revokd::store::JobState::Failed;
    app.store
        .finish_job(first, state, Some("Okta answered 500"), Utc::now())
        .await
        .expect("the database does not fail");
    let preview = app.start_cli_job(user).await;
    let offboarding = revokd::offboard::Offboarding {
        user: revokd::okta::UserId::new(user).expect("a user id"),
        clients: Vec::new(),
        reason: "preview".into(),
        job_id: preview,
        dry_run: true,
    };
    let verify = revokd::offboard::VerifySettings::default();
    let report = revokd::offboard::offboard_user(&app.deps, &offboarding, verify)
        .await
        .expect("the database does not fail");
    assert!(report.succeeded() && app.org.revoked().is_empty());
    let done = revokd::store::JobState::Done;
    app.store
        .finish_job(preview, done, None, Utc::now())
        .await
        .expect("the database does not fail");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_offboarding_is_not_settled_by_a_dry_run_of_it() {
    let app = spawn_app_with(small_org(), |_| {}).await;
    let user = app.org.all_tokens()[0].user_id.clone();
    failed_then_previewed(&app, &user).await;

    let out = status(&app, &[]).await;

    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(text.contains("1 failed offboarding job(s)"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_offboarding_is_not_settled_by_a_dry_run_that_found_no_token() {
    let app = spawn_app_with(small_org(), |_| {}).await;
    // Okta knows no client of this user: the preview records no audit row at all.
    let user = "00unotokens000000000";
    assert!(app.org.all_tokens().iter().all(|t| t.user_id != user));
    failed_then_previewed(&app, user).await;

    let out = status(&app, &[]).await;

    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(text.contains("1 failed offboarding job(s)"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tripped_guard_in_the_last_sweep_needs_attention() {
    let app = spawn_app_with(small_org(), |c| {
        c.policies = vec![admin_policy()];
        c.safety.max_revocations_per_sweep = 1;
    })
    .await;
    let report = app.sweep(Mode::Enforce).await;
    assert!(report.guard.is_some());
    assert!(app.org.revoked().is_empty());

    let out = status(&app, &[]).await;

    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(
        text.contains("the last finished sweep ended partial"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_last_sweep_needs_attention() {
    let app = spawn_app_with(small_org(), |_| {}).await;
    app.org.inject(Fault {
        user: None,
        client: None,
        kind: FaultKind::Status(500),
        times: None,
    });
    let report = app.sweep(Mode::DryRun).await;
    assert_eq!(report.status.as_str(), "failed");

    let out = status(&app, &[]).await;

    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(text.contains("the last finished sweep failed"), "{text}");
}

/// A sweep run after `trigger` (SQL that makes the database refuse a write the sweep makes,
/// as a full disk would) dies on the error: its row is closed `failed` with the error, a
/// `sweep_failed` notification is queued, and `status` needs attention.
async fn dies_on_the_database(app: &TestApp, trigger: &str) {
    sqlx::query(trigger)
        .execute(app.store.pool())
        .await
        .expect("the trigger");

    let plan = app.plan(Mode::DryRun);
    let died = revokd::sweep::run_once(&app.deps, &plan, app.now).await;

    let error = died.expect_err("the sweep dies on the database's error");
    assert!(error.to_string().contains("full"), "{error}");
    let (id, state, why): (i64, String, Option<String>) =
        sqlx::query_as("SELECT id, status, error FROM sweeps ORDER BY id DESC LIMIT 1")
            .fetch_one(app.store.pool())
            .await
            .expect("the sweep row");
    assert_eq!(state, "failed");
    assert!(why.is_some_and(|w| w.contains("full")));
    let events: Vec<(String, String)> =
        sqlx::query_as("SELECT kind, subject FROM notify_outbox ORDER BY id")
            .fetch_all(app.store.pool())
            .await
            .expect("the outbox");
    assert_eq!(events, [("sweep_failed".to_owned(), format!("sweep:{id}"))]);
    let out = status(app, &[]).await;
    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(text.contains("the last finished sweep failed"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sweep_that_dies_storing_a_token_is_failed_notified_and_needs_attention() {
    let app = spawn_app_with(small_org(), |_| {}).await;
    app.sweep(Mode::DryRun).await;
    let mut new = app.org.all_tokens()[0].clone();
    new.id = "oarNew00000000000001".into();
    app.org.add_token(new);
    let refuse = "CREATE TRIGGER refuse BEFORE INSERT ON token_state
                  BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END";
    dies_on_the_database(&app, refuse).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sweep_that_dies_recording_its_rules_is_failed_notified_and_needs_attention() {
    let app = spawn_app_with(small_org(), |_| {}).await;
    let refuse = "CREATE TRIGGER refuse BEFORE UPDATE OF policy_set_id ON sweeps
                  BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END";
    dies_on_the_database(&app, refuse).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_aborted_last_sweep_needs_attention() {
    let app = spawn_app_with(small_org(), |_| {}).await;
    app.sweep(Mode::DryRun).await;
    let now = Utc::now();
    aborted_scheduled_sweep(&app, now, now).await;

    let out = status(&app, &[]).await;

    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(
        text.contains("the last finished sweep was aborted"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn with_a_daemon_config_status_shows_the_next_scheduled_runs() {
    let app = spawn_app_with(small_org(), |_| {}).await;
    app.sweep(Mode::DryRun).await;
    app.store.close().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("revokd.toml");
    std::fs::write(
        &config,
        format!(
            "[database]\nurl = \"sqlite://{}\"\n[schedule]\nsweep = \"0 0 * * * *\"\n\
             report = \"0 0 6 * * *\"\n",
            app.db_path.display()
        ),
    )
    .expect("config written");

    let out = run_revokd(
        &[
            "--config",
            &config.display().to_string(),
            "status",
            "--format",
            "json",
        ],
        &[],
    )
    .await;

    assert_eq!(out.status.code(), Some(0), "{}", all_output(&out));
    let v = json_of(&out);
    let sweep = v["next_runs"]["sweep"].as_str().expect("a next sweep");
    assert!(sweep.ends_with(":00:00Z"), "{sweep}");
    assert!(
        v["next_runs"]["report"]
            .as_str()
            .is_some_and(|r| r.ends_with("T06:00:00Z")),
        "{v}"
    );
    assert!(v["next_runs"]["prune"].as_str().is_some(), "{v}");
}
