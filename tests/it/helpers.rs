//! Shared set-up: a simulated org plus a real configuration, store and sweep dependencies
//! pointed at it (only isolation knobs changed), and helpers to run the `revokd` binary.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::LazyLock;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use revokd::config::{Config, ExemptionConfig, Mode, PolicyConfig};
use revokd::gate::Gate;
use revokd::okta::{ClientId, UserId};
use revokd::policy::PolicySet;
use revokd::sim::{RouteKind, SimConfig, SimOrg, SimToken};
use revokd::store::{Store, Trigger};
use revokd::sweep::{Deps, SweepPlan, SweepReport, Target, run_once};
use secrecy::SecretString;
use tempfile::TempDir;

/// Logs go to a sink unless `TEST_LOG` is set (zero2prod), initialised once per process.
static TRACING: LazyLock<()> = LazyLock::new(|| {
    if std::env::var_os("TEST_LOG").is_some() {
        revokd::telemetry::init(revokd::telemetry::LogFormat::Pretty, 1);
    } else {
        let _ = tracing_subscriber::fmt()
            .with_writer(std::io::sink)
            .try_init();
    }
});

/// The API token every test org accepts, unless a test picks its own.
pub const SIM_TOKEN: &str = "sim-api-token";

/// A small org: 12 pairs, one of them big enough (250–600 tokens) for paging to matter. Its
/// rate limit is generous (revokd's share is 500 requests a second) so that only the tests
/// about rate limits wait on them.
pub fn small_org() -> SimConfig {
    SimConfig {
        rate_limit_per_window: 60_000,
        seed: 7,
        now: Utc::now(),
        users: 6,
        clients: 4,
        pairs: 12,
        big_pairs: 1,
        api_token: SIM_TOKEN.to_owned(),
        ..SimConfig::default()
    }
}

/// A running org, a real configuration pointed at it, and the store and deps built from it.
pub struct TestApp {
    pub org: SimOrg,
    pub store: Store,
    pub deps: Deps,
    pub db_path: PathBuf,
    /// The instant sweeps decide at (tests compute expectations against the same instant).
    pub now: DateTime<Utc>,
    _dir: TempDir,
}

/// Starts an org and builds the app with the default test configuration.
pub async fn spawn_app(sim: SimConfig) -> TestApp {
    spawn_app_with(sim, |_| {}).await
}

/// Starts an org and builds the app, letting the test adjust the configuration first.
pub async fn spawn_app_with(sim: SimConfig, configure: impl FnOnce(&mut Config)) -> TestApp {
    LazyLock::force(&TRACING);
    let now = sim.now;
    let token = sim.api_token.clone();
    let org = SimOrg::start(sim).await.expect("the simulated org starts");
    let dir = tempfile::tempdir().expect("a temp dir");
    let db_path = dir.path().join("revokd.db");
    let mut config = Config {
        mode: Mode::Enforce,
        ..Config::default()
    };
    config.okta.org_url = Some(org.base_url().to_string());
    config.okta.api_token = Some(SecretString::from(token));
    config.okta.min_backoff = Duration::from_millis(1);
    config.okta.max_backoff = Duration::from_millis(50);
    config.database.url = format!("sqlite://{}", db_path.display());
    configure(&mut config);
    config.validate().expect("the test configuration is valid");
    let store = Store::connect(&config.database.url)
        .await
        .expect("the store opens");
    let deps = Deps::from_config(&config, store.clone()).expect("deps build");
    TestApp {
        org,
        store,
        deps,
        db_path,
        now,
        _dir: dir,
    }
}

impl TestApp {
    /// Every pair of the org as a `config` target.
    pub fn targets(&self) -> Vec<Target> {
        self.org
            .pairs()
            .into_iter()
            .map(|(u, c)| target(&u, &c))
            .collect()
    }

    /// One sweep over every pair, deciding at `self.now`.
    pub async fn sweep(&self, mode: Mode) -> SweepReport {
        run_once(&self.deps, &self.plan(mode), self.now)
            .await
            .expect("the database does not fail")
    }

    /// Sweeps and the gate now decide with these rules and exemptions (a changed
    /// configuration, as a reload puts it in force).
    pub fn reconfigure(&mut self, policies: &[PolicyConfig], exemptions: &[ExemptionConfig]) {
        let set = PolicySet::from_config(policies, exemptions).expect("valid rules");
        let set = std::sync::Arc::new(set);
        let wait = Duration::from_secs(5);
        self.deps.gate = Gate::new(self.store.clone(), std::sync::Arc::clone(&set), wait);
        self.deps.policies = set;
    }

    /// A `revokd offboard` job for `user`, running under this process.
    pub async fn start_cli_job(&self, user: &str) -> i64 {
        let job = revokd::store::NewJob {
            user_id: user.to_owned(),
            source: revokd::store::JobSource::Cli,
            event_id: None,
            event_type: None,
            reason: None,
        };
        self.store
            .start_job(&job, revokd::runner::current(), Utc::now())
            .await
            .expect("the job starts")
    }

    /// A `revokd offboard --user USER` (every client, enforced, default verification) run to
    /// its end under this process, as its job (left `running`: the command closes it); returns
    /// the job id and the report.
    pub async fn offboard(&self, user: &str) -> (i64, revokd::offboard::OffboardReport) {
        let job_id = self.start_cli_job(user).await;
        let offboarding = revokd::offboard::Offboarding {
            user: UserId::new(user).expect("a user id"),
            clients: Vec::new(),
            reason: "left".into(),
            job_id,
            dry_run: false,
        };
        let verify = revokd::offboard::VerifySettings::default();
        let report = revokd::offboard::offboard_user(&self.deps, &offboarding, verify)
            .await
            .expect("the database does not fail");
        (job_id, report)
    }

    /// Another integration revokes a token behind revokd's back, straight through the API.
    pub async fn delete_through_api(&self, user: &str, client: &str, id: &str) {
        let url = format!(
            "{}api/v1/users/{user}/clients/{client}/tokens/{id}",
            self.org.base_url()
        );
        let status = reqwest::Client::new()
            .delete(url)
            .header("Authorization", format!("SSWS {SIM_TOKEN}"))
            .send()
            .await
            .expect("the DELETE is answered")
            .status();
        assert_eq!(status.as_u16(), 204);
    }

    /// The plan of a pass over the configured pairs, in `mode`, as `revokd sweep` runs it.
    pub fn plan(&self, mode: Mode) -> SweepPlan {
        SweepPlan {
            named_targets: false,
            trigger: Trigger::Cli,
            mode,
            targets: self.targets(),
            wide: revokd::sweep::WideTargets::default(),
        }
    }

    /// The pair with the most tokens (the big one).
    pub fn big_pair(&self) -> (String, String) {
        self.org
            .pairs()
            .into_iter()
            .max_by_key(|(u, c)| self.org.tokens(u, c).len())
            .expect("the org has pairs")
    }

    /// A pair holding between 1 and 3 tokens.
    pub fn small_pair(&self) -> (String, String) {
        self.org
            .pairs()
            .into_iter()
            .find(|(u, c)| (1..=3).contains(&self.org.tokens(u, c).len()))
            .expect("the seed gives a pair with a few tokens")
    }

    /// The token ids the store holds (not gone) for a pair.
    pub async fn stored_ids(&self, user: &str, client: &str) -> BTreeSet<String> {
        self.store
            .tokens_of_pair(user, client)
            .await
            .expect("tokens of pair")
            .into_iter()
            .filter(|t| t.gone_at.is_none())
            .map(|t| t.token_id)
            .collect()
    }

    /// Asserts that every pair except `except` is stored exactly as the org holds it.
    pub async fn assert_pairs_stored(&self, except: Option<&(String, String)>) {
        for (u, c) in self.org.pairs() {
            if except == Some(&(u.clone(), c.clone())) {
                continue;
            }
            assert_eq!(
                self.stored_ids(&u, &c).await,
                sim_ids(&self.org.tokens(&u, &c)),
                "pair {u}:{c}"
            );
        }
    }

    /// `(last_result, last_error)` of a pair's `targets` row.
    pub async fn target_row(&self, user: &str, client: &str) -> (String, Option<String>) {
        sqlx::query_as(
            "SELECT last_result, last_error FROM targets WHERE user_id = ? AND client_id = ?",
        )
        .bind(user)
        .bind(client)
        .fetch_one(self.store.pool())
        .await
        .expect("a targets row")
    }

    /// `(status, error)` of a `sweeps` row.
    pub async fn sweep_row(&self, id: i64) -> (String, Option<String>) {
        let row = self.store.sweep(id).await.expect("query").expect("the row");
        (row.status, row.error)
    }
}

/// Every DELETE of one token the org received, by token id: `(status, answered)` in order of
/// arrival (status 0 and unanswered: parked before the revocation ran).
pub fn token_deletes(org: &SimOrg) -> BTreeMap<String, Vec<(u16, bool)>> {
    let mut deletes: BTreeMap<String, Vec<(u16, bool)>> = BTreeMap::new();
    for r in org.requests() {
        if r.route == RouteKind::RevokeToken {
            deletes
                .entry(r.token_id.unwrap_or_default())
                .or_default()
                .push((r.status, r.answered));
        }
    }
    deletes
}

/// A `config` target; panics on an invalid id (the sim only makes valid ones).
pub fn target(user: &str, client: &str) -> Target {
    Target {
        user: UserId::new(user).expect("user id"),
        client: ClientId::new(client).expect("client id"),
        source: revokd::store::TargetSource::Config,
    }
}

/// The ids of some sim tokens.
pub fn sim_ids(tokens: &[SimToken]) -> BTreeSet<String> {
    tokens.iter().map(|t| t.id.clone()).collect()
}

/// The policy most tests use: admin scopes on tokens older than 180 days.
pub fn admin_policy() -> PolicyConfig {
    PolicyConfig {
        name: "old-admin".into(),
        older_than: Some(Duration::from_secs(180 * 86_400)),
        scopes_any: vec!["admin:write".into()],
        ..PolicyConfig::default()
    }
}

/// What [`admin_policy`] selects, computed from the org's own state with plain chrono.
pub fn admin_policy_selects(org: &SimOrg, now: DateTime<Utc>) -> Vec<SimToken> {
    org.all_tokens()
        .into_iter()
        .filter(|t| now - t.created > TimeDelta::days(180))
        .filter(|t| t.scopes.iter().any(|s| s == "admin:write"))
        .collect()
}

/// The first token [`admin_policy_selects`] at the app's instant.
pub fn first_admin_selected(app: &TestApp) -> SimToken {
    let selected = admin_policy_selects(&app.org, app.now);
    selected
        .into_iter()
        .next()
        .expect("the seed selects a token")
}

/// Runs the real `revokd` binary with a clean environment plus `env`, and waits for it. The
/// sim keeps serving meanwhile because this awaits (the test runtime is multi-thread).
pub async fn run_revokd(args: &[&str], env: &[(&str, &str)]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_revokd"))
        .args(args)
        .env_clear()
        .envs(crate::clock_env::clock_env())
        .envs(env.iter().copied())
        .kill_on_drop(true)
        .output()
        .await
        .expect("revokd runs")
}

/// Runs the real `revokd` binary as [`run_revokd`] does, its stdout a pipe whose reader has
/// gone before revokd writes (`revokd … | head -0`), and asserts that it ended quietly with 0:
/// no panic, no "Broken pipe". Returns its stderr.
pub async fn assert_quiet_on_a_closed_stdout(args: &[&str], env: &[(&str, &str)]) -> String {
    let child = spawn_with_stdout_gone(args, env);

    let out = child.wait_with_output().await.expect("revokd ends");

    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
    assert!(!stderr.contains("Broken pipe"), "{args:?}: {stderr}");
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    stderr
}

/// The real `revokd` binary started as [`run_revokd`] does, its stdout (and its stderr, which
/// the caller may drop too) a pipe; stdout's reader is gone before revokd writes.
pub fn spawn_with_stdout_gone(args: &[&str], env: &[(&str, &str)]) -> tokio::process::Child {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_revokd"))
        .args(args)
        .env_clear()
        .envs(crate::clock_env::clock_env())
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("revokd runs");
    drop(child.stdout.take());
    child
}

/// stdout and stderr of a run, together, as text.
pub fn all_output(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A config file for the binary: the org URL, one auth line (e.g. `api_token = "…"`), the
/// database, one `[[targets]]` per pair, then `extra` TOML (appended verbatim).
/// [`write_config`] for `org` with the API token every test org accepts, its database
/// `revokd.db` in `dir`: the config file's path, as the binary takes it, and the database's.
pub fn sim_config(
    org: &SimOrg,
    dir: &Path,
    pairs: &[(String, String)],
    extra: &str,
) -> (String, PathBuf) {
    let db = dir.join("revokd.db");
    let auth = format!("api_token = \"{SIM_TOKEN}\"");
    let config = write_config(dir, org.base_url().as_str(), &auth, &db, pairs, extra);
    (config.to_string_lossy().into_owned(), db)
}

pub fn write_config(
    dir: &Path,
    org_url: &str,
    auth_line: &str,
    db_path: &Path,
    pairs: &[(String, String)],
    extra: &str,
) -> PathBuf {
    let mut text = format!(
        "mode = \"dry-run\"\n[okta]\norg_url = \"{org_url}\"\n{auth_line}\nmin_backoff = \"1ms\"\n\
         max_backoff = \"50ms\"\n[database]\nurl = \"sqlite://{}\"\n",
        db_path.display()
    );
    for (u, c) in pairs {
        text.push_str(&format!("[[targets]]\nuser = \"{u}\"\nclient = \"{c}\"\n"));
    }
    text.push_str(extra);
    let path = dir.join("revokd.toml");
    std::fs::write(&path, text).expect("config written");
    path
}
