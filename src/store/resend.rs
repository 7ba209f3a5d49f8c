//! Sending given-up notifications again (`revokd notify resend`): a delivery in `failed` is
//! made `pending` and due now, its attempts counted afresh, so the daemon's dispatcher sends
//! it to its receiver (by name, at the URL configured then) within seconds. The outbox event
//! and its id stay as they were: a receiver that got it after all can still de-duplicate.

use chrono::{DateTime, Utc};

use super::outbox::tally;
use super::sources::DeliveryState;
use super::{Error, Store, ts};

impl Store {
    /// Given-up deliveries by receiver, in name order.
    pub async fn given_up_deliveries(&self) -> Result<Vec<(String, i64)>, Error> {
        Ok(sqlx::query_as(
            "SELECT receiver, count(*) FROM notify_deliveries WHERE state = ?
             GROUP BY receiver ORDER BY receiver",
        )
        .bind(DeliveryState::Failed)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Queues the given-up deliveries to `receivers` again, each only of the event kinds
    /// given with it, due at `now`, attempts at 0. Returns how many each receiver got back,
    /// in name order, from one statement.
    pub async fn resend_given_up(
        &self,
        receivers: &[(&str, Vec<&str>)],
        now: DateTime<Utc>,
    ) -> Result<Vec<(String, i64)>, Error> {
        let wanted = serde_json::to_string(receivers).unwrap_or_else(|_| "[]".into());
        let queued: Vec<(String,)> = sqlx::query_as(
            "UPDATE notify_deliveries SET state = ?1, next_attempt_at = ?2, attempts = 0
             WHERE state = ?3
               AND EXISTS (SELECT 1 FROM json_each(?4) AS w, notify_outbox AS o
                           WHERE w.value ->> 0 = notify_deliveries.receiver
                             AND o.id = notify_deliveries.outbox_id
                             AND o.kind IN (SELECT value FROM json_each(w.value -> 1)))
             RETURNING receiver",
        )
        .bind(DeliveryState::Pending)
        .bind(ts(now))
        .bind(DeliveryState::Failed)
        .bind(wanted)
        .fetch_all(&self.pool)
        .await?;
        let mut counts = tally(queued);
        counts.sort();
        Ok(counts)
    }
}
