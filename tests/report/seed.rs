//! A deterministic database for report tests, written through the Store API with fixed
//! timestamps, and the policies the reports decide with. Values include commas, quotes,
//! newlines and spreadsheet formula prefixes on purpose. The history itself is written step by step in `seed/history.rs`.

#[path = "seed/history.rs"]
mod history;

use chrono::{DateTime, Utc};
use figment::Figment;
use figment::providers::{Format, Toml};
use revokd::config::Config;
use revokd::store::{NewRevocation, ObservedRecord, RevocationState, Store, TokenObservation};

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
            record: ObservedRecord::split_json("{}"),
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
            revokd::store::RevocationTrigger::Policy,
            revokd::config::Mode::Enforce,
            state,
            requested_at,
        )
    }
}

/// Two finished sweeps and one still running; six tokens; a dry-run plan, a revocation that
/// succeeded, one that failed, an exemption and an offboarding.
pub async fn seed(store: &Store) {
    history::dry_run_sweep(store).await;
    let s2 = history::enforce_sweep(store).await;
    history::offboarding_and_targets(store, s2).await;
    history::running_sweep(store).await;
}

/// A fresh seeded store on the `#[sqlx::test]` pool.
pub async fn seeded(pool: sqlx::SqlitePool) -> Store {
    let store = Store::from_pool(pool).await.unwrap();
    seed(&store).await;
    store
}
