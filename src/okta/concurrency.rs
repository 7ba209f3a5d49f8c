//! Adaptive concurrency (AIMD): how many requests revokd keeps in flight to Okta. A
//! concurrency 429 (`X-Rate-Limit-Limit: 0`, `-Remaining: 0`) halves the limit, once per
//! round: 429s answering requests sent before the last decrease are the same burst and do not
//! halve it again. Each success raises it by `1/limit`, about one more request per round of
//! successes, back up to `okta.concurrency`.

use std::sync::Mutex;

use tokio::sync::Notify;
use tokio::time::Instant;

/// How a request ended, for the limiter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// Okta's concurrency 429.
    Concurrency,
    /// Any other answer (or none).
    Other,
}

#[derive(Debug)]
struct State {
    limit: f64,
    in_flight: usize,
    last_decrease: Option<Instant>,
}

/// The shared limiter.
#[derive(Debug)]
pub struct Aimd {
    max: usize,
    state: Mutex<State>,
    freed: Notify,
}

/// One request's place in flight; released on drop.
pub struct Permit<'a> {
    aimd: &'a Aimd,
    signal: Signal,
    issued_at: Instant,
}

impl Permit<'_> {
    /// Records what the request's answer said.
    pub fn finish(mut self, signal: Signal) {
        self.signal = signal;
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.aimd.release(self.signal, self.issued_at);
    }
}

impl Aimd {
    /// A limiter allowing up to `max` requests in flight.
    pub fn new(max: usize) -> Self {
        let max = max.max(1);
        Aimd {
            max,
            state: Mutex::new(State {
                limit: max as f64,
                in_flight: 0,
                last_decrease: None,
            }),
            freed: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The current limit, rounded down.
    pub fn limit(&self) -> usize {
        self.lock().limit as usize
    }

    /// Waits for a place in flight.
    pub async fn acquire(&self) -> Permit<'_> {
        loop {
            let freed = self.freed.notified();
            {
                let mut s = self.lock();
                if s.in_flight < (s.limit as usize).max(1) {
                    s.in_flight += 1;
                    return Permit {
                        aimd: self,
                        signal: Signal::Other,
                        issued_at: Instant::now(),
                    };
                }
            }
            freed.await;
        }
    }

    fn release(&self, signal: Signal, issued_at: Instant) {
        {
            let mut s = self.lock();
            s.in_flight = s.in_flight.saturating_sub(1);
            match signal {
                Signal::Concurrency => {
                    if s.last_decrease.is_none_or(|t| issued_at > t) {
                        s.limit = (s.limit / 2.0).max(1.0);
                        s.last_decrease = Some(Instant::now());
                    }
                }
                Signal::Other => s.limit = (s.limit + 1.0 / s.limit).min(self.max as f64),
            }
        }
        self.freed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_concurrency_signal_halves_the_limit_once_per_burst_and_successes_restore_it() {
        let aimd = Aimd::new(8);
        // Three requests in flight together, all refused: one burst, one halving.
        let burst = [
            aimd.acquire().await,
            aimd.acquire().await,
            aimd.acquire().await,
        ];
        tokio::time::advance(Duration::from_millis(1)).await;
        for permit in burst {
            permit.finish(Signal::Concurrency);
        }
        assert_eq!(aimd.limit(), 4);
        // A request sent after that decrease and refused again halves it again.
        tokio::time::advance(Duration::from_millis(1)).await;
        aimd.acquire().await.finish(Signal::Concurrency);
        assert_eq!(aimd.limit(), 2);
        for _ in 0..40 {
            aimd.acquire().await.finish(Signal::Other);
        }
        assert_eq!(aimd.limit(), 8);
    }

    #[tokio::test(start_paused = true)]
    async fn no_more_than_the_limit_are_in_flight() {
        let aimd = Aimd::new(2);
        let a = aimd.acquire().await;
        let _b = aimd.acquire().await;
        let third = tokio::time::timeout(Duration::from_millis(10), aimd.acquire()).await;
        assert!(third.is_err(), "a third request got a place");
        drop(a);
        let third = tokio::time::timeout(Duration::from_millis(10), aimd.acquire()).await;
        assert!(third.is_ok());
    }
}
