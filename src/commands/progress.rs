//! The progress line on stderr for `sweep`, `demo` and `offboard`: redrawn a few times a
//! second while stderr is a terminal, never otherwise (journald, CI, pipes).

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::sweep::Progress;

/// A running progress line; [`Line::finish`] clears it.
pub(super) struct Line {
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

/// Starts drawing `progress` if stderr is a terminal.
pub(super) fn show(progress: Arc<Progress>) -> Line {
    if !std::io::stderr().is_terminal() {
        return Line {
            stop: None,
            task: None,
        };
    }
    let (stop, mut stopped) = oneshot::channel();
    let task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    let mut err = std::io::stderr().lock();
                    let _ = write!(err, "\r\x1b[2K{}", progress.snapshot().render());
                    let _ = err.flush();
                }
                _ = &mut stopped => break,
            }
        }
        let _ = write!(std::io::stderr(), "\r\x1b[2K");
    });
    Line {
        stop: Some(stop),
        task: Some(task),
    }
}

impl Line {
    /// Stops drawing and clears the line.
    pub(super) async fn finish(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}
