//! The enforcer lease (`enforcer_lease`): one row while some process is revoking. Taken and
//! renewed in `BEGIN IMMEDIATE` transactions, so two processes never both believe they hold
//! it. Whether a holder's process is gone is the caller's judgement (a closure), since only
//! the caller knows how to read a process id; this module only does the SQL.

use chrono::{DateTime, Utc};

use super::{Error, Store, ts};

/// Who holds the lease, as the row says.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct LeaseHolder {
    pub owner: String,
    pub acquired_at: String,
    pub heartbeat_at: String,
    pub purpose: String,
}

/// What an attempt to take the lease found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseAttempt {
    /// Taken (or already ours); `took_over` names a stale holder it replaced.
    Held { took_over: Option<LeaseHolder> },
    /// Another live process holds it.
    Busy(LeaseHolder),
}

impl Store {
    /// Takes the lease for `owner` unless a live holder has it. A holder is stale when its
    /// heartbeat is older than `stale_before` or `is_gone(owner)` says its process is gone.
    pub async fn take_lease(
        &self,
        owner: &str,
        purpose: &str,
        now: DateTime<Utc>,
        stale_before: DateTime<Utc>,
        is_gone: impl Fn(&str) -> bool,
    ) -> Result<LeaseAttempt, Error> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let holder: Option<LeaseHolder> = sqlx::query_as(
            "SELECT owner, acquired_at, heartbeat_at, purpose FROM enforcer_lease WHERE id = 1",
        )
        .fetch_optional(&mut *tx)
        .await?;
        let at = ts(now);
        let took_over = match holder {
            Some(h) if h.owner == owner => None,
            Some(h)
                if h.heartbeat_at.as_str() >= ts(stale_before).as_str() && !is_gone(&h.owner) =>
            {
                return Ok(LeaseAttempt::Busy(h));
            }
            other => other,
        };
        sqlx::query(
            "INSERT INTO enforcer_lease (id, owner, acquired_at, heartbeat_at, purpose)
             VALUES (1, ?1, ?2, ?2, ?3)
             ON CONFLICT (id) DO UPDATE SET
                 acquired_at = CASE WHEN owner = ?1 THEN acquired_at ELSE ?2 END,
                 owner = ?1, heartbeat_at = ?2, purpose = ?3",
        )
        .bind(owner)
        .bind(&at)
        .bind(purpose)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(LeaseAttempt::Held { took_over })
    }

    /// Renews `owner`'s lease; `false` when it no longer holds it (taken over as stale).
    pub async fn renew_lease(&self, owner: &str, now: DateTime<Utc>) -> Result<bool, Error> {
        let done =
            sqlx::query("UPDATE enforcer_lease SET heartbeat_at = ? WHERE id = 1 AND owner = ?")
                .bind(ts(now))
                .bind(owner)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Gives the lease up, if `owner` holds it.
    pub async fn release_lease(&self, owner: &str) -> Result<(), Error> {
        sqlx::query("DELETE FROM enforcer_lease WHERE id = 1 AND owner = ?")
            .bind(owner)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The current holder, if any (for `revokd status`).
    pub async fn lease_holder(&self) -> Result<Option<LeaseHolder>, Error> {
        Ok(sqlx::query_as(
            "SELECT owner, acquired_at, heartbeat_at, purpose FROM enforcer_lease WHERE id = 1",
        )
        .fetch_optional(&self.pool)
        .await?)
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone, Utc};

    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + s, 0).single().unwrap()
    }

    #[sqlx::test(migrations = "./migrations")]
    async fn a_live_holder_keeps_the_lease_and_a_stale_one_loses_it(pool: sqlx::SqlitePool) {
        let store = Store::from_pool(pool).await.unwrap();
        let alive = |_: &str| false;
        let ttl = Duration::seconds(30);
        let first = store
            .take_lease("h:1:1", "sweep 1", t(0), t(0) - ttl, alive)
            .await
            .unwrap();
        assert_eq!(first, LeaseAttempt::Held { took_over: None });
        let again = store
            .take_lease("h:1:1", "sweep 2", t(1), t(1) - ttl, alive)
            .await
            .unwrap();
        assert_eq!(
            again,
            LeaseAttempt::Held { took_over: None },
            "re-entrant for its owner"
        );
        let LeaseAttempt::Busy(holder) = store
            .take_lease("h:2:2", "sweep", t(10), t(10) - ttl, alive)
            .await
            .unwrap()
        else {
            panic!("a live holder lost the lease");
        };
        assert_eq!(holder.owner, "h:1:1");
        assert_eq!(holder.purpose, "sweep 2");
        assert!(store.renew_lease("h:1:1", t(20)).await.unwrap());
        assert!(
            matches!(
                store
                    .take_lease("h:2:2", "sweep", t(45), t(45) - ttl, alive)
                    .await
                    .unwrap(),
                LeaseAttempt::Busy(_)
            ),
            "renewed at 20, live until 50"
        );
        let LeaseAttempt::Held {
            took_over: Some(stale),
        } = store
            .take_lease("h:2:2", "sweep", t(51), t(51) - ttl, alive)
            .await
            .unwrap()
        else {
            panic!("a stale lease was not taken over");
        };
        assert_eq!(stale.owner, "h:1:1");
        assert!(
            !store.renew_lease("h:1:1", t(52)).await.unwrap(),
            "the old holder learns it lost it"
        );
        store.release_lease("h:1:1").await.unwrap();
        assert_eq!(
            store.lease_holder().await.unwrap().unwrap().owner,
            "h:2:2",
            "only the holder releases"
        );
        store.release_lease("h:2:2").await.unwrap();
        assert_eq!(store.lease_holder().await.unwrap(), None);
    }

    #[sqlx::test(migrations = "./migrations")]
    async fn a_holder_whose_process_is_gone_is_taken_over_at_once(pool: sqlx::SqlitePool) {
        let store = Store::from_pool(pool).await.unwrap();
        let ttl = Duration::seconds(30);
        store
            .take_lease("h:1:1", "sweep", t(0), t(0) - ttl, |_| false)
            .await
            .unwrap();
        let got = store
            .take_lease("h:2:2", "sweep", t(1), t(1) - ttl, |owner| owner == "h:1:1")
            .await
            .unwrap();
        assert!(matches!(got, LeaseAttempt::Held { took_over: Some(_) }));
    }
}
