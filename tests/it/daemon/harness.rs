//! Running the real `revokd run` as a child: its JSON log lines streamed back as they come,
//! its HTTP address learned from its "running" line, its database read directly, signals sent
//! with kill(1).

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use revokd::sim::SimOrg;
use serde_json::Value;
use sqlx::SqlitePool;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Child;
use tokio::sync::mpsc;

use crate::helpers::SIM_TOKEN;

/// How long any one awaited event may take before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// A daemon configuration for `org`: `mode`, listen on port 0 plus `server` (keys of
/// `[server]`), every pair a target, and `extra` (TOML tables, appended verbatim).
pub fn daemon_config(org: &SimOrg, dir: &Path, mode: &str, server: &str, extra: &str) -> String {
    let mut text = format!(
        "mode = \"{mode}\"\n[okta]\norg_url = \"{}\"\napi_token = \"{SIM_TOKEN}\"\n\
         min_backoff = \"1ms\"\nmax_backoff = \"50ms\"\n[database]\nurl = \"sqlite://{}\"\n\
         [server]\nlisten = \"127.0.0.1:0\"\n{server}\n",
        org.base_url(),
        db_path(dir).display()
    );
    text.push_str(extra);
    for (u, c) in org.pairs() {
        text.push_str(&format!("[[targets]]\nuser = \"{u}\"\nclient = \"{c}\"\n"));
    }
    text
}

/// A yearly cron schedule whose day is about half a year from now: it never fires within a
/// test's lifetime, whatever the date, so only `sweep_on_start` (or nothing) sweeps.
pub fn yearly() -> String {
    use chrono::Datelike;
    let day = chrono::Utc::now() + chrono::Duration::days(182);
    format!("0 0 0 {} {} *", day.day().min(28), day.month())
}

/// Where [`daemon_config`] puts the database.
pub fn db_path(dir: &Path) -> PathBuf {
    dir.join("revokd.db")
}

/// A running `revokd run`.
pub struct Running {
    child: Child,
    logs: mpsc::UnboundedReceiver<Value>,
    /// Every log line received so far.
    pub seen: Vec<Value>,
    pub base: String,
    pub pool: SqlitePool,
}

/// A log line's message.
pub fn message(line: &Value) -> &str {
    line["fields"]["message"]
        .as_str()
        .or_else(|| line["message"].as_str())
        .unwrap_or("")
}

impl Running {
    /// Starts `revokd --log-format json --config <config> run` and waits until it says it is
    /// running.
    pub async fn start(config: &Path) -> Running {
        Running::start_with(config, &[]).await
    }

    /// [`Running::start`] with more global options first (`-vv`).
    pub async fn start_with(config: &Path, options: &[&str]) -> Running {
        let mut running = Running::spawn(config, options);
        running.wait_running().await;
        running
    }

    /// Waits until the daemon says it is running, and learns its HTTP address.
    pub async fn wait_running(&mut self) {
        let line = self.wait_for_log("revokd is running").await;
        let addr = line["http.addr"].as_str().expect("http.addr logged");
        self.base = format!("http://{addr}");
    }

    /// Starts `revokd --log-format json [options] --config <config> run`, not waiting for it.
    pub fn spawn(config: &Path, options: &[&str]) -> Running {
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_revokd"))
            .args(options)
            .args(["--log-format", "json", "--config"])
            .arg(config)
            .arg("run")
            .env_clear()
            .envs(crate::clock_env::clock_env())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("revokd starts");
        let stderr = child.stderr.take().expect("stderr piped");
        let (tx, logs) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let value = serde_json::from_str(&line).unwrap_or(Value::String(line));
                if tx.send(value).is_err() {
                    break;
                }
            }
        });
        let text = std::fs::read_to_string(config).expect("config readable");
        let db = text
            .lines()
            .find_map(|l| l.strip_prefix("url = \"sqlite://"))
            .and_then(|rest| rest.strip_suffix('"'))
            .expect("the config names a database")
            .to_owned();
        Running {
            child,
            logs,
            seen: Vec::new(),
            base: String::new(),
            pool: SqlitePool::connect_lazy(&format!("sqlite://{db}")).expect("pool"),
        }
    }

    /// Waits for the next log line (from now on) whose message contains `text`.
    pub async fn wait_for_log(&mut self, text: &str) -> Value {
        self.wait_for(text, |line| message(line).contains(text))
            .await
    }

    /// Waits for the next log line (from now on) matching `pred`.
    pub async fn wait_for(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            match tokio::time::timeout_at(deadline, self.logs.recv()).await {
                Ok(Some(line)) => {
                    self.seen.push(line.clone());
                    if pred(&line) {
                        return line;
                    }
                }
                Ok(None) => panic!("revokd ended before `{what}`:\n{}", self.dump()),
                Err(_) => panic!("no `{what}` within {PATIENCE:?}:\n{}", self.dump()),
            }
        }
    }

    /// The log so far, one line each.
    pub fn dump(&self) -> String {
        self.seen
            .iter()
            .map(Value::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Sends a signal (`TERM`, `HUP`, `KILL`), by the system call: no kill(1) needed.
    pub async fn signal(&self, name: &str) {
        use rustix::process::{Pid, Signal, kill_process};
        let pid = self.child.id().expect("still running");
        let sig = match name {
            "TERM" => Signal::TERM,
            "HUP" => Signal::HUP,
            "KILL" => Signal::KILL,
            other => panic!("no signal {other} here"),
        };
        let raw = i32::try_from(pid).expect("a pid fits an i32");
        let pid = Pid::from_raw(raw).expect("a running child's pid is positive");
        kill_process(pid, sig).unwrap_or_else(|e| panic!("kill -{name} {raw}: {e}"));
    }

    /// Waits for the process to exit, at most `within`, reading the rest of its log.
    pub async fn wait_exit(&mut self, within: Duration) -> ExitStatus {
        let status = tokio::time::timeout(within, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("revokd still running after {within:?}:\n{}", self.dump()))
            .expect("wait");
        while let Ok(Some(line)) =
            tokio::time::timeout(Duration::from_secs(5), self.logs.recv()).await
        {
            self.seen.push(line);
        }
        status
    }

    /// `GET path`: status and body.
    pub async fn get(&self, path: &str) -> (u16, String) {
        let response = reqwest::get(format!("{}{path}", self.base))
            .await
            .expect("the daemon answers");
        let status = response.status().as_u16();
        (status, response.text().await.expect("a body"))
    }

    /// Whether any line seen so far has a message containing `text`.
    pub fn logged(&self, text: &str) -> bool {
        self.seen.iter().any(|l| message(l).contains(text))
    }
}

/// A `sweeps` row, as the tests read it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Sweep {
    pub id: i64,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub status: String,
    pub mode: String,
    pub error: Option<String>,
}

/// Every sweep row, oldest first.
pub async fn sweeps(pool: &SqlitePool) -> Vec<Sweep> {
    sqlx::query_as(
        "SELECT id, started_at, finished_at, status, mode, error FROM sweeps ORDER BY id",
    )
    .fetch_all(pool)
    .await
    .unwrap_or_default()
}

/// Polls `sweeps` every 50 ms until `done` holds for them (bounded by [`PATIENCE`]): the
/// daemon's own schedule causes the rows, so this waits on an event, not on time.
pub async fn wait_for_sweeps(
    pool: &SqlitePool,
    what: &str,
    done: impl Fn(&[Sweep]) -> bool,
) -> Vec<Sweep> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let rows = sweeps(pool).await;
        if done(&rows) {
            return rows;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no {what} within {PATIENCE:?}: {rows:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
