//! Which process runs a sweep: `host:pid:start` (start = the process's start time in clock
//! ticks since boot, from `/proc/<pid>/stat`), recorded on the sweep row (and the enforcer
//! lease) so that a restart can tell a sweep whose process died (its `pending` intents need
//! reconciling) from one still running.

use std::sync::OnceLock;

/// This process's runner id.
pub fn current() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        format!(
            "{}:{}:{}",
            hostname(),
            std::process::id(),
            start_ticks(std::process::id()).unwrap_or(0)
        )
    })
}

/// The host name from `uname(2)`, which works where `/proc/sys` is hidden (the systemd unit's
/// `ProcSubset=pid`): a daemon and a shell on one host name the host alike, so a live daemon
/// never looks foreign and a dead one's runner id can be checked.
fn hostname() -> String {
    rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned()
}

/// Field 22 of `/proc/<pid>/stat`: when the process started. Pids are reused; this is not.
fn start_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces; fields resume after its closing ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Whether the runner id names a process of this host (by the host name it was written with).
pub fn on_this_host(runner: &str) -> bool {
    runner
        .rsplitn(3, ':')
        .nth(2)
        .is_some_and(|host| host == hostname())
}

/// How long a process of another host (a container recreated under a new host name) may go
/// without a sign of life before it is taken for gone: its liveness cannot be asked from
/// here, and each piece of its work that leaves a mark takes minutes at most, never an hour
/// (a revocation's attempts, bounded by `okta.max_retries`, its rate-limit slot, its timeout
/// and its backoff, none starting without the enforcer lease; an offboarding job's try; a page
/// of an app listing).
pub const ELSEWHERE_QUIET: chrono::Duration = chrono::Duration::hours(1);

/// Whether a sign of life stamped `at` (RFC 3339) is within [`ELSEWHERE_QUIET`] of `now`. One
/// that cannot be read counts as recent: never act on what may still be at work.
pub fn heard_from_lately(at: &str, now: chrono::DateTime<chrono::Utc>) -> bool {
    chrono::DateTime::parse_from_rfc3339(at)
        .map_or(true, |t| now.signed_duration_since(t) <= ELSEWHERE_QUIET)
}

/// Whether the process `runner` names may still be at work: one of this host while it is
/// alive; one of another host (or an id this version cannot read) only while `lately` (its
/// last sign of life within [`ELSEWHERE_QUIET`]).
pub fn may_be_running(runner: &str, lately: bool) -> bool {
    match on_this_host(runner) {
        true => is_alive(runner),
        false => lately,
    }
}

/// Whether the process a runner id names is still running. Runners on another host, or ids
/// this version cannot read, count as alive: never reconcile what may still be in flight.
pub fn is_alive(runner: &str) -> bool {
    let mut parts = runner.rsplitn(3, ':');
    let (Some(start), Some(pid), Some(host)) = (parts.next(), parts.next(), parts.next()) else {
        return true;
    };
    if host != hostname() {
        return true;
    }
    let (Ok(pid), Ok(start)) = (pid.parse::<u32>(), start.parse::<u64>()) else {
        return true;
    };
    // kill(pid, 0) sees every process, whatever `/proc` shows (the unit's
    // `ProtectProc=invisible` hides other users' processes there): ESRCH is the one sure "gone".
    let exists = match i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    {
        Some(p) => !matches!(
            rustix::process::test_kill_process(p),
            Err(rustix::io::Errno::SRCH)
        ),
        None => false,
    };
    if !exists {
        return false;
    }
    // The pid exists: it is the same process unless its start time, when readable, differs.
    start_ticks(pid).is_none_or(|ticks| ticks == start)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_dead_one_is_not() {
        assert!(is_alive(current()));
        let host = hostname();
        let me = std::process::id();
        let start = start_ticks(me).unwrap();
        assert!(
            !is_alive(&format!("{host}:{me}:{}", start + 1)),
            "same pid, other start: a reused pid"
        );
        assert!(!is_alive(&format!("{host}:4194999:1")), "no such pid");
        assert!(is_alive("some-other-host:1:1"));
        assert!(is_alive("garbage"));
        assert!(on_this_host(current()));
        assert!(on_this_host(&format!("{host}:4194999:1")));
        assert!(!on_this_host("some-other-host:1:1"));
        assert!(!on_this_host("garbage"));
    }

    #[test]
    fn a_process_of_another_host_may_be_running_only_while_heard_from_lately() {
        let now = chrono::Utc::now();
        let ago = |m: i64| crate::store::ts(now - chrono::Duration::minutes(m));
        assert!(heard_from_lately(&ago(59), now));
        assert!(!heard_from_lately(&ago(61), now));
        assert!(
            heard_from_lately("not a time", now),
            "unreadable: never act on it"
        );
        for lately in [true, false] {
            assert_eq!(may_be_running("some-other-host:1:1", lately), lately);
            assert!(may_be_running(current(), lately));
            let dead = format!("{}:4194999:1", hostname());
            assert!(!may_be_running(&dead, lately));
        }
    }
}
