//! The observation writer a sweep lists through: one task, one connection, pages grouped into
//! transactions.
//!
//! Listing runs many targets at once; each page writes every token's `token_state` row and a
//! history record per new or changed token (see [`super::observations`]). Token ids are
//! random, so every page touches index pages all over the `token_state` key and the history's
//! token index, and each commit rewrites them into the WAL. One writer takes the jobs in arrival order and writes the one that woke
//! it and all that are waiting (at most [`QUEUE`] more, and no more once [`MAX_BATCH_TOKENS`]
//! is reached) in one transaction, so a commit carries several pages, and no lister waits on
//! another's write lock. Its connection does not checkpoint: after each commit a passive
//! checkpoint runs on another connection, beside the writer.
//!
//! Sending a job does not wait for its commit: listers go on fetching while the writer works,
//! and wait only when [`QUEUE`] jobs are outstanding. Each job's answer ([`Pending`]) arrives
//! once its transaction committed. A page is never split across transactions, and a target's
//! closing job is written after its pages. The first failed transaction stops the writer:
//! every job in it, and every later send, gets that error.

use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Utc};
use sqlx::{Connection, SqliteConnection};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use super::app_cursors::AppCursorWrite;
use super::observations::{Observed, write_observed};
use super::pair_listings::{PrintWrite, count_own_changes, write_print};
use super::targets::{TargetResult, write_target};
use super::tokens::{TokenObservation, write_gone};
use super::{Error, Store, ts};

/// A transaction stops taking more jobs once it holds this many tokens (so it may hold up to
/// a page more). A ceiling: with at most [`QUEUE`] jobs waiting, of pages of at most 200
/// tokens, a transaction holds about 1,800 at most (more only if pages are queued while the
/// writer takes the waiting ones).
pub const MAX_BATCH_TOKENS: usize = 4_000;

/// Jobs waiting for the writer (pages, and the closing job of each target). Bounds memory:
/// listers wait when it is full. A queued page holds its items as Okta sent them (about 2 KiB
/// a token), and the writer takes what is queued as its next transaction, so up to about twice
/// this many pages are held at once. 8 peaks near 51 MiB at 100k tokens and 59 MiB at a
/// million, where 16 took 60-65 and 70-72 MiB, for ~3% more CPU (smaller transactions).
const QUEUE: usize = 8;

/// Every this many commits the writer waits for a checkpoint to catch up with it, so that its
/// next transaction starts the WAL over. Without the pause the checkpoints trail the writer
/// for the whole sweep and the WAL (and the WAL index every connection maps) grows with the
/// org: 9.6 GB of WAL for a million tokens.
const CATCH_UP_EVERY: u64 = 4;

/// A job's answer once its transaction committed: the ids of revoked tokens a page listed as
/// ACTIVE again (none for other jobs). Errors are shared: one failed transaction fails every
/// job in it.
type Reply = oneshot::Sender<Result<Vec<String>, Arc<Error>>>;

enum Work {
    Page {
        sweep_id: Option<i64>,
        rows: Vec<TokenObservation>,
        observed_at: DateTime<Utc>,
    },
    FinishTarget {
        /// `Some(start)` after a complete listing: tokens of the pair last seen before it are
        /// marked gone.
        gone_before: Option<DateTime<Utc>>,
        result: TargetResult,
        /// The listing's fingerprint.
        print: PrintWrite,
    },
    /// Where an app's listing stands, written after the page it follows.
    AppCursor(AppCursorWrite),
}

impl Work {
    fn tokens(&self) -> usize {
        match self {
            Work::Page { rows, .. } => rows.len(),
            Work::FinishTarget { .. } | Work::AppCursor(_) => 1,
        }
    }
}

struct Job {
    work: Work,
    reply: Reply,
}

/// The first error that stopped the writer, kept for the jobs sent after it.
type Failure = Arc<OnceLock<Arc<Error>>>;

/// A job sent to the writer; [`Pending::committed`] waits for its transaction.
#[derive(Debug)]
pub struct Pending {
    answer: oneshot::Receiver<Result<Vec<String>, Arc<Error>>>,
    failure: Failure,
}

impl Pending {
    /// Waits until the job is committed. For a page: the ids of revoked tokens it listed as
    /// ACTIVE again. For a target's closing job: nothing.
    pub async fn committed(self) -> Result<Vec<String>, Error> {
        match self.answer.await {
            Ok(Ok(back)) => Ok(back),
            Ok(Err(e)) => Err(Error::Shared(e)),
            Err(_) => Err(stopped(&self.failure)),
        }
    }
}

fn stopped(failure: &Failure) -> Error {
    failure
        .get()
        .map_or(Error::WriterStopped, |e| Error::Shared(Arc::clone(e)))
}

/// The writer's handle. [`Ingest::close`] lets the writer finish what was sent and stop;
/// dropping the handle instead (a cancelled sweep) stops it at once, rolling back the open
/// transaction, so nothing is written for a sweep already closed.
#[derive(Debug)]
pub struct Ingest {
    jobs: Option<mpsc::Sender<Job>>,
    worker: Option<JoinHandle<()>>,
    failure: Failure,
}

impl Drop for Ingest {
    fn drop(&mut self) {
        if let Some(worker) = &self.worker {
            worker.abort();
        }
    }
}

impl Store {
    /// Starts an observation writer on a connection of its own, taken out of the pool for the
    /// writer's lifetime.
    pub async fn ingest(&self) -> Result<Ingest, Error> {
        let mut conn = self.pool.acquire().await?.detach();
        // Its commits leave checkpointing to `checkpoints`, on another connection.
        sqlx::query("PRAGMA wal_autocheckpoint = 0")
            .execute(&mut conn)
            .await?;
        // A multi-row write inside a transaction keeps the pages it changes in a statement
        // journal, to undo that statement alone. A batch's writes touch more pages than the
        // journal holds in memory before spilling to a temporary file, and the spill costs
        // more than the pages themselves: the writer keeps it in memory. (Only here: reports
        // sort large results, and their temporary files should stay files.)
        sqlx::query("PRAGMA temp_store = MEMORY")
            .execute(&mut conn)
            .await?;
        count_own_changes(&mut conn).await?;
        let (jobs, queue) = mpsc::channel(QUEUE);
        let failure = Failure::default();
        let (commits, committed) = watch::channel(0u64);
        let (caught_up, checkpointed) = watch::channel(0u64);
        tokio::spawn(checkpoints(self.pool.clone(), committed, caught_up));
        let wal = Wal {
            commits,
            checkpointed,
        };
        let worker = tokio::spawn(run(conn, queue, Arc::clone(&failure), wal));
        Ok(Ingest {
            jobs: Some(jobs),
            worker: Some(worker),
            failure,
        })
    }
}

impl Ingest {
    /// Sends a page of observations, waiting while the writer's queue is full.
    pub async fn page(
        &self,
        sweep_id: Option<i64>,
        rows: Vec<TokenObservation>,
        observed_at: DateTime<Utc>,
    ) -> Result<Pending, Error> {
        self.send(Work::Page {
            sweep_id,
            rows,
            observed_at,
        })
        .await
    }

    /// Closes a target after its pages: marks its unlisted tokens gone when `gone_before` is
    /// given (the start of a complete listing), and records its `targets` row.
    pub async fn finish_target(
        &self,
        gone_before: Option<DateTime<Utc>>,
        result: TargetResult,
        print: PrintWrite,
    ) -> Result<Pending, Error> {
        self.send(Work::FinishTarget {
            gone_before,
            result,
            print,
        })
        .await
    }

    /// Records where an app's listing stands, in the transaction of the pages sent before it
    /// or a later one.
    pub async fn app_cursor(&self, write: AppCursorWrite) -> Result<Pending, Error> {
        self.send(Work::AppCursor(write)).await
    }

    /// Stops the writer after the jobs already sent.
    pub async fn close(mut self) {
        self.jobs = None;
        if let Some(worker) = self.worker.take()
            && let Err(e) = worker.await
        {
            tracing::error!(error.message = %e, "the observation writer failed");
        }
    }

    async fn send(&self, work: Work) -> Result<Pending, Error> {
        let (reply, answer) = oneshot::channel();
        let jobs = self.jobs.as_ref().ok_or(Error::WriterStopped)?;
        jobs.send(Job { work, reply })
            .await
            .map_err(|_| stopped(&self.failure))?;
        Ok(Pending {
            answer,
            failure: Arc::clone(&self.failure),
        })
    }
}

/// Copies committed WAL frames into the database on a pool connection while the writer goes
/// on (SQLite's passive checkpoint never blocks it), so the copying runs beside the writing
/// instead of inside the writer's commits. After each pass it tells the writer which commit
/// the pass started after.
async fn checkpoints(
    pool: sqlx::SqlitePool,
    mut committed: watch::Receiver<u64>,
    caught_up: watch::Sender<u64>,
) {
    while committed.changed().await.is_ok() {
        let through = *committed.borrow_and_update();
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&pool)
            .await
        {
            tracing::warn!(error.message = %e, "WAL checkpoint failed; the next commit retries");
        }
        caught_up.send_replace(through);
    }
}

/// The writer's side of the checkpoints: the commits it announces, the checkpoints it hears of.
struct Wal {
    commits: watch::Sender<u64>,
    checkpointed: watch::Receiver<u64>,
}

impl Wal {
    /// Announces a commit; every [`CATCH_UP_EVERY`] commits, waits for a checkpoint pass that
    /// started after it, so the next transaction can restart the WAL.
    async fn committed(&mut self) {
        let mut n = 0;
        self.commits.send_modify(|c| {
            *c += 1;
            n = *c;
        });
        if n % CATCH_UP_EVERY == 0 {
            // An error means the checkpoint task is gone: nothing to wait for.
            let _ = self.checkpointed.wait_for(|&c| c >= n).await;
        }
    }
}

async fn run(
    mut conn: SqliteConnection,
    mut queue: mpsc::Receiver<Job>,
    failure: Failure,
    mut wal: Wal,
) {
    while let Some(first) = queue.recv().await {
        let mut batch = vec![first];
        match write_batch(&mut conn, &mut batch, &mut queue).await {
            Ok(done) => {
                for (job, done) in batch.into_iter().zip(done) {
                    // A lister that went away no longer needs its answer.
                    let _ = job.reply.send(Ok(done));
                }
                wal.committed().await;
            }
            Err(e) => {
                let e = Arc::new(e);
                let _ = failure.set(Arc::clone(&e));
                queue.close();
                for job in batch {
                    let _ = job.reply.send(Err(Arc::clone(&e)));
                }
                break;
            }
        }
    }
    let _ = conn.close().await;
}

/// Takes `batch[0]` and whatever else is already queued (appending it to `batch`) and writes
/// it in one transaction: every page's rows together (see [`write_observed`]), then each
/// target's closing writes, which only ever follow their own pages. Returns each job's answer,
/// in order, once committed.
async fn write_batch(
    conn: &mut SqliteConnection,
    batch: &mut Vec<Job>,
    queue: &mut mpsc::Receiver<Job>,
) -> Result<Vec<Vec<String>>, Error> {
    let mut tokens: usize = batch.iter().map(|j| j.work.tokens()).sum();
    while tokens < MAX_BATCH_TOKENS {
        match queue.try_recv() {
            Ok(job) => {
                tokens += job.work.tokens();
                batch.push(job);
            }
            Err(_) => break,
        }
    }
    let seen: Vec<String> = batch
        .iter()
        .map(|job| match &job.work {
            Work::Page { observed_at, .. } => ts(*observed_at),
            Work::FinishTarget { .. } | Work::AppCursor(_) => String::new(),
        })
        .collect();
    let mut rows: Vec<Observed<'_>> = batch
        .iter()
        .zip(&seen)
        .filter_map(|(job, seen)| match &job.work {
            Work::Page { sweep_id, rows, .. } => Some(rows.iter().map(move |token| Observed {
                sweep_id: *sweep_id,
                seen,
                token,
            })),
            Work::FinishTarget { .. } | Work::AppCursor(_) => None,
        })
        .flatten()
        .collect();

    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    let back = write_observed(&mut tx, &mut rows).await?;
    for job in batch.iter() {
        match &job.work {
            Work::FinishTarget {
                gone_before,
                result,
                print,
            } => {
                let (user, client) = (&result.user_id, &result.client_id);
                if let Some(since) = gone_before {
                    write_gone(&mut *tx, user, client, *since, result.polled_at).await?;
                }
                write_target(&mut *tx, result).await?;
                // Last: every write to the pair's tokens before it cleared the one before.
                match print {
                    PrintWrite::Nothing => {}
                    PrintWrite::Print {
                        sweep_id,
                        print,
                        changes,
                        tokens,
                    } => {
                        let pair = (user.as_str(), client.as_str());
                        write_print(&mut tx, pair, *sweep_id, print, *changes, *tokens).await?;
                    }
                }
            }
            Work::AppCursor(write) => write.apply(&mut tx).await?,
            Work::Page { .. } => {}
        }
    }
    tx.commit().await?;
    Ok(batch
        .iter()
        .map(|job| match &job.work {
            // `back` holds each token once, from its latest observation, which may be active.
            Work::Page { rows, .. } if !back.is_empty() => rows
                .iter()
                .filter(|t| crate::okta::model::status_may_be_active(t.status.as_deref()))
                .filter(|t| back.binary_search(&t.token_id).is_ok())
                .map(|t| t.token_id.clone())
                .collect(),
            _ => Vec::new(),
        })
        .collect())
}
