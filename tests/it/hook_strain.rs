//! The event hook endpoint under strain, as Okta and an attacker meet it: a delivery whose
//! jobs cannot be committed within Okta's 3 s (a busy database) is answered 503, so Okta
//! retries, and is saved all the same once the database frees, even when its sender hung up
//! before any answer; a request without the secret
//! is refused before its body is read, and an authenticated body that trickles is cut; while
//! the secret is rotated across reloads, the previous one is accepted as well until the
//! overlap ends.

use std::time::Duration;

use revokd::sim::{Delivery, SimOrg};
use sqlx::{Connection, SqliteConnection};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::daemon::harness::{PATIENCE, Running, daemon_config, db_path};
use crate::helpers::small_org;
use crate::offboard::{
    DEACTIVATE, SECRET, hook_daemon, jobs, tokens_left, user_with_two_clients, wait_for_jobs,
};

/// A hook daemon, a user holding tokens, and another connection holding the database's write
/// lock, as another process's long commit (a prune, a CLI sweep) does.
struct Busy {
    org: SimOrg,
    _dir: tempfile::TempDir,
    user: String,
    daemon: Running,
    lock: SqliteConnection,
}

async fn busy() -> Busy {
    let org = SimOrg::start(small_org()).await.expect("org starts");
    let dir = tempfile::tempdir().expect("temp dir");
    let (user, _) = user_with_two_clients(&org);
    let daemon = hook_daemon(&org, dir.path(), "").await;
    let db = format!("sqlite://{}", db_path(dir.path()).display());
    let mut lock = SqliteConnection::connect(&db).await.expect("a connection");
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut lock)
        .await
        .expect("the write lock");
    Busy {
        org,
        _dir: dir,
        user,
        daemon,
        lock,
    }
}

impl Busy {
    /// Frees the database; then the user's one job is done and their tokens are gone.
    async fn free_and_see_the_user_offboarded(mut self) {
        sqlx::query("COMMIT")
            .execute(&mut self.lock)
            .await
            .expect("released");
        let rows = wait_for_jobs(&self.daemon.pool, "the job saved and done", |r| {
            r.iter().any(|j| j.2 == "done")
        })
        .await;
        assert_eq!(rows.len(), 1, "one job for the delivery: {rows:?}");
        assert_eq!(tokens_left(&self.org, &self.user), 0);
        self.daemon.signal("TERM").await;
        assert_eq!(self.daemon.wait_exit(PATIENCE).await.code(), Some(0));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_delivery_behind_a_busy_database_is_answered_503_and_saved_once_it_frees() {
    let b = busy().await;
    let event = b.org.emit_event(DEACTIVATE, &b.user);
    let url = format!("{}/hooks/okta", b.daemon.base);
    // Locked for longer than Okta waits, through the delivery and its retry.
    let statuses = (b.org)
        .deliver_hook(&url, SECRET, &[event], Delivery::AsOkta)
        .await
        .expect("delivered");
    assert_eq!(
        statuses,
        vec![503, 503],
        "each attempt answered within Okta's 3 s, so Okta retried the first"
    );
    b.free_and_see_the_user_offboarded().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_delivery_whose_sender_hangs_up_while_the_database_is_busy_is_saved_all_the_same() {
    let b = busy().await;
    let body = revokd::sim::hook_body(&[b.org.emit_event(DEACTIVATE, &b.user)]).to_string();
    let addr = b.daemon.base.trim_start_matches("http://").to_owned();
    // The whole delivery sent, then the sender gives up after a second and closes, as a
    // sender past its own timeout does, while the jobs wait for the lock.
    let mut stream = TcpStream::connect(&addr).await.expect("connects");
    let request = format!(
        "POST /hooks/okta HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {SECRET}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("sent");
    let mut buf = [0u8; 64];
    let waited = tokio::time::timeout(Duration::from_secs(1), stream.read(&mut buf)).await;
    assert!(waited.is_err(), "no answer while the database is busy");
    drop(stream);
    b.free_and_see_the_user_offboarded().await;
}

/// Sends `head` (a request's head and the first byte of its body) on a new connection, and
/// reads the answer's first line.
async fn answer_to(addr: &str, head: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connects");
    stream.write_all(head.as_bytes()).await.expect("sent");
    let mut buf = vec![0u8; 512];
    let n = tokio::time::timeout(PATIENCE, stream.read(&mut buf))
        .await
        .expect("answered before the body came")
        .expect("read");
    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
    text.lines().next().unwrap_or("").to_owned()
}

/// Sends `head`, then `total` bytes of body in chunks of 64 KiB while reading the answer's
/// first line (the server may answer, and close, before the body ends).
async fn answer_to_chunks(addr: &str, head: &str, total: usize) -> String {
    let stream = TcpStream::connect(addr).await.expect("connects");
    let (mut reader, mut writer) = stream.into_split();
    let head = head.to_owned();
    let sending = tokio::spawn(async move {
        writer.write_all(head.as_bytes()).await.expect("sent");
        let chunk = format!("10000\r\n{}\r\n", " ".repeat(0x10000));
        for _ in 0..total / 0x10000 {
            if writer.write_all(chunk.as_bytes()).await.is_err() {
                return;
            }
        }
    });
    let mut buf = vec![0u8; 512];
    let n = tokio::time::timeout(PATIENCE, reader.read(&mut buf))
        .await
        .expect("answered")
        .expect("read");
    sending.abort();
    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
    text.lines().next().unwrap_or("").to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_delivery_without_the_secret_is_refused_before_its_body_and_a_trickled_body_is_cut() {
    let org = SimOrg::start(small_org()).await.expect("org starts");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut daemon = hook_daemon(&org, dir.path(), "").await;
    let addr = daemon.base.trim_start_matches("http://").to_owned();
    // A body of 200,000 bytes promised, one sent.
    let head = |auth: &str, length: usize| {
        format!(
            "POST /hooks/okta HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
             {auth}Content-Length: {length}\r\n\r\n{{"
        )
    };
    let secret = format!("Authorization: {SECRET}\r\n");

    assert_eq!(
        answer_to(&addr, &head("", 200_000)).await,
        "HTTP/1.1 401 Unauthorized"
    );
    let wrong = head("Authorization: not-it\r\n", 200_000);
    assert_eq!(answer_to(&addr, &wrong).await, "HTTP/1.1 401 Unauthorized");
    let too_large = head(&secret, 64 << 20);
    assert_eq!(
        answer_to(&addr, &too_large).await,
        "HTTP/1.1 413 Payload Too Large"
    );
    // Chunked, so no length says it first: refused once the limit is read.
    let chunked = format!(
        "POST /hooks/okta HTTP/1.1\r\nHost: {addr}\r\n{secret}Transfer-Encoding: chunked\r\n\r\n"
    );
    assert_eq!(
        answer_to_chunks(&addr, &chunked, 5 << 20).await,
        "HTTP/1.1 413 Payload Too Large"
    );
    assert_eq!(
        answer_to(&addr, &head(&secret, 200_000)).await,
        "HTTP/1.1 408 Request Timeout",
        "a body that does not come in time is cut"
    );

    let (_, metrics) = daemon.get("/metrics").await;
    for counted in [
        r#"revokd_hook_requests_total{result="unauthorized"} 2"#,
        r#"revokd_hook_requests_total{result="too_large"} 2"#,
        r#"revokd_hook_requests_total{result="slow_body"} 1"#,
    ] {
        assert!(metrics.contains(counted), "{counted} in {metrics}");
    }
    assert!(jobs(&daemon.pool).await.is_empty());
    assert!(org.requests().is_empty(), "{:?}", org.requests());
    daemon.signal("TERM").await;
    assert_eq!(daemon.wait_exit(PATIENCE).await.code(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_secret_rotated_across_reloads_loses_no_delivery_and_the_old_one_ends() {
    let org = SimOrg::start(small_org()).await.expect("org starts");
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("revokd.toml");
    let (old, new) = (format!("old-{SECRET}"), format!("new-{SECRET}"));
    let write = |server: &str| {
        let text = daemon_config(&org, dir.path(), "enforce", server, "");
        std::fs::write(&config, text).expect("config written");
    };
    write(&format!("hook_secret = \"{old}\""));
    let mut daemon = Running::start(&config).await;
    let url = format!("{}/hooks/okta", daemon.base);
    let mut users: Vec<String> = org.pairs().into_iter().map(|(u, _)| u).collect();
    users.sort();
    users.dedup();
    let mut users = users.into_iter().cycle();
    let mut deliver = async |secret: &str| {
        let event = org.emit_event(DEACTIVATE, &users.next().expect("a user"));
        let statuses = org
            .deliver_hook(&url, secret, &[event], Delivery::Once)
            .await;
        statuses.expect("delivered")
    };
    assert_eq!(deliver(&old).await, [200]);

    // The overlap: the new secret in force, the old one accepted as well.
    write(&format!(
        "hook_secret = \"{new}\"\nhook_secret_previous = \"{old}\""
    ));
    daemon.signal("HUP").await;
    daemon.wait_for_log("configuration reloaded").await;
    daemon
        .wait_for_log("server.hook_secret_previous is set")
        .await;
    assert_eq!(deliver(&old).await, [200], "Okta not updated yet");
    let with = "an Okta event hook delivery came with server.hook_secret";
    let line = daemon.wait_for_log(with).await;
    assert!(line.to_string().contains("_previous"), "{line}");
    assert_eq!(deliver(&new).await, [200], "Okta updated");
    let line = daemon.wait_for_log(with).await;
    assert!(line.to_string().contains("once none comes with"), "{line}");

    // The overlap ended: the old secret is refused.
    write(&format!("hook_secret = \"{new}\""));
    daemon.signal("HUP").await;
    daemon.wait_for_log("configuration reloaded").await;
    assert_eq!(deliver(&old).await, [401]);
    assert_eq!(deliver(&new).await, [200]);
    let rows = jobs(&daemon.pool).await;
    assert_eq!(rows.len(), 4, "{rows:?}");
    daemon.signal("TERM").await;
    assert_eq!(daemon.wait_exit(PATIENCE).await.code(), Some(0));
}

/// A flood of requests without the secret is refused one by one and counted one by one, but
/// logged once a minute, with how many were left unlogged: it cannot drown the log (journald
/// drops a unit's lines past its rate, the useful ones with the rest).
#[tokio::test(flavor = "multi_thread")]
async fn a_flood_of_refused_deliveries_is_counted_each_and_logged_once_a_minute() {
    let org = SimOrg::start(small_org()).await.expect("org starts");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut daemon = hook_daemon(&org, dir.path(), "").await;
    let url = format!("{}/hooks/okta", daemon.base);
    let event = org.emit_event(DEACTIVATE, "00uflood");
    for _ in 0..40 {
        let sent = org
            .deliver_hook(
                &url,
                "not-the-secret",
                std::slice::from_ref(&event),
                Delivery::Once,
            )
            .await
            .expect("sent");
        assert_eq!(sent, vec![401]);
    }
    let scrape = crate::daemon::prom::parse(&daemon.get("/metrics").await.1);
    let refused = scrape.value("revokd_hook_requests_total", &[("result", "unauthorized")]);
    assert_eq!(refused, 40.0);
    daemon.signal("TERM").await;
    assert_eq!(daemon.wait_exit(PATIENCE).await.code(), Some(0));
    let lines: Vec<&serde_json::Value> = daemon
        .seen
        .iter()
        .filter(|l| crate::daemon::harness::message(l).contains("wrong or missing Authorization"))
        .collect();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["refused_unlogged"], 0, "{lines:?}");
    assert!(jobs(&daemon.pool).await.is_empty());
}
