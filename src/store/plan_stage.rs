//! A sweep's plan, staged as it is decided: the revocations the policy selected and the
//! exemptions that saved tokens, each listing's entries in a temporary table of a connection
//! of its own, whose pages spill to a temporary file (never into the database, never all in
//! memory). Once the listings end, the entries of listings that did not complete are dropped,
//! and the standing records are compared with the rest in SQL; what closes is read back in
//! chunks in record order, what is new in token order, and the plan itself in the order it
//! was decided, so a plan of a million tokens costs memory for a chunk (only an enforce
//! sweep's work, which the blast-radius guard bounds, is read whole: [`PlanStage::all_entries`]).

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

use sqlx::{Connection, Sqlite, SqliteConnection};
use tokio::sync::Mutex;

use super::standing::{EntryRow, entry_of, standing_clause};
use super::{Error, RevocationState, StandingRecord, Store};

/// What a staged entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StagedKind {
    /// A revocation the policy selected.
    Planned = 0,
    /// A token an exemption saved.
    Exempt = 1,
}

impl StagedKind {
    fn code(self) -> i64 {
        self as i64
    }
}

/// One decision of a sweep's plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagedEntry {
    pub token_id: String,
    pub user_id: String,
    pub client_id: String,
    /// The matching rule names, comma-separated, in config order.
    pub policy: String,
    /// Why it was selected (or, for an exemption, which exemption saved it).
    pub reason: String,
}

impl StagedEntry {
    fn as_tuple(&self) -> (&str, &str, &str, &str, &str) {
        (
            &self.token_id,
            &self.user_id,
            &self.client_id,
            &self.policy,
            &self.reason,
        )
    }
}

/// A standing record the sweep closes, with what the sweep decided on its token.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Closing {
    #[sqlx(flatten)]
    pub record: StandingRecord,
    /// The rules that select the token now, if the policy selects it.
    pub planned_policy: Option<String>,
    /// The rules an exemption saves the token from now, and the exemption's reason.
    pub exempt_policy: Option<String>,
    pub exempt_reason: Option<String>,
    /// What the token's row says of it: [`REVOKED_BY_REVOKD`] (not listed ACTIVE since), else,
    /// while Okta lists it, its status as last listed (`""` when none); `None` once gone.
    pub listed_as: Option<String>,
}

/// [`Closing::listed_as`] of a token revokd revoked.
pub const REVOKED_BY_REVOKD: &str = "revoked by revokd";

/// Settled entries of a kind after a position, in the order they were decided.
const ENTRIES: &str = "SELECT seq, token_id, user_id, client_id, policy, reason FROM temp.plan
    WHERE kind = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3";

/// A failure of a write to the stage, told as one (it is the temporary file that failed, not
/// the database).
fn staging(e: Error) -> Error {
    match e {
        Error::Sqlx(e) => Error::Staging(e),
        other => other,
    }
}

/// A value as JSON text, to bind as one parameter.
fn to_json(value: &impl serde::Serialize) -> Result<String, Error> {
    Ok(serde_json::to_string(value).map_err(|e| sqlx::Error::Encode(e.into()))?)
}

/// `sql` (selecting `seq` and an entry's five columns, ordered by `order`) read as one JSON
/// array of rows: per row, sqlx costs more than SQLite's reading.
fn as_json(sql: &str, order: &str) -> String {
    format!(
        "SELECT json_group_array(json_array(seq, token_id, user_id, client_id, policy, reason)
                                 ORDER BY {order})
         FROM ({sql})"
    )
}

/// The staged plan of one sweep, on a connection of its own: [`PlanStage::close`] closes it
/// and SQLite deletes the temporary file.
#[derive(Debug)]
pub struct PlanStage {
    pub(super) conn: Mutex<SqliteConnection>,
    /// Whether any pair or app settled: if none did, no standing record closes (and none is
    /// looked at to find that out).
    settled_any: AtomicBool,
    /// [`ENTRIES`] read as JSON.
    entries_sql: String,
}

impl Store {
    /// A new, empty plan stage on a connection of its own, taken out of the pool.
    pub async fn plan_stage(&self) -> Result<PlanStage, Error> {
        let mut conn = self.pool.acquire().await?.detach();
        // Temporary tables in a temporary file whose pages this connection caches up to
        // 1 MiB, so the plan's size costs disk the OS can cache, not the process's memory.
        for sql in [
            "PRAGMA temp_store = FILE",
            "PRAGMA temp.cache_size = -1024",
            "CREATE TEMP TABLE plan (
                seq INTEGER PRIMARY KEY,
                kind INTEGER NOT NULL,
                via_app INTEGER NOT NULL,
                token_id TEXT NOT NULL,
                user_id TEXT NOT NULL,
                client_id TEXT NOT NULL,
                policy TEXT NOT NULL,
                reason TEXT NOT NULL
            )",
            "CREATE TEMP TABLE done_pairs (
                user_id TEXT NOT NULL, client_id TEXT NOT NULL, PRIMARY KEY (user_id, client_id)
            ) WITHOUT ROWID",
            "CREATE TEMP TABLE done_apps (client_id TEXT PRIMARY KEY) WITHOUT ROWID",
        ] {
            sqlx::query(sql).execute(&mut conn).await?;
        }
        Ok(PlanStage {
            conn: Mutex::new(conn),
            settled_any: false.into(),
            entries_sql: as_json(ENTRIES, "seq"),
        })
    }
}

impl PlanStage {
    /// Closes the stage's connection and waits for it: a sweep that returned leaves no
    /// connection of its own closing behind it (the last to close checkpoints the WAL into
    /// the database file, which must not change after the sweep).
    pub async fn close(self) {
        if let Err(e) = self.conn.into_inner().close().await {
            tracing::debug!(error.message = %e, "the plan stage's connection closed badly");
        }
    }

    /// Stages a listing's new decisions, `planned` and `exempt`, after those staged before;
    /// `via_app` when an app's listing decided them (else a pair's).
    pub async fn add(
        &self,
        via_app: bool,
        planned: Vec<StagedEntry>,
        exempt: Vec<StagedEntry>,
    ) -> Result<(), Error> {
        if planned.is_empty() && exempt.is_empty() {
            return Ok(());
        }
        self.write(via_app, planned, exempt).await.map_err(staging)
    }

    async fn write(
        &self,
        via_app: bool,
        planned: Vec<StagedEntry>,
        exempt: Vec<StagedEntry>,
    ) -> Result<(), Error> {
        // A page's entries go in as one JSON array, taken apart by SQLite: binding seven
        // values per entry cost more than the insert itself.
        let mut conn = self.conn.lock().await;
        let mut tx = conn.begin().await?;
        for (kind, entries) in [(StagedKind::Planned, planned), (StagedKind::Exempt, exempt)] {
            if entries.is_empty() {
                continue;
            }
            let rows: Vec<_> = entries.iter().map(StagedEntry::as_tuple).collect();
            sqlx::query(
                "INSERT INTO temp.plan (kind, via_app, token_id, user_id, client_id, policy, reason)
                 SELECT ?1, ?2, j.value ->> 0, j.value ->> 1, j.value ->> 2, j.value ->> 3,
                        j.value ->> 4
                 FROM json_each(?3) AS j ORDER BY j.key",
            )
            .bind(kind.code())
            .bind(via_app)
            .bind(to_json(&rows)?)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Keeps only what the listings that completed decided (`pairs`, and every pair of
    /// `apps`; `all_completed` when every listing that staged entries did), and of a token
    /// decided more than once (Okta listed it twice) its first entry of each kind; from here on
    /// the standing records of those pairs and apps are the ones compared. Returns how many
    /// revocations the settled plan holds.
    pub async fn settle(
        &self,
        pairs: &HashSet<(&str, &str)>,
        apps: &HashSet<String>,
        all_completed: bool,
    ) -> Result<u64, Error> {
        (self.settle_in(pairs, apps, all_completed).await).map_err(staging)
    }

    async fn settle_in(
        &self,
        pairs: &HashSet<(&str, &str)>,
        apps: &HashSet<String>,
        all_completed: bool,
    ) -> Result<u64, Error> {
        let any = !pairs.is_empty() || !apps.is_empty();
        self.settled_any
            .store(any, std::sync::atomic::Ordering::Relaxed);
        let mut conn = self.conn.lock().await;
        let mut tx = conn.begin().await?;
        let pairs: Vec<[&str; 2]> = pairs.iter().map(|&(u, c)| [u, c]).collect();
        sqlx::query(
            "INSERT INTO temp.done_pairs (user_id, client_id)
             SELECT j.value ->> 0, j.value ->> 1 FROM json_each(?1) AS j",
        )
        .bind(to_json(&pairs)?)
        .execute(&mut *tx)
        .await?;
        sqlx::query("INSERT INTO temp.done_apps (client_id) SELECT value FROM json_each(?1)")
            .bind(to_json(apps)?)
            .execute(&mut *tx)
            .await?;
        if !all_completed {
            sqlx::query(
                "DELETE FROM temp.plan WHERE NOT CASE via_app
                    WHEN 0 THEN EXISTS (SELECT 1 FROM temp.done_pairs d
                                        WHERE d.user_id = plan.user_id AND d.client_id = plan.client_id)
                    ELSE EXISTS (SELECT 1 FROM temp.done_apps a WHERE a.client_id = plan.client_id)
                 END",
            )
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("CREATE INDEX temp.plan_by_token ON plan (token_id, kind, seq)")
            .execute(&mut *tx)
            .await?;
        // The repeats are found walking the index, where each entry's predecessor is its
        // neighbour: a walk in `seq` order would look each token up all over the index.
        sqlx::query(
            "DELETE FROM temp.plan WHERE seq IN (
                SELECT p.seq FROM temp.plan p INDEXED BY plan_by_token
                WHERE EXISTS (SELECT 1 FROM temp.plan q INDEXED BY plan_by_token
                    WHERE q.token_id = p.token_id AND q.kind = p.kind AND q.seq < p.seq))",
        )
        .execute(&mut *tx)
        .await?;
        let planned: i64 = sqlx::query_scalar("SELECT count(*) FROM temp.plan WHERE kind = ?1")
            .bind(StagedKind::Planned.code())
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(planned as u64)
    }

    /// Up to `limit` settled entries of `kind` after position `after`, in the order they were
    /// decided, each with its position.
    pub async fn entries(
        &self,
        kind: StagedKind,
        after: i64,
        limit: usize,
    ) -> Result<Vec<(i64, StagedEntry)>, Error> {
        let q = sqlx::query_scalar(&self.entries_sql)
            .bind(kind.code())
            .bind(after)
            .bind(limit as i64);
        self.read(q).await
    }

    /// Every settled entry of `kind`, in the order they were decided.
    pub async fn all_entries(&self, kind: StagedKind) -> Result<Vec<StagedEntry>, Error> {
        // A negative LIMIT is no limit.
        let q = sqlx::query_scalar(&self.entries_sql)
            .bind(kind.code())
            .bind(0)
            .bind(-1);
        Ok(self.read(q).await?.into_iter().map(|(_, e)| e).collect())
    }

    /// Up to `limit` settled entries of `kind` whose token id sorts after `after` that have
    /// no standing record in `state` with the same rules and `mode`: the records a sweep
    /// appends. In token order, so that each entry's look-up of its token's records lands
    /// next to the one before (in decision order they land all over the index, and a large
    /// plan's look-ups miss the page cache).
    pub async fn fresh(
        &self,
        kind: StagedKind,
        state: RevocationState,
        mode: &str,
        after: &str,
        limit: usize,
    ) -> Result<Vec<StagedEntry>, Error> {
        let sql = format!(
            "SELECT p.seq, p.token_id, p.user_id, p.client_id, p.policy, p.reason
             FROM temp.plan p INDEXED BY plan_by_token
             WHERE p.token_id > ?2 AND p.kind = ?1
               AND NOT EXISTS (SELECT 1 FROM main.revocations r INDEXED BY revocations_by_token
                   WHERE r.token_id = p.token_id AND {standing}
                     AND r.policy = p.policy AND r.mode = ?4)
             ORDER BY p.token_id LIMIT ?3",
            standing = standing_clause(state),
        );
        let sql = as_json(&sql, "token_id");
        let q = sqlx::query_scalar(&sql)
            .bind(kind.code())
            .bind(after)
            .bind(limit as i64)
            .bind(mode);
        Ok(self.read(q).await?.into_iter().map(|(_, e)| e).collect())
    }

    /// Reads the rows of a query built by [`as_json`].
    async fn read<'q>(
        &self,
        q: sqlx::query::QueryScalar<'q, Sqlite, String, sqlx::sqlite::SqliteArguments<'q>>,
    ) -> Result<Vec<(i64, StagedEntry)>, Error> {
        let json = {
            let mut conn = self.conn.lock().await;
            q.fetch_one(&mut *conn).await?
        };
        let rows: Vec<EntryRow> =
            serde_json::from_str(&json).map_err(|e| sqlx::Error::Decode(e.into()))?;
        Ok(rows.into_iter().map(entry_of).collect())
    }

    /// Up to `limit` standing records in `state` with an id above `after`, of the settled
    /// pairs and apps, that this sweep closes: those whose token has no settled entry of
    /// `stands` (none: every record closes) with the same rules, or was recorded in another
    /// mode than `mode`. Oldest first.
    pub async fn closing(
        &self,
        state: RevocationState,
        stands: Option<StagedKind>,
        mode: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<Closing>, Error> {
        if !self.settled_any.load(Relaxed) {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT r.id, r.token_id, r.user_id, r.client_id, r.policy, r.mode,
               (SELECT p.policy FROM temp.plan p WHERE p.token_id = r.token_id AND p.kind = 0)
                 AS planned_policy,
               (SELECT p.policy FROM temp.plan p WHERE p.token_id = r.token_id AND p.kind = 1)
                 AS exempt_policy,
               (SELECT p.reason FROM temp.plan p WHERE p.token_id = r.token_id AND p.kind = 1)
                 AS exempt_reason,
               (SELECT CASE WHEN t.revoked_at >= COALESCE(t.reappeared_at, '')
                       THEN '{REVOKED_BY_REVOKD}'
                       WHEN t.gone_at IS NULL THEN COALESCE(t.status, '') END
                FROM main.tokens t WHERE t.token_id = r.token_id) AS listed_as
             FROM main.revocations r
             WHERE {standing} AND r.id > ?1
               AND (EXISTS (SELECT 1 FROM temp.done_pairs d
                            WHERE d.user_id = r.user_id AND d.client_id = r.client_id)
                    OR EXISTS (SELECT 1 FROM temp.done_apps a WHERE a.client_id = r.client_id))
               AND NOT (r.mode = ?2 AND EXISTS (SELECT 1 FROM temp.plan p
                   WHERE p.token_id = r.token_id AND p.kind = ?3 AND p.policy = r.policy))
             ORDER BY r.id LIMIT ?4",
            standing = standing_clause(state),
        );
        let mut conn = self.conn.lock().await;
        Ok(sqlx::query_as::<_, Closing>(&sql)
            .bind(after)
            .bind(mode)
            // No kind is code -1: no entry keeps a record standing.
            .bind(stands.map_or(-1, StagedKind::code))
            .bind(limit as i64)
            .fetch_all(&mut *conn)
            .await?)
    }
}
