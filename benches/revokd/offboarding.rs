//! (d) offboarding: the real `revokd run` against a simulated org, one Okta event-hook
//! delivery per departing user; latency from delivery to the job verified done, p50 / p99.

use std::time::{Duration, Instant};

use revokd::sim::{SimConfig, SimOrg};

use super::TOKEN;

pub async fn offboarding_latency(runs: usize) {
    const SECRET: &str = "bench-hook-secret";
    let org = SimOrg::start(SimConfig {
        seed: 5,
        users: 40,
        clients: 4,
        pairs: 120,
        big_pairs: 0,
        api_token: TOKEN.into(),
        record_requests: false,
        ..SimConfig::default()
    })
    .await
    .expect("sim");
    let mut users: Vec<String> = org.all_tokens().into_iter().map(|t| t.user_id).collect();
    users.sort();
    users.dedup();
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("offboard.db");
    // A free port: bind 0, read it, let it go for the daemon.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let config = format!(
        "mode = \"enforce\"\n[okta]\norg_url = \"{}\"\napi_token = \"{TOKEN}\"\n\
         [database]\nurl = \"sqlite://{}\"\n[server]\nlisten = \"127.0.0.1:{port}\"\nhook_secret = \"{SECRET}\"\n\
         [schedule]\nsweep = \"0 0 0 1 1 *\"\n",
        org.base_url(),
        db.display()
    );
    let targets: String = org
        .pairs()
        .iter()
        .map(|(u, c)| format!("[[targets]]\nuser = \"{u}\"\nclient = \"{c}\"\n"))
        .collect();
    let config_path = dir.path().join("revokd.toml");
    std::fs::write(&config_path, config + &targets).expect("config");
    let mut daemon = tokio::process::Command::new(env!("CARGO_BIN_EXE_revokd"))
        .arg("--config")
        .arg(&config_path)
        .arg("run")
        .env_clear()
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("revokd run starts");
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let ready = Instant::now();
    while http.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(
            ready.elapsed() < Duration::from_secs(30),
            "the daemon did not come up"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .expect("db");
    let per_run = users.len() / runs.max(1);
    println!(
        "\n(d) offboarding: event-hook delivery → job verified done (real `revokd run`, default settings)"
    );
    println!(
        "{:>4} {:>6} {:>9} {:>9} {:>9}",
        "run", "users", "p50 ms", "p99 ms", "max ms"
    );
    let mut all = Vec::new();
    for (run, chunk) in users.chunks(per_run.max(1)).take(runs).enumerate() {
        let mut latencies = Vec::new();
        for user in chunk {
            let event = org.emit_event("user.lifecycle.deactivate", user);
            let uuid = event["uuid"].as_str().unwrap_or_default().to_owned();
            let started = Instant::now();
            org.deliver_hook(
                &format!("{base}/hooks/okta"),
                SECRET,
                &[event],
                revokd::sim::Delivery::Once,
            )
            .await
            .expect("delivered");
            loop {
                let state: Option<String> =
                    sqlx::query_scalar("SELECT state FROM offboarding_jobs WHERE event_id = ?")
                        .bind(&uuid)
                        .fetch_optional(&pool)
                        .await
                        .expect("job state");
                if state.as_deref() == Some("done") {
                    break;
                }
                assert!(
                    started.elapsed() < Duration::from_secs(60),
                    "job for {user} never finished: {state:?}"
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            latencies.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        let (p50, p99, max) = percentiles(&mut latencies);
        println!(
            "{:>4} {:>6} {p50:>9.0} {p99:>9.0} {max:>9.0}",
            run + 1,
            chunk.len()
        );
        all.extend(latencies);
    }
    let (p50, p99, max) = percentiles(&mut all);
    println!(
        "all {} deliveries: p50 {p50:.0} ms · p99 {p99:.0} ms (target < 5,000) · max {max:.0} ms",
        all.len()
    );
    let _ = daemon.start_kill();
    let _ = daemon.wait().await;
}

/// p50, p99 (nearest rank) and max of latencies in ms.
fn percentiles(xs: &mut [f64]) -> (f64, f64, f64) {
    xs.sort_by(f64::total_cmp);
    let rank = |q: f64| xs[((q * xs.len() as f64).ceil() as usize).clamp(1, xs.len()) - 1];
    (rank(0.50), rank(0.99), xs[xs.len() - 1])
}
