//! systemd's notify protocol (sd-notify): `READY=1` once migrations ran and the scheduler
//! started, `STOPPING=1` with the stop's budget (`EXTEND_TIMEOUT_USEC`) when shutdown begins, and `WATCHDOG=1` at half of `WATCHDOG_USEC`
//! when the unit sets `WatchdogSec=`. Outside systemd (no `NOTIFY_SOCKET`) every call is a
//! no-op. A failed notification is logged at debug and otherwise ignored: systemd itself
//! reports a unit that never became ready.

use std::time::Duration;

use sd_notify::NotifyState;
use tokio::task::JoinHandle;
use tracing::debug;

fn send(state: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(false, state) {
        debug!(error.message = %e, "sd_notify failed");
    }
}

/// `READY=1`.
pub fn ready() {
    send(&[NotifyState::Ready]);
}

/// `STOPPING=1`, with `EXTEND_TIMEOUT_USEC` of `within`: systemd lets the stop run that long
/// from now, past a shorter `TimeoutStopSec=` of the unit.
pub fn stopping_within(within: Duration) {
    let usec = u32::try_from(within.as_micros()).unwrap_or(u32::MAX);
    send(&[NotifyState::Stopping, NotifyState::ExtendTimeoutUsec(usec)]);
}

/// Pings `WATCHDOG=1` at half the interval systemd asked for, if it asked; the task ends
/// when aborted.
pub fn spawn_watchdog() -> Option<JoinHandle<()>> {
    let mut usec = 0;
    if !sd_notify::watchdog_enabled(false, &mut usec) || usec == 0 {
        return None;
    }
    let every = Duration::from_micros(usec) / 2;
    debug!(every_ms = every.as_millis(), "systemd watchdog enabled");
    Some(tokio::spawn(async move {
        let mut interval = tokio::time::interval(every);
        loop {
            interval.tick().await;
            send(&[NotifyState::Watchdog]);
        }
    }))
}
