//! The upgrade to history by change, on a database written with the schema before it: every
//! observation's snapshot (with `_links` and inline scope items) collapses to the changes, the
//! scope items move to the catalog, gone tokens get their absence, and the audit chain is
//! untouched and still verifies. Also what the later upgrades' tests share: a database at an
//! older schema, and observations written into it as the code of that schema wrote them.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use sqlx::SqlitePool;
use sqlx::migrate::Migrator;

use super::tokens::{ObservedRecord, observation};
use super::{AuditRow, GENESIS, MIGRATOR, Store, TokenObservation};

/// The last migration before history by change.
const BEFORE: i64 = 20261202000000;

fn raw(id: &str, last_updated: &str) -> String {
    format!(
        r#"{{"id":"{id}","status":"ACTIVE","lastUpdated":"{last_updated}","issuer":"https://o/oauth2/aus1","scopes":["openid"],"_embedded":{{"scopes":[{{"id":"scp1","name":"openid","description":"Sign in","_links":{{"scope":{{"href":"https://o/scp1"}}}}}}]}},"_links":{{"self":{{"href":"https://o/{id}"}}}}}}"#
    )
}

/// Applies the migrations up to and including `version`: a database at an older schema.
pub(super) async fn migrate_through(pool: &SqlitePool, version: i64) {
    let old = Migrator {
        migrations: Cow::Owned(
            MIGRATOR
                .iter()
                .filter(|m| m.version <= version)
                .cloned()
                .collect(),
        ),
        ..Migrator::DEFAULT
    };
    old.run(pool).await.unwrap();
}

async fn old_database(pool: &SqlitePool) {
    migrate_through(pool, BEFORE).await;
    let tokens = [("oar1", None), ("oar2", Some("2026-01-03T00:00:00.000Z"))];
    for (id, gone) in tokens {
        sqlx::query(
            "INSERT INTO tokens (token_id, user_id, client_id, first_seen_at, last_seen_at,
                 gone_at, status) VALUES (?, '00u1', '0oa1', '2026-01-01T00:00:00.000Z',
                 '2026-01-02T00:00:00.000Z', ?, 'ACTIVE')",
        )
        .bind(id)
        .bind(gone)
        .execute(pool)
        .await
        .unwrap();
    }
    // oar1 seen on three days, changed on the third; oar2 seen twice, unchanged.
    let seen = [
        ("oar1", "2026-01-01", "A"),
        ("oar1", "2026-01-02", "A"),
        ("oar1", "2026-01-03", "B"),
        ("oar2", "2026-01-01", "A"),
        ("oar2", "2026-01-02", "A"),
    ];
    for (id, day, version) in seen {
        sqlx::query(
            "INSERT INTO token_snapshots (token_id, observed_at, status, raw_json)
             VALUES (?, ?, 'ACTIVE', ?)",
        )
        .bind(id)
        .bind(format!("{day}T00:00:00.000Z"))
        .bind(raw(id, version))
        .execute(pool)
        .await
        .unwrap();
    }
    v1_records(pool, true).await;
}

/// Two audit records, chained as the code of the first schemas chained them (hash version 1),
/// and, when `head`, the head those after `20261129020000` kept with them.
async fn v1_records(pool: &SqlitePool, head: bool) {
    let mut prev = GENESIS.to_owned();
    for (id, state) in [(1, "planned"), (2, "planned")] {
        let mut row = AuditRow {
            id,
            intent_id: None,
            token_id: Some("oar1".into()),
            user_id: "00u1".into(),
            client_id: "0oa1".into(),
            trigger: "policy".into(),
            policy: Some("old".into()),
            reason: None,
            mode: "dry-run".into(),
            state: state.into(),
            requested_at: format!("2026-01-0{id}T00:00:00.000Z"),
            completed_at: None,
            attempts: 0,
            http_status: None,
            okta_request_id: None,
            error: None,
            sweep_id: None,
            job_id: None,
            prev_hash: prev.clone(),
            hash: String::new(),
            verified_at: None,
            next_attempt_at: None,
            okta_error_id: None,
            // The hash the code of that schema computed.
            hash_version: 1,
        };
        row.hash = row.expected_hash();
        sqlx::query(
            "INSERT INTO revocations (id, token_id, user_id, client_id, trigger, policy, mode,
                 state, requested_at, attempts, prev_hash, hash)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)",
        )
        .bind(row.id)
        .bind(&row.token_id)
        .bind(&row.user_id)
        .bind(&row.client_id)
        .bind(&row.trigger)
        .bind(&row.policy)
        .bind(&row.mode)
        .bind(&row.state)
        .bind(&row.requested_at)
        .bind(&row.prev_hash)
        .bind(&row.hash)
        .execute(pool)
        .await
        .unwrap();
        if head {
            sqlx::query(
                "INSERT OR REPLACE INTO audit_head (id, last_id, last_hash) VALUES (1, ?, ?)",
            )
            .bind(row.id)
            .bind(&row.hash)
            .execute(pool)
            .await
            .unwrap();
        }
        prev = row.hash;
    }
}

/// The first schema, before `audit_head` (`20261129020000`).
const FIRST: i64 = 20261129010000;

#[sqlx::test(migrations = false)]
async fn a_trail_from_before_audit_heads_gets_its_head_and_takes_appends(pool: SqlitePool) {
    migrate_through(&pool, FIRST).await;
    v1_records(&pool, false).await;
    let store = Store::from_pool(pool).await.unwrap();

    assert_eq!(store.verify_audit().await.unwrap(), Ok(2));
    let row = super::NewRevocation::new(
        Some("oar3".into()),
        "00u1",
        "0oa1",
        super::RevocationTrigger::Policy,
        crate::config::Mode::DryRun,
        super::RevocationState::Planned,
        "2026-01-03T00:00:00.000Z",
    );
    store.append_revocation(&row).await.unwrap();
    assert_eq!(store.verify_audit().await.unwrap(), Ok(3));
}

#[sqlx::test(migrations = false)]
async fn old_snapshots_collapse_to_changes_and_the_chain_still_verifies(pool: SqlitePool) {
    old_database(&pool).await;
    let store = Store::from_pool(pool).await.unwrap();

    let kept: Vec<(String, String, String)> =
        sqlx::query_as("SELECT token_id, observed_at, raw_json FROM token_snapshots ORDER BY id")
            .fetch_all(store.pool())
            .await
            .unwrap();
    let days: Vec<(&str, &str)> = kept
        .iter()
        .map(|(id, at, _)| (id.as_str(), &at[..10]))
        .collect();
    assert_eq!(
        days,
        [
            ("oar1", "2026-01-01"),
            ("oar1", "2026-01-03"),
            ("oar2", "2026-01-01")
        ]
    );
    assert_eq!(
        kept[0].2,
        r#"{"id":"oar1","status":"ACTIVE","lastUpdated":"A","issuer":"https://o/oauth2/aus1","scopes":["openid"],"_embedded":{"scopes":["scp1"]}}"#
    );
    let whole: String =
        sqlx::query_scalar("SELECT okta_json FROM v_token_records WHERE token_id = 'oar2'")
            .fetch_one(store.pool())
            .await
            .unwrap();
    let expected: serde_json::Value = serde_json::from_str(&raw("oar2", "A")).unwrap();
    let mut expected = expected;
    expected.as_object_mut().unwrap().remove("_links");
    expected["_embedded"]["scopes"][0]
        .as_object_mut()
        .unwrap()
        .remove("_links");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&whole).unwrap(),
        expected,
        "what Okta said, but for _links"
    );
    let absences: Vec<(String, String)> =
        sqlx::query_as("SELECT token_id, gone_at FROM token_absences")
            .fetch_all(store.pool())
            .await
            .unwrap();
    assert_eq!(
        absences,
        [("oar2".to_owned(), "2026-01-03T00:00:00.000Z".to_owned())]
    );
    assert_eq!(store.verify_audit().await.unwrap(), Ok(2));

    // The next observation of an unchanged token, as Okta sends it to a sweep, adds nothing.
    let mut same = observation("00u1", "oar1", "");
    same.record = ObservedRecord::Sent(raw("oar1", "B"));
    let later = "2026-01-04T00:00:00Z".parse().unwrap();
    store.record_page(None, &[same], later).await.unwrap();
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM token_snapshots")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(count, 3, "the migrated record is recognised as unchanged");
}

/// Writes observations as revokd wrote them before records were stored folded: each token's
/// row inserted or updated and a snapshot of its record, the record's scope items in the
/// catalog. Works at every schema from history by change up to folding (`tokens` a table, or a
/// view written through its triggers).
pub(super) async fn write_as_before(
    pool: &SqlitePool,
    observed: &[TokenObservation],
    at: DateTime<Utc>,
) {
    let seen = super::ts(at);
    for o in observed {
        let (record, ..) = o.split_record();
        let known: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tokens WHERE token_id = ?")
            .bind(&o.token_id)
            .fetch_one(pool)
            .await
            .unwrap();
        let sql = if known == 0 {
            "INSERT INTO tokens (token_id, user_id, client_id, issuer, status, scopes,
                 created_at, last_updated_at, expires_at, first_seen_at, last_seen_at,
                 policy_matches)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10, ?11)"
        } else {
            "UPDATE tokens SET issuer = ?4, status = ?5, scopes = ?6, created_at = ?7,
                 last_updated_at = ?8, expires_at = ?9, last_seen_at = ?10,
                 policy_matches = ?11
             WHERE token_id = ?1 AND user_id = ?2 AND client_id = ?3"
        };
        sqlx::query(sql)
            .bind(&o.token_id)
            .bind(&o.user_id)
            .bind(&o.client_id)
            .bind(&o.issuer)
            .bind(&o.status)
            .bind(&o.scopes_json)
            .bind(&o.created_at)
            .bind(&o.last_updated_at)
            .bind(&o.expires_at)
            .bind(&seen)
            .bind(&o.policy_matches)
            .execute(pool)
            .await
            .unwrap();
        for s in &record.scopes {
            sqlx::query(
                "INSERT OR IGNORE INTO scope_catalog (issuer, scope_id, raw_json, first_seen_at)
                 VALUES (COALESCE(?, ''), ?, ?, ?)",
            )
            .bind(&o.issuer)
            .bind(&s.id)
            .bind(&s.json)
            .bind(&seen)
            .execute(pool)
            .await
            .unwrap();
        }
        sqlx::query(
            "INSERT INTO token_snapshots (token_id, observed_at, status, scopes,
                 last_updated_at, expires_at, raw_json) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&o.token_id)
        .bind(&seen)
        .bind(&o.status)
        .bind(&o.scopes_json)
        .bind(&o.last_updated_at)
        .bind(&o.expires_at)
        .bind(&record.json)
        .execute(pool)
        .await
        .unwrap();
    }
}
