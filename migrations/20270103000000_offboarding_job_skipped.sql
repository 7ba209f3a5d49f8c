-- `offboarding_jobs.state` gains `skipped`: an automatic job (event hook, System Log) whose
-- event no longer stands when it runs. Before its first request, the job reads the user's
-- status in Okta: a deactivation or suspension undone since (the user reactivated or
-- unsuspended before the job ran, or a delivery replayed later) revokes nothing and ends
-- `skipped`, with why in `error`. Such a job offboarded no one, so `v_offboarded_users` no
-- longer counts it.
-- SQLite cannot change a CHECK constraint in place, so the table is rebuilt; every row is
-- copied verbatim. Views name the table and resolve to the rebuilt one (legacy_alter_table
-- keeps RENAME from rewriting them).

PRAGMA legacy_alter_table = ON;

CREATE TABLE offboarding_jobs_rebuilt (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id         TEXT    NOT NULL,
    source          TEXT    NOT NULL CHECK (source IN ('cli', 'event_hook', 'system_log')),
    event_id        TEXT    UNIQUE,
    event_type      TEXT,
    reason          TEXT,
    state           TEXT    NOT NULL
        CHECK (state IN ('queued', 'running', 'held', 'done', 'failed', 'skipped')),
    created_at      TEXT    NOT NULL,
    started_at      TEXT,
    finished_at     TEXT,
    next_attempt_at TEXT,
    attempts        INTEGER NOT NULL DEFAULT 0,
    runner          TEXT,
    error           TEXT,
    released_at     TEXT,
    mode            TEXT    CHECK (mode IN ('dry-run', 'enforce'))
);
INSERT INTO offboarding_jobs_rebuilt (id, user_id, source, event_id, event_type, reason, state,
    created_at, started_at, finished_at, next_attempt_at, attempts, runner, error, released_at,
    mode)
SELECT id, user_id, source, event_id, event_type, reason, state, created_at, started_at,
    finished_at, next_attempt_at, attempts, runner, error, released_at, mode
FROM offboarding_jobs ORDER BY id;
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
