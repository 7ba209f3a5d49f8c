//! The plan stage against a real database: what settles, what closes and why, what is fresh.

use std::collections::HashSet;

use crate::config::Mode;
use crate::store::{
    Closing, NewRevocation, RevocationState, RevocationTrigger, StagedEntry, StagedKind, Store,
};

fn entry(token: &str, user: &str, client: &str, policy: &str) -> StagedEntry {
    StagedEntry {
        token_id: token.into(),
        user_id: user.into(),
        client_id: client.into(),
        policy: policy.into(),
        reason: format!("reason of {token}"),
    }
}

/// A standing record of a sweep in `state`, in dry-run mode unless `mode` says otherwise.
async fn standing(store: &Store, state: RevocationState, mode: Mode, e: &StagedEntry) -> i64 {
    let row = NewRevocation {
        policy: Some(e.policy.clone()),
        ..NewRevocation::new(
            Some(e.token_id.clone()),
            e.user_id.clone(),
            e.client_id.clone(),
            RevocationTrigger::Policy,
            mode,
            state,
            "2026-11-30T00:00:00.000Z",
        )
    };
    store.append_revocation(&row).await.unwrap()
}

fn tokens(entries: &[(i64, StagedEntry)]) -> Vec<&str> {
    entries.iter().map(|(_, e)| e.token_id.as_str()).collect()
}

#[sqlx::test(migrations = "./migrations")]
async fn only_completed_listings_settle_and_a_token_listed_twice_keeps_its_first_entry(
    pool: sqlx::SqlitePool,
) {
    let store = Store::from_pool(pool).await.unwrap();
    let stage = store.plan_stage().await.unwrap();
    let planned = vec![
        entry("oar1", "00u1", "0oa1", "idle"),
        entry("oar2", "00u2", "0oa1", "idle"),
    ];
    stage.add(false, planned, vec![]).await.unwrap();
    // The app 0oa1 lists oar1 again (other rules: the first entry stands), and oar3 of a user
    // no pair names.
    let by_app = vec![
        entry("oar1", "00u1", "0oa1", "other"),
        entry("oar3", "00u3", "0oa1", "idle"),
    ];
    let exempt = vec![entry("oar4", "00u1", "0oa2", "idle")];
    stage.add(true, by_app, vec![]).await.unwrap();
    stage.add(false, vec![], exempt).await.unwrap();
    // The pair 00u2/0oa1 and the pair of oar4 failed; the app completed.
    let pairs: HashSet<(&str, &str)> = [("00u1", "0oa1")].into_iter().collect();
    let apps: HashSet<String> = ["0oa1".to_owned()].into_iter().collect();
    assert_eq!(
        stage.settle(&pairs, &apps, false).await.unwrap(),
        2,
        "oar1 and oar3"
    );

    let planned = stage.entries(StagedKind::Planned, 0, 10).await.unwrap();
    assert_eq!(tokens(&planned), ["oar1", "oar3"]);
    assert_eq!(planned[0].1.policy, "idle", "the pair's entry came first");
    assert!(
        stage
            .all_entries(StagedKind::Exempt)
            .await
            .unwrap()
            .is_empty()
    );
    // Read in chunks: after the first, the second.
    let rest = stage
        .entries(StagedKind::Planned, planned[0].0, 1)
        .await
        .unwrap();
    assert_eq!(tokens(&rest), ["oar3"]);
}

#[sqlx::test(migrations = "./migrations")]
async fn standing_records_close_unless_the_same_rules_stand_in_the_same_mode(
    pool: sqlx::SqlitePool,
) {
    let store = Store::from_pool(pool).await.unwrap();
    let planned = RevocationState::Planned;
    let same = entry("oar1", "00u1", "0oa1", "idle");
    let ruled_anew = entry("oar2", "00u1", "0oa1", "idle");
    let exempt_now = entry("oar3", "00u1", "0oa1", "idle");
    let gone = entry("oar4", "00u1", "0oa1", "idle");
    let unselected = entry("oar5", "00u1", "0oa1", "idle");
    let other_mode = entry("oar6", "00u1", "0oa1", "idle");
    let other_pair = entry("oar7", "00u9", "0oa9", "idle");
    for e in [
        &same,
        &ruled_anew,
        &exempt_now,
        &gone,
        &unselected,
        &other_pair,
    ] {
        standing(&store, planned, Mode::DryRun, e).await;
    }
    standing(&store, planned, Mode::Enforce, &other_mode).await;
    // Tokens the listing saw: all but oar4, which Okta no longer lists.
    let obs = |id: &str| crate::store::tokens::observation("00u1", id, "{}");
    let seen: Vec<_> = ["oar1", "oar2", "oar3", "oar5", "oar6"].map(obs).into();
    let t0 = "2026-11-30T00:00:00Z".parse().unwrap();
    store.record_page(None, &seen, t0).await.unwrap();
    sqlx::query("UPDATE tokens SET gone_at = '2026-11-30T01:00:00.000Z' WHERE token_id = 'oar4'")
        .execute(store.pool())
        .await
        .unwrap();

    let stage = store.plan_stage().await.unwrap();
    let now_planned = vec![
        same.clone(),
        entry("oar2", "00u1", "0oa1", "idle,admin"),
        other_mode.clone(),
        entry("oar8", "00u1", "0oa1", "idle"),
    ];
    stage
        .add(
            false,
            now_planned,
            vec![entry("oar3", "00u1", "0oa1", "admin")],
        )
        .await
        .unwrap();
    let pairs: HashSet<(&str, &str)> = [("00u1", "0oa1")].into_iter().collect();
    stage.settle(&pairs, &HashSet::new(), true).await.unwrap();

    let mode = Mode::DryRun.as_str();
    let kind = Some(StagedKind::Planned);
    let closing = stage.closing(planned, kind, mode, 0, 100).await.unwrap();
    let by_token =
        |t: &str| -> &Closing { closing.iter().find(|c| c.record.token_id == t).unwrap() };
    let closed: Vec<&str> = closing.iter().map(|c| c.record.token_id.as_str()).collect();
    assert_eq!(
        closed,
        ["oar2", "oar3", "oar4", "oar5", "oar6"],
        "oar7's pair was not listed"
    );
    assert_eq!(
        by_token("oar2").planned_policy.as_deref(),
        Some("idle,admin")
    );
    assert_eq!(by_token("oar3").exempt_policy.as_deref(), Some("admin"));
    assert_eq!(
        by_token("oar3").exempt_reason.as_deref(),
        Some("reason of oar3")
    );
    assert!(by_token("oar4").listed_as.is_none(), "gone from Okta");
    assert!(
        by_token("oar5").listed_as.as_deref() == Some("ACTIVE")
            && by_token("oar5").planned_policy.is_none()
    );
    // Chunks go on after the last record read.
    let after = by_token("oar4").record.id;
    let rest = stage
        .closing(planned, kind, mode, after, 100)
        .await
        .unwrap();
    assert_eq!(rest.len(), 2);
    // Nothing stands in enforce: every record of the listed pair closes.
    let all = stage.closing(planned, None, mode, 0, 100).await.unwrap();
    assert_eq!(all.len(), 6);

    // Fresh: what has no standing record with the same rules in this mode.
    let fresh = stage
        .fresh(StagedKind::Planned, planned, mode, "", 100)
        .await
        .unwrap();
    let fresh: Vec<&str> = fresh.iter().map(|e| e.token_id.as_str()).collect();
    assert_eq!(fresh, ["oar2", "oar6", "oar8"]);
    let after = stage
        .fresh(StagedKind::Planned, planned, mode, "oar2", 1)
        .await
        .unwrap();
    assert_eq!(
        after[0].token_id, "oar6",
        "in token order, after the one given"
    );
}

#[sqlx::test(migrations = "./migrations")]
async fn a_token_okta_listed_twice_in_one_listing_is_settled_once_and_recorded_once(
    pool: sqlx::SqlitePool,
) {
    let store = Store::from_pool(pool).await.unwrap();
    let stage = store.plan_stage().await.unwrap();
    // Two pages of one pair, the token on both (Okta's pages shifted between them).
    let page = |policy: &str| vec![entry("oar1", "00u1", "0oa1", policy)];
    stage.add(false, page("idle"), vec![]).await.unwrap();
    stage
        .add(false, page("idle,admin"), page("idle"))
        .await
        .unwrap();
    stage.add(false, vec![], page("other")).await.unwrap();
    let pairs: HashSet<(&str, &str)> = [("00u1", "0oa1")].into_iter().collect();
    let planned = stage.settle(&pairs, &HashSet::new(), true).await.unwrap();

    assert_eq!(planned, 1);
    let kept = stage.all_entries(StagedKind::Planned).await.unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].policy, "idle", "the first sighting's rules");
    let exempt = stage.all_entries(StagedKind::Exempt).await.unwrap();
    assert_eq!(exempt.len(), 1);
    let mode = Mode::DryRun.as_str();
    let fresh = (stage.fresh(StagedKind::Planned, RevocationState::Planned, mode, "", 100))
        .await
        .unwrap();
    assert_eq!(fresh.len(), 1, "one record to append, not two");
}

#[sqlx::test(migrations = "./migrations")]
async fn a_full_temporary_file_is_told_as_the_stage_failing_not_the_database(
    pool: sqlx::SqlitePool,
) {
    let store = Store::from_pool(pool).await.unwrap();
    let stage = store.plan_stage().await.unwrap();
    // As a full disk would.
    let mut conn = stage.conn.lock().await;
    sqlx::query("PRAGMA temp.max_page_count = 4")
        .execute(&mut *conn)
        .await
        .unwrap();
    drop(conn);
    let many: Vec<_> = (0..2_000)
        .map(|i| entry(&format!("oar{i:017}"), "00u1", "0oa1", "idle"))
        .collect();
    let error = stage.add(false, many, vec![]).await.unwrap_err();
    assert!(
        matches!(error, crate::store::Error::Staging(_)),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains("temporary file") && message.contains("SQLITE_TMPDIR"),
        "{message}"
    );
    assert!(message.contains("full"), "SQLite's own words: {message}");
}
