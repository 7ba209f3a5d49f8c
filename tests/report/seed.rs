//! A deterministic database for report tests, written through the Store API with fixed
//! timestamps, and the policies the reports decide with. Values include commas, quotes,
//! newlines and spreadsheet formula prefixes on purpose.

use chrono::{DateTime, Duration, Utc};
use figment::Figment;
use figment::providers::{Format, Toml};
use revokd::config::{Config, Mode};
use revokd::store::{
    NewRevocation, RevocationState, RevocationTrigger, Store, SweepCounts, SweepStatus,
    TargetOutcome, TargetResult, TargetSource, TokenObservation, Trigger,
};

/// The instant every golden report is taken at.
pub fn now() -> DateTime<Utc> {
    at("2026-11-29T22:00:00Z")
}

pub fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

pub const EVIL_SCOPE: &str = "+evil,\"quoted\"\nline";
pub const EVIL_ERROR: &str = "Okta said: \"boom\", retry\nlater";
pub const EVIL_REQUEST_ID: &str = "-reqC=1";
pub const EVIL_SWEEP_ERROR: &str = "=HYPERLINK(\"http://x\")";

/// The configuration the reports decide with.
pub fn config() -> Config {
    Figment::from(Toml::string(
        r#"
        [reports]
        dir = "reports"

        [[policies]]
        name = "admin-scopes-7d"
        scopes_any = ["admin:write"]
        older_than = "7d"

        [[policies]]
        name = "idle-30d"
        idle_for = "30d"

        [[policies]]
        name = "retired-app"
        clients = ["0oa3legacy"]

        [[policies]]
        name = "never-expires"
        action = "flag"
        expires_after = "365d"

        [[exemptions]]
        name = "break-glass"
        users = ["00u9alice"]
        "#,
    ))
    .extract()
    .unwrap()
}

struct Tok {
    id: &'static str,
    user: &'static str,
    client: &'static str,
    scopes: Vec<&'static str>,
    created: &'static str,
    last_updated: &'static str,
    expires: Option<&'static str>,
}

fn tokens() -> Vec<Tok> {
    vec![
        Tok {
            id: "oarA",
            user: "00u9alice",
            client: "0oa1crm",
            scopes: vec!["offline_access", "openid"],
            created: "2026-08-25T10:00:00.000Z",
            last_updated: "2026-08-28T10:00:00.000Z",
            expires: Some("2026-12-25T10:00:00.000Z"),
        },
        Tok {
            id: "oarB",
            user: "00u2bob",
            client: "0oa2admin",
            scopes: vec!["admin:write", "offline_access"],
            created: "2026-08-01T00:00:00.000Z",
            last_updated: "2026-08-15T00:00:00.000Z",
            expires: None,
        },
        Tok {
            id: "oarC",
            user: "00u3carol",
            client: "0oa3legacy",
            scopes: vec![EVIL_SCOPE, "offline_access"],
            created: "2025-01-01T00:00:00.000Z",
            last_updated: "2026-08-20T00:00:00.000Z",
            expires: Some("2027-01-01T00:00:00.000Z"),
        },
        Tok {
            id: "oarD",
            user: "00u4dave",
            client: "0oa1crm",
            scopes: vec!["offline_access"],
            created: "2026-08-30T00:00:00.000Z",
            last_updated: "2026-08-31T00:00:00.000Z",
            expires: Some("2026-12-30T00:00:00.000Z"),
        },
        Tok {
            id: "oarE",
            user: "00u5erin",
            client: "0oa1crm",
            scopes: vec!["offline_access"],
            created: "2026-06-01T00:00:00.000Z",
            last_updated: "2026-06-02T00:00:00.000Z",
            expires: Some("2026-12-01T00:00:00.000Z"),
        },
        Tok {
            id: "oarF",
            user: "00u2bob",
            client: "0oa1crm",
            scopes: vec!["offline_access", "openid"],
            created: "2026-11-25T00:00:00.000Z",
            last_updated: "2026-11-28T00:00:00.000Z",
            expires: Some("2026-12-25T00:00:00.000Z"),
        },
    ]
}

async fn observe(store: &Store, sweep: i64, ids: &[&str], observed: DateTime<Utc>) {
    let all = tokens();
    let scopes: Vec<String> = all
        .iter()
        .map(|t| serde_json::to_string(&t.scopes).unwrap())
        .collect();
    let page: Vec<TokenObservation> = all
        .iter()
        .zip(&scopes)
        .filter(|(t, _)| ids.contains(&t.id))
        .map(|(t, s)| TokenObservation {
            token_id: t.id.into(),
            user_id: t.user.into(),
            client_id: t.client.into(),
            issuer: Some("https://example.okta.com/oauth2/aus1".into()),
            status: Some("ACTIVE".into()),
            scopes_json: s.clone(),
            created_at: Some(t.created.into()),
            last_updated_at: Some(t.last_updated.into()),
            expires_at: t.expires.map(Into::into),
            raw_json: "{}".into(),
            scope_records: Vec::new(),
            policy_matches: "[]".into(),
        })
        .collect();
    store
        .record_page(Some(sweep), &page, observed)
        .await
        .unwrap();
}

fn revocation(
    token: Option<&str>,
    user: &str,
    client: &str,
    state: RevocationState,
    requested_at: &str,
    sweep: i64,
) -> NewRevocation {
    NewRevocation {
        sweep_id: Some(sweep),
        ..NewRevocation::new(
            token.map(Into::into),
            user,
            client,
            RevocationTrigger::Policy,
            Mode::Enforce,
            state,
            requested_at,
        )
    }
}

/// Two finished sweeps and one still running; six tokens; a dry-run plan, a revocation that
/// succeeded, one that failed, an exemption and an offboarding.
pub async fn seed(store: &Store) {
    let s1_start = at("2026-09-01T02:00:00Z");
    let s1 = store
        .begin_sweep(Trigger::Cli, Mode::DryRun, s1_start, "seed")
        .await
        .unwrap();
    observe(
        store,
        s1,
        &["oarA", "oarB", "oarC", "oarD", "oarE"],
        s1_start + Duration::seconds(5),
    )
    .await;
    let mut planned = revocation(
        Some("oarB"),
        "00u2bob",
        "0oa2admin",
        RevocationState::Planned,
        "2026-09-01T02:00:06.000Z",
        s1,
    );
    planned.mode = Mode::DryRun;
    planned.policy = Some("admin-scopes-7d,idle-30d".into());
    planned.reason = Some("admin-scopes-7d: older_than 7d | idle-30d: idle_for 30d".into());
    store.append_revocation(&planned).await.unwrap();
    let counts = SweepCounts {
        targets_total: 5,
        tokens_seen: 5,
        revocations_planned: 1,
        http_requests: 5,
        ..Default::default()
    };
    store
        .finish_sweep(
            s1,
            SweepStatus::Ok,
            &counts,
            None,
            s1_start + Duration::milliseconds(12_345),
        )
        .await
        .unwrap();

    let s2_start = at("2026-11-28T02:00:00Z");
    let s2 = store
        .begin_sweep(Trigger::Schedule, Mode::Enforce, s2_start, "seed")
        .await
        .unwrap();
    observe(
        store,
        s2,
        &["oarA", "oarB", "oarC", "oarD", "oarE", "oarF"],
        s2_start + Duration::seconds(5),
    )
    .await;
    // oarE: revoked.
    let intent = store
        .append_revocation(&NewRevocation {
            policy: Some("idle-30d".into()),
            reason: Some("idle-30d: idle_for 30d (last updated 2026-06-02)".into()),
            ..revocation(
                Some("oarE"),
                "00u5erin",
                "0oa1crm",
                RevocationState::Pending,
                "2026-11-28T02:00:06.000Z",
                s2,
            )
        })
        .await
        .unwrap();
    store
        .append_revocation(&NewRevocation {
            intent_id: Some(intent),
            policy: Some("idle-30d".into()),
            reason: Some("idle-30d: idle_for 30d (last updated 2026-06-02)".into()),
            completed_at: Some("2026-11-28T02:00:07.500Z".into()),
            attempts: 1,
            http_status: Some(204),
            okta_request_id: Some("reqE1".into()),
            ..revocation(
                Some("oarE"),
                "00u5erin",
                "0oa1crm",
                RevocationState::Done,
                "2026-11-28T02:00:06.000Z",
                s2,
            )
        })
        .await
        .unwrap();
    store
        .mark_revoked("oarE", at("2026-11-28T02:00:08Z"))
        .await
        .unwrap();
    // oarC: the DELETE failed.
    let intent = store
        .append_revocation(&NewRevocation {
            policy: Some("retired-app".into()),
            reason: Some("retired-app: client 0oa3legacy".into()),
            ..revocation(
                Some("oarC"),
                "00u3carol",
                "0oa3legacy",
                RevocationState::Pending,
                "2026-11-28T02:00:06.500Z",
                s2,
            )
        })
        .await
        .unwrap();
    store
        .append_revocation(&NewRevocation {
            intent_id: Some(intent),
            policy: Some("retired-app".into()),
            reason: Some("retired-app: client 0oa3legacy".into()),
            completed_at: Some("2026-11-28T02:00:09.000Z".into()),
            attempts: 1,
            http_status: Some(500),
            okta_request_id: Some(EVIL_REQUEST_ID.into()),
            error: Some(EVIL_ERROR.into()),
            ..revocation(
                Some("oarC"),
                "00u3carol",
                "0oa3legacy",
                RevocationState::Failed,
                "2026-11-28T02:00:06.500Z",
                s2,
            )
        })
        .await
        .unwrap();
    // oarA: exempt.
    store
        .append_revocation(&NewRevocation {
            policy: Some("idle-30d".into()),
            reason: Some("exempt: break-glass".into()),
            ..revocation(
                Some("oarA"),
                "00u9alice",
                "0oa1crm",
                RevocationState::SkippedExempt,
                "2026-11-28T02:00:07.000Z",
                s2,
            )
        })
        .await
        .unwrap();
    let counts = SweepCounts {
        targets_total: 6,
        targets_failed: 1,
        tokens_seen: 6,
        revocations_planned: 2,
        revocations_done: 1,
        revocations_failed: 1,
        http_requests: 9,
        http_429: 2,
        ..Default::default()
    };
    store
        .finish_sweep(
            s2,
            SweepStatus::Partial,
            &counts,
            Some(EVIL_SWEEP_ERROR),
            s2_start + Duration::seconds(9),
        )
        .await
        .unwrap();

    // Dave left: an offboarding revoke-all was recorded, and failed; his token is still there.
    let mut offboard = revocation(
        None,
        "00u4dave",
        "0oa1crm",
        RevocationState::Failed,
        "2026-11-29T09:00:00.000Z",
        s2,
    );
    offboard.trigger = RevocationTrigger::Offboard;
    offboard.sweep_id = None;
    offboard.reason = Some("user.lifecycle.deactivate".into());
    offboard.error = Some("503 Service Unavailable".into());
    store.append_revocation(&offboard).await.unwrap();
    for (user, client, source) in [
        ("00u2bob", "0oa2admin", TargetSource::Config),
        ("00u6frank", "0oa1crm", TargetSource::Offboard),
    ] {
        store
            .record_target(&TargetResult {
                user_id: user.into(),
                client_id: client.into(),
                source,
                outcome: TargetOutcome::Ok,
                error: None,
                polled_at: at("2026-11-28T02:00:05Z"),
            })
            .await
            .unwrap();
    }
    store
        .begin_sweep(
            Trigger::Cli,
            Mode::DryRun,
            at("2026-11-29T21:59:00Z"),
            "seed",
        )
        .await
        .unwrap();
}

/// A fresh seeded store on the `#[sqlx::test]` pool.
pub async fn seeded(pool: sqlx::SqlitePool) -> Store {
    let store = Store::from_pool(pool).await.unwrap();
    seed(&store).await;
    store
}
