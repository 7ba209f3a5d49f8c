//! The observation writer a sweep lists through: one task, one connection, pages grouped into
//! transactions.
//!
//! Listing runs many targets at once; each page writes a `tokens` upsert and a
//! `token_snapshots` row per token. Token ids are random, so every page touches index pages
//! all over the `tokens` primary key and the snapshots' token index, and each commit rewrites
//! them into the WAL. One writer takes the jobs in arrival order and writes as many as are
//! waiting (up to [`MAX_BATCH_TOKENS`]) in one transaction, so a commit carries several pages,
//! and no lister waits on another's write lock. Its connection does not checkpoint: after each
//! commit a passive checkpoint runs on another connection, beside the writer.
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

use super::tokens::{
    Observed, TargetResult, TokenObservation, write_gone, write_observed, write_target,
};
use super::{Error, Store, ts};

/// A transaction stops taking more jobs at this many tokens.
pub const MAX_BATCH_TOKENS: usize = 4_000;

/// Jobs waiting for the writer. Bounds memory: listers wait when it is full.
const QUEUE: usize = 16;

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
    },
}

impl Work {
    fn tokens(&self) -> usize {
        match self {
            Work::Page { rows, .. } => rows.len(),
            Work::FinishTarget { .. } => 1,
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

/// The writer's handle. Dropping it (or [`Ingest::close`]) lets the writer finish what it has
/// and stop.
#[derive(Debug)]
pub struct Ingest {
    jobs: mpsc::Sender<Job>,
    worker: JoinHandle<()>,
    failure: Failure,
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
            jobs,
            worker,
            failure,
        })
    }
}

impl Ingest {
    /// Sends a page of observations (waiting while [`QUEUE`] jobs are outstanding).
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
    ) -> Result<Pending, Error> {
        self.send(Work::FinishTarget {
            gone_before,
            result,
        })
        .await
    }

    /// Stops the writer after the jobs already sent.
    pub async fn close(self) {
        drop(self.jobs);
        let _ = self.worker.await;
    }

    async fn send(&self, work: Work) -> Result<Pending, Error> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job { work, reply })
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
            tracing::debug!(error.message = %e, "background checkpoint failed; the next commit retries");
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
            Work::FinishTarget { .. } => String::new(),
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
            Work::FinishTarget { .. } => None,
        })
        .flatten()
        .collect();

    let mut tx = conn.begin().await?;
    let back = write_observed(&mut tx, &mut rows).await?;
    for job in batch.iter() {
        if let Work::FinishTarget {
            gone_before,
            result,
        } = &job.work
        {
            if let Some(since) = gone_before {
                let (user, client) = (&result.user_id, &result.client_id);
                write_gone(&mut *tx, user, client, *since, result.polled_at).await?;
            }
            write_target(&mut *tx, result).await?;
        }
    }
    tx.commit().await?;
    Ok(batch
        .iter()
        .map(|job| match &job.work {
            Work::Page { rows, .. } if !back.is_empty() => rows
                .iter()
                .filter(|t| back.binary_search(&t.token_id).is_ok())
                .map(|t| t.token_id.clone())
                .collect(),
            _ => Vec::new(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::store::{Fault, StoreOptions, TargetOutcome};

    fn obs(user: &str, id: &str, raw: &str) -> TokenObservation {
        TokenObservation {
            token_id: id.into(),
            user_id: user.into(),
            client_id: "0oa1".into(),
            issuer: None,
            status: Some("ACTIVE".into()),
            scopes_json: "[]".into(),
            created_at: None,
            last_updated_at: None,
            expires_at: None,
            raw_json: raw.into(),
            policy_matches: "[]".into(),
        }
    }

    fn closing(user: &str, at: DateTime<Utc>) -> TargetResult {
        TargetResult {
            user_id: user.into(),
            client_id: "0oa1".into(),
            source: "config",
            outcome: TargetOutcome::Ok,
            error: None,
            polled_at: at,
        }
    }

    async fn present(store: &Store, user: &str) -> Vec<String> {
        sqlx::query_scalar(
            "SELECT token_id FROM tokens WHERE user_id = ? AND gone_at IS NULL ORDER BY token_id",
        )
        .bind(user)
        .fetch_all(store.pool())
        .await
        .unwrap()
    }

    #[sqlx::test(migrations = "./migrations")]
    async fn interleaved_targets_are_written_whole_and_each_close_marks_only_its_own_pair(
        pool: sqlx::SqlitePool,
    ) {
        let store = Store::from_pool(pool).await.unwrap();
        let t0 = Utc::now() - Duration::minutes(5);
        let old = [obs("00uA", "oarAold", "{}"), obs("00uB", "oarBold", "{}")];
        store.record_page(None, &old, t0).await.unwrap();

        let ingest = store.ingest().await.unwrap();
        let start = Utc::now();
        let page = |user: &str, ids: &[&str]| -> Vec<TokenObservation> {
            ids.iter().map(|id| obs(user, id, r#"{"v":1}"#)).collect()
        };
        let now = start + Duration::seconds(1);
        let mut writes = vec![
            ingest
                .page(None, page("00uA", &["oarA2", "oarA1"]), now)
                .await
                .unwrap(),
            ingest
                .page(None, page("00uB", &["oarB1"]), now)
                .await
                .unwrap(),
            ingest
                .finish_target(Some(start), closing("00uA", now))
                .await
                .unwrap(),
        ];
        // Pair B's closing waits for its second page, sent after pair A closed.
        let later = now + Duration::seconds(1);
        writes.push(
            ingest
                .page(None, page("00uB", &["oarB2"]), later)
                .await
                .unwrap(),
        );
        writes.push(
            ingest
                .finish_target(Some(start), closing("00uB", later))
                .await
                .unwrap(),
        );
        for write in writes {
            assert!(write.committed().await.unwrap().is_empty());
        }
        ingest.close().await;

        assert_eq!(present(&store, "00uA").await, ["oarA1", "oarA2"]);
        assert_eq!(present(&store, "00uB").await, ["oarB1", "oarB2"]);
        let snapshots: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM token_snapshots")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(snapshots, 2 + 4);
        let b2_seen: String =
            sqlx::query_scalar("SELECT observed_at FROM token_snapshots WHERE token_id = 'oarB2'")
                .fetch_one(store.pool())
                .await
                .unwrap();
        assert_eq!(b2_seen, ts(later), "each row keeps its own page's time");
        let targets: Vec<(String, String)> =
            sqlx::query_as("SELECT user_id, last_result FROM targets ORDER BY user_id")
                .fetch_all(store.pool())
                .await
                .unwrap();
        assert_eq!(
            targets,
            [("00uA".into(), "ok".into()), ("00uB".into(), "ok".into())]
        );
    }

    #[sqlx::test(migrations = "./migrations")]
    async fn a_revoked_token_listed_again_is_answered_to_the_page_that_listed_it(
        pool: sqlx::SqlitePool,
    ) {
        let store = Store::from_pool(pool).await.unwrap();
        let t0 = Utc::now() - Duration::minutes(5);
        store
            .record_page(None, &[obs("00uA", "oarBack", "{}")], t0)
            .await
            .unwrap();
        store.mark_revoked("oarBack", t0).await.unwrap();

        let ingest = store.ingest().await.unwrap();
        let now = Utc::now();
        let mut inactive = obs("00uB", "oarOther", "{}");
        inactive.status = Some("REVOKED".into());
        let quiet = ingest.page(None, vec![inactive], now).await.unwrap();
        let listing = vec![obs("00uA", "oarNew", "{}"), obs("00uA", "oarBack", "{}")];
        let loud = ingest.page(None, listing, now).await.unwrap();
        assert!(quiet.committed().await.unwrap().is_empty());
        assert_eq!(loud.committed().await.unwrap(), ["oarBack"]);
        ingest.close().await;
        let reappeared: Option<String> =
            sqlx::query_scalar("SELECT reappeared_at FROM tokens WHERE token_id = 'oarBack'")
                .fetch_one(store.pool())
                .await
                .unwrap();
        assert_eq!(reappeared, Some(ts(now)));
    }

    #[tokio::test]
    async fn the_wal_starts_over_while_the_writer_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("wal.db");
        let store = Store::connect(&format!("sqlite://{}", db.display()))
            .await
            .unwrap();
        let ingest = store.ingest().await.unwrap();
        let raw = "x".repeat(2_000);
        let (pages, per_page) = (40, 50);
        for p in 0..pages {
            let rows = (0..per_page)
                .map(|i| obs("00uA", &format!("oar{p:03}{i:03}"), &raw))
                .collect();
            // One commit per page: each is answered before the next is sent.
            let write = ingest.page(None, rows, Utc::now()).await.unwrap();
            write.committed().await.unwrap();
        }
        ingest.close().await;
        let written = (pages * per_page * raw.len()) as u64;
        let wal = std::fs::metadata(dir.path().join("wal.db-wal"))
            .unwrap()
            .len();
        assert!(
            wal < written / 2,
            "the WAL grew with the data: {wal} bytes for {written} written"
        );
        assert_eq!(present(&store, "00uA").await.len(), pages * per_page);
    }

    #[tokio::test]
    async fn a_failed_transaction_fails_its_pages_and_every_later_send_with_its_fault() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("full.db").display());
        let store = Store::connect(&url).await.unwrap();
        let pages: i64 = sqlx::query_scalar("PRAGMA page_count")
            .fetch_one(store.pool())
            .await
            .unwrap();
        store.close().await;
        let room = (u64::try_from(pages).unwrap() + 4) * crate::store::PAGE_SIZE;
        let options = StoreOptions {
            max_size: Some(room),
            ..StoreOptions::default()
        };
        let store = Store::connect_with(&url, &options).await.unwrap();

        let ingest = store.ingest().await.unwrap();
        let raw = "x".repeat(2_000);
        let big: Vec<_> = (0..200)
            .map(|i| obs("00uA", &format!("oar{i:04}"), &raw))
            .collect();
        let page = ingest.page(None, big, Utc::now()).await.unwrap();
        let e = page.committed().await.unwrap_err();
        assert_eq!(e.fault(), Some(Fault::Full), "{e}");
        let later = match ingest
            .page(None, vec![obs("00uA", "oarLate", "{}")], Utc::now())
            .await
        {
            Ok(pending) => pending.committed().await.unwrap_err(),
            Err(e) => e,
        };
        assert_eq!(later.fault(), Some(Fault::Full), "{later}");
        ingest.close().await;
        assert!(
            present(&store, "00uA").await.is_empty(),
            "nothing half-written"
        );
    }
}
