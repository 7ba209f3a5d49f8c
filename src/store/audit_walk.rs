//! Verifying the audit hash chain: a walk from the first record (or on from an end an earlier
//! walk verified) to the chain's head, each record's place, link, hash version and hash checked.
//! The head is read first and the walk stops at it, so records appended while it runs are left
//! for the next walk rather than mistaken for a break; a record past the head that no append put
//! there is still one. Reads only.

use serde_json::value::RawValue;

use super::audit_row::{AuditRow, GENESIS, HASH_VERSION};
use super::{Error, Store};

/// Rows a walk reads at a time, as one JSON array: handing rows over one by one from SQLite's
/// thread costs several times more than reading and hashing them.
const WALK_BATCH: i64 = 2_000;

/// `, column` as [`WALK_ROWS`] reads it: as stored, or a BLOB as the text `blob:` and its hex.
macro_rules! shown {
    ($column:literal) => {
        concat!(
            ", iif(typeof(",
            $column,
            ") = 'blob', 'blob:' || hex(",
            $column,
            "), ",
            $column,
            ")"
        )
    };
}

/// The rows from one id up to another, in chain order, each a JSON array of the columns in
/// [`AuditRow`]'s field order. A column holding a BLOB (which no append writes, and which
/// `json_array` would refuse, or read as JSON if it looked like SQLite's JSONB) is given as the
/// text `blob:` and its hex (the `id` key cannot hold one), so the record fails its hash or
/// its type: a break, not an error.
const WALK_ROWS: &str = concat!(
    "SELECT json_group_array(json_array(id",
    shown!("intent_id"),
    shown!("token_id"),
    shown!("user_id"),
    shown!("client_id"),
    shown!("trigger"),
    shown!("policy"),
    shown!("reason"),
    shown!("mode"),
    shown!("state"),
    shown!("requested_at"),
    shown!("completed_at"),
    shown!("attempts"),
    shown!("http_status"),
    shown!("okta_request_id"),
    shown!("error"),
    shown!("sweep_id"),
    shown!("job_id"),
    shown!("prev_hash"),
    shown!("hash"),
    shown!("verified_at"),
    shown!("next_attempt_at"),
    shown!("okta_error_id"),
    shown!("hash_version"),
    ") ORDER BY id) FROM (SELECT * FROM revocations",
    " WHERE id >= ? AND id <= ? ORDER BY id LIMIT ?)"
);

/// Where the chain first breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditBreak {
    /// The first row that does not verify.
    pub id: i64,
    pub problem: String,
}

/// A verified chain's last record: where a later walk can go on from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainEnd {
    pub id: i64,
    pub hash: String,
    pub hash_version: i64,
}

/// A chain that verified: how many records, and its last one (`None` while empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub records: u64,
    pub end: Option<ChainEnd>,
}

/// A walk of the chain, row by row: what the next row must hold.
struct Walk {
    prev: String,
    expected_id: i64,
    version: i64,
}

impl Walk {
    /// A walk from the first record, or on from `end`.
    fn from(end: Option<&ChainEnd>) -> Walk {
        end.map_or_else(
            || Walk {
                prev: GENESIS.to_owned(),
                expected_id: 1,
                version: 1,
            },
            |end| Walk {
                prev: end.hash.clone(),
                expected_id: end.id + 1,
                version: end.hash_version,
            },
        )
    }

    /// What it verified so far.
    fn verified(self) -> Verified {
        let last = self.expected_id - 1;
        Verified {
            records: u64::try_from(last).unwrap_or_default(),
            end: (last > 0).then_some(ChainEnd {
                id: last,
                hash: self.prev,
                hash_version: self.version,
            }),
        }
    }

    /// Checks the next row as read (a JSON array of its columns), or says where it breaks.
    fn step(&mut self, raw: &RawValue) -> Result<(), AuditBreak> {
        let row: AuditRow = serde_json::from_str(raw.get()).map_err(|_| {
            let id = serde_json::from_str::<Vec<serde_json::Value>>(raw.get())
                .ok()
                .and_then(|columns| columns.first()?.as_i64());
            AuditBreak {
                id: id.unwrap_or(self.expected_id),
                problem: "a column holds a value of the wrong type (the record was edited)"
                    .to_owned(),
            }
        })?;
        let expected_id = self.expected_id;
        let problem = if row.id != expected_id {
            Some(format!(
                "expected record {expected_id} here, found {} (deleted or reordered)",
                row.id
            ))
        } else if row.prev_hash != self.prev {
            Some("prev_hash does not match the previous record (a record before it was changed or removed)".to_owned())
        } else if !(self.version..=HASH_VERSION).contains(&row.hash_version) {
            Some(format!(
                "hash version {} where {} to {HASH_VERSION} is expected (the record was edited)",
                row.hash_version, self.version
            ))
        } else if row.hash_version == 1 && row.okta_error_id.is_some() {
            // Version 1 leaves the column out of its hash, and no version-1 record holds it.
            Some("a version-1 record holds okta_error_id, which none was written with (the record was edited)".to_owned())
        } else if row.hash != row.expected_hash() {
            Some("hash does not match the record's contents (the record was edited)".to_owned())
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err(AuditBreak {
                id: row.id,
                problem,
            });
        }
        self.prev = row.hash;
        self.version = row.hash_version;
        self.expected_id += 1;
        Ok(())
    }
}

impl Store {
    /// A digest of what record `id` holds now, as the walk reads it, and of `problem`: two
    /// breaks found at one record with the same digest are the record as it stood (seen again,
    /// after a restart say), another digest a new edit.
    pub async fn audit_break_digest(&self, id: i64, problem: &str) -> Result<String, Error> {
        let row: Vec<u8> = sqlx::query_scalar(WALK_ROWS)
            .bind(id)
            .bind(id)
            .bind(1)
            .fetch_one(&self.pool)
            .await?;
        let digest = xxhash_rust::xxh3::xxh3_128(&[row.as_slice(), problem.as_bytes()].concat());
        Ok(format!("{digest:032x}"))
    }

    /// Walks the chain; `Ok(n)` with the number of rows when whole, else the first break.
    pub async fn verify_audit(&self) -> Result<Result<u64, AuditBreak>, Error> {
        Ok(self.verify_audit_from(None).await?.map(|v| v.records))
    }

    /// Walks the chain from its first record, or on from `end` (the last record of a chain an
    /// earlier walk verified; what came before it is not read again), to its head.
    pub async fn verify_audit_from(
        &self,
        end: Option<&ChainEnd>,
    ) -> Result<Result<Verified, AuditBreak>, Error> {
        self.verify_audit_by(end, WALK_BATCH).await
    }

    /// [`Store::verify_audit_from`], reading `batch` rows at a time.
    pub(super) async fn verify_audit_by(
        &self,
        end: Option<&ChainEnd>,
        batch: i64,
    ) -> Result<Result<Verified, AuditBreak>, Error> {
        // The head first: records appended from now on are not this walk's, and an append
        // moves the head in the transaction that adds its records.
        let head = self.audit_head().await?;
        let head_id = head.as_ref().map_or(0, |(id, _)| *id);
        let mut walk = Walk::from(end);
        // From the start, any id: a record slipped in before record 1 is found too.
        let mut from = end.map_or(Some(i64::MIN), |end| end.id.checked_add(1));
        while let Some(first) = from {
            let bytes: Vec<u8> = sqlx::query_scalar(WALK_ROWS)
                .bind(first)
                .bind(head_id)
                .bind(batch)
                .fetch_one(&self.pool)
                .await?;
            // Text that is not UTF-8 (which no append writes) is read with replacement
            // characters, so its record fails its hash.
            let text = String::from_utf8_lossy(&bytes);
            let rows: Vec<&RawValue> =
                serde_json::from_str(&text).map_err(|e| sqlx::Error::Decode(e.into()))?;
            if rows.is_empty() {
                break;
            }
            for raw in rows {
                if let Err(broken) = walk.step(raw) {
                    return Ok(Err(broken));
                }
            }
            from = Some(walk.expected_id);
        }
        let last = walk.expected_id - 1;
        let broken = |id: i64, problem: String| Ok(Err(AuditBreak { id, problem }));
        match &head {
            Some((head_id, _)) if *head_id != last => {
                return broken(
                    last + 1,
                    format!(
                        "the chain ends at record {last} but its head says {head_id} (records at the end were deleted)"
                    ),
                );
            }
            Some((_, head_hash)) if *head_hash != walk.prev => {
                return broken(
                    last,
                    "the last record's hash differs from the recorded head".to_owned(),
                );
            }
            None if last > 0 => {
                return broken(1, "the audit head record is missing".to_owned());
            }
            _ => {}
        }
        // A record past the head is an append made since (it moved the head too), or one
        // added behind the appends' back.
        let beyond: Option<i64> = sqlx::query_scalar("SELECT max(id) FROM revocations")
            .fetch_one(&self.pool)
            .await?;
        if let Some(beyond) = beyond.filter(|&id| id > last) {
            let now = self.audit_head().await?.map_or(0, |(id, _)| id);
            if now < beyond {
                return broken(
                    last + 1,
                    format!(
                        "record {beyond} lies past the chain's head, record {now} (it was added without an append)"
                    ),
                );
            }
        }
        Ok(Ok(walk.verified()))
    }
}

#[cfg(test)]
#[path = "tests_audit_walk.rs"]
mod tests;
