//! The revoke-all intent's life, decided without IO: which row each answer, listing and
//! leftover intent gives.

use super::RevokeAll;
use crate::offboard::Offboarding;
use crate::offboard::send::Answer;
use crate::okta::{ClientId, UserId};
use crate::store::{OpenPairIntent, RevocationState, TargetSource};
use crate::sweep::Target;

use RevocationState::{AlreadyGone, Done, Failed, Pending, Withdrawn};

fn job(id: i64) -> Offboarding {
    Offboarding {
        user: UserId::new("00u1").expect("id"),
        clients: Vec::new(),
        reason: "left".into(),
        job_id: id,
        dry_run: false,
    }
}

fn target() -> Target {
    Target {
        user: UserId::new("00u1").expect("id"),
        client: ClientId::new("0oa1").expect("id"),
        source: TargetSource::Discovered,
    }
}

fn found(id: i64, state: RevocationState, attempts: i64, job: i64) -> OpenPairIntent {
    OpenPairIntent {
        id,
        attempts,
        state,
        job_id: Some(job),
        reason: Some(format!("job {job}")),
    }
}

fn answer(status: u16, error: Option<&str>) -> Answer {
    Answer {
        status: Some(i64::from(status)),
        request_id: Some("req".into()),
        error: error.map(str::to_owned),
        ..Answer::default()
    }
}

#[test]
fn each_answer_and_listing_closes_the_open_intent_as_it_should() {
    let (job, target) = (job(7), target());
    let unsent = |withdrawn| Answer {
        unsent: true,
        withdrawn,
        error: Some("not sent".into()),
        ..Answer::default()
    };
    let first_404 = Answer {
        already_gone: true,
        ..answer(404, Some("not found"))
    };
    let listed = |gone: bool| Ok::<bool, String>(gone);
    let cases = [
        // (answer, listing, state, attempts after 2, open after, error contains)
        (answer(204, None), listed(true), Done, 3, false, None),
        (
            answer(204, None),
            listed(false),
            Failed,
            3,
            true,
            Some("Okta answered 204, but"),
        ),
        (
            answer(503, Some("503 E0000009")),
            listed(false),
            Failed,
            3,
            true,
            Some("503"),
        ),
        (
            answer(204, None),
            Err("timed out".into()),
            Failed,
            3,
            true,
            Some("could not be listed"),
        ),
        (
            answer(404, None),
            listed(true),
            Done,
            3,
            false,
            Some("an earlier attempt took effect"),
        ),
        (
            first_404,
            Err("x".into()),
            AlreadyGone,
            3,
            false,
            Some("not found"),
        ),
        (
            unsent(true),
            listed(false),
            Withdrawn,
            2,
            false,
            Some("not sent"),
        ),
        (
            unsent(false),
            listed(false),
            Failed,
            2,
            true,
            Some("not sent"),
        ),
    ];
    for (a, listing, state, attempts, open, error) in cases {
        let mut whole = RevokeAll::start(&job, &target, Vec::new(), false).0;
        whole.open = Some((1, 2));
        let row = whole.answered(&a, listing.clone()).expect("a row");
        let what = format!("{a:?} {listing:?}");
        assert_eq!((row.state, row.attempts), (state, attempts), "{what}");
        assert_eq!(row.intent_id, Some(1), "{what}");
        assert_eq!(row.token_id, None, "{what}");
        let verified = matches!(state, Done | AlreadyGone);
        assert_eq!(row.verified_at.is_some(), verified, "{what}");
        assert_eq!(whole.open.is_some(), open, "{what}");
        match error {
            Some(text) => assert!(
                row.error.as_deref().is_some_and(|e| e.contains(text)),
                "{what}: {row:?}"
            ),
            None => assert_eq!(row.error, None, "{what}"),
        }
    }
}

#[test]
fn nothing_open_means_no_row() {
    let (job, target) = (job(7), target());
    let mut whole = RevokeAll::start(&job, &target, Vec::new(), false).0;
    assert!(whole.answered(&answer(204, None), Ok(true)).is_none());
    assert!(whole.finish(true).is_none());
    assert!(whole.round(false).is_none());
}

#[test]
fn a_try_adopts_its_jobs_intent_and_supersedes_an_ended_jobs() {
    let (job, target) = (job(7), target());
    let left = vec![found(3, Failed, 1, 5), found(9, Pending, 0, 7)];
    let (whole, rows) = RevokeAll::start(&job, &target, left, false);
    let got: Vec<_> = rows
        .iter()
        .map(|r| {
            (
                r.intent_id,
                r.state,
                r.attempts,
                r.job_id,
                r.reason.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (Some(3), Withdrawn, 1, Some(5), Some("job 5")),
            (Some(9), Failed, 1, Some(7), Some("job 7")),
        ]
    );
    assert!(
        rows[0]
            .error
            .as_deref()
            .is_some_and(|e| e.contains("job 7"))
    );
    assert_eq!(
        whole.open,
        Some((9, 1)),
        "the next attempt is the interrupted one's"
    );
}

#[test]
fn with_nothing_listed_every_leftover_intent_is_already_gone() {
    let (job, target) = (job(7), target());
    let left = vec![found(3, Failed, 1, 5), found(9, Pending, 0, 7)];
    let (whole, rows) = RevokeAll::start(&job, &target, left, true);
    let got: Vec<_> = rows
        .iter()
        .map(|r| (r.intent_id, r.state, r.attempts))
        .collect();
    assert_eq!(
        got,
        vec![(Some(3), AlreadyGone, 1), (Some(9), AlreadyGone, 1)]
    );
    assert!(rows.iter().all(|r| r.verified_at.is_some()));
    assert_eq!(whole.open, None);
}

#[test]
fn a_round_opens_one_intent_and_withdraws_its_retry_when_the_pair_goes_token_by_token() {
    let (job, target) = (job(7), target());
    let mut whole = RevokeAll::start(&job, &target, Vec::new(), false).0;
    let new = whole.round(true).expect("an intent");
    assert_eq!(
        (new.state, new.intent_id, new.token_id.as_deref()),
        (Pending, None, None)
    );
    whole.intended(11);
    let failed = whole
        .answered(&answer(503, Some("503")), Ok(false))
        .expect("a row");
    assert_eq!((failed.state, failed.attempts), (Failed, 1));
    // One intent per pair: the next round's attempt is a retry of it, recorded before it.
    let retry = whole.round(true).expect("a retry");
    assert_eq!(
        (retry.state, retry.intent_id, retry.attempts),
        (Pending, Some(11), 1)
    );
    let failed = whole
        .answered(&answer(503, Some("503")), Ok(false))
        .expect("a row");
    assert_eq!((failed.intent_id, failed.attempts), (Some(11), 2));
    let withdrawn = whole.round(false).expect("its retry withdrawn");
    assert_eq!(
        (withdrawn.state, withdrawn.intent_id, withdrawn.attempts),
        (Withdrawn, Some(11), 2)
    );
    assert_eq!(whole.open, None);
}

#[test]
fn at_the_end_a_failed_intent_stays_open_unless_the_gate_clears_nothing() {
    let (job, target) = (job(7), target());
    let mut whole = RevokeAll::start(&job, &target, vec![found(4, Failed, 2, 7)], false).0;
    assert!(
        whole.finish(false).is_none(),
        "rounds ran out: the job's next try retries it"
    );
    assert_eq!(whole.open, Some((4, 2)));
    let row = whole.finish(true).expect("its retry withdrawn");
    assert_eq!(
        (row.state, row.intent_id, row.attempts),
        (Withdrawn, Some(4), 2)
    );
}
