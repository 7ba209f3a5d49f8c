-- `offboarding_jobs.state` gains `skipped`: an automatic job (event hook, System Log) whose
-- event no longer stands when it runs. Before each attempt that has revoked nothing yet, the
-- job reads the user's status in Okta: a deactivation or suspension undone since (the user
-- reactivated or unsuspended before the job ran) revokes nothing and ends `skipped`, with
-- why in `error`. Such a job offboarded no one, so `v_offboarded_users` no longer counts it.
-- SQLite cannot change a CHECK constraint in place, so the table is rebuilt; every row is
-- copied verbatim, and the id sequence goes on from where it stood (not from the highest id
-- left), so no id is ever given twice. Views name the table and resolve to the rebuilt one
-- (legacy_alter_table keeps RENAME from rewriting them).

PRAGMA legacy_alter_table = ON;

CREATE TABLE offboarding_jobs_rebuilt (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id         TEXT    NOT NULL,
    source          TEXT    NOT NULL CHECK (source IN ('cli', 'event_hook', 'system_log')),
    -- The Okta event uuid (NULL for `cli`): a second delivery of an event makes no second job.
    event_id        TEXT    UNIQUE,
    event_type      TEXT,
    reason          TEXT,
    state           TEXT    NOT NULL
        CHECK (state IN ('queued', 'running', 'held', 'done', 'failed', 'skipped')),
    created_at      TEXT    NOT NULL,
    started_at      TEXT,
    finished_at     TEXT,
    -- For a `queued` job that failed before: not picked up before this instant.
    next_attempt_at TEXT,
    attempts        INTEGER NOT NULL DEFAULT 0,
    -- `host:pid:start` of the process running the job.
    runner          TEXT,
    error           TEXT,
    -- When `revokd offboard release` let a held job run: the breaker holds it no more.
    released_at     TEXT,
    -- The mode of the job's latest run (NULL before it runs).
    mode            TEXT    CHECK (mode IN ('dry-run', 'enforce'))
);
INSERT INTO offboarding_jobs_rebuilt (id, user_id, source, event_id, event_type, reason, state,
    created_at, started_at, finished_at, next_attempt_at, attempts, runner, error, released_at,
    mode)
SELECT id, user_id, source, event_id, event_type, reason, state, created_at, started_at,
    finished_at, next_attempt_at, attempts, runner, error, released_at, mode
FROM offboarding_jobs ORDER BY id;
INSERT INTO sqlite_sequence (name, seq)
SELECT 'offboarding_jobs_rebuilt', seq FROM sqlite_sequence WHERE name = 'offboarding_jobs'
  AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'offboarding_jobs_rebuilt');
UPDATE sqlite_sequence
SET seq = MAX(seq, COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'offboarding_jobs'), 0))
WHERE name = 'offboarding_jobs_rebuilt';
DROP TABLE offboarding_jobs;
ALTER TABLE offboarding_jobs_rebuilt RENAME TO offboarding_jobs;
CREATE INDEX offboarding_jobs_by_state ON offboarding_jobs (state, next_attempt_at);
CREATE INDEX offboarding_jobs_by_user ON offboarding_jobs (user_id, state, id);

DROP VIEW v_offboarded_users;
CREATE VIEW v_offboarded_users AS
SELECT user_id, 'revocation' AS source, MIN(requested_at) AS since
FROM revocations WHERE trigger = 'offboard' AND mode <> 'dry-run' GROUP BY user_id
UNION ALL
SELECT user_id, 'target' AS source, MIN(last_polled_at) AS since
FROM targets t WHERE source = 'offboard'
  AND NOT EXISTS (SELECT 1 FROM offboarding_jobs j WHERE j.user_id = t.user_id)
GROUP BY user_id
UNION ALL
SELECT user_id, 'job' AS source, MIN(created_at) AS since
FROM offboarding_jobs WHERE (mode IS NULL OR mode <> 'dry-run') AND state <> 'skipped'
GROUP BY user_id;

PRAGMA legacy_alter_table = OFF;
