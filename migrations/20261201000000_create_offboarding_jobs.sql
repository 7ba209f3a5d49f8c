-- Offboarding: one job per user to offboard (from the CLI, an Okta event hook delivery, or the
-- System Log catch-up), de-duplicated by Okta event uuid, and the System Log polling cursor.

CREATE TABLE offboarding_jobs (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id         TEXT    NOT NULL,
    source          TEXT    NOT NULL CHECK (source IN ('cli', 'event_hook', 'system_log')),
    -- The Okta event uuid (NULL for `cli`): a second delivery of an event makes no second job.
    event_id        TEXT    UNIQUE,
    event_type      TEXT,
    reason          TEXT,
    state           TEXT    NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
    created_at      TEXT    NOT NULL,
    started_at      TEXT,
    finished_at     TEXT,
    -- For a `queued` job that failed before: not picked up before this instant.
    next_attempt_at TEXT,
    attempts        INTEGER NOT NULL DEFAULT 0,
    -- `host:pid:start` of the process running the job.
    runner          TEXT,
    error           TEXT
);
CREATE INDEX offboarding_jobs_by_state ON offboarding_jobs (state, next_attempt_at);

-- The System Log polling cursor: the `next` link of the last page, followed verbatim.
CREATE TABLE system_log_cursor (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    next_url   TEXT    NOT NULL,
    updated_at TEXT    NOT NULL
);

DROP VIEW v_offboarded_users;
CREATE VIEW v_offboarded_users AS
SELECT user_id, 'revocation' AS source, MIN(requested_at) AS since
FROM revocations WHERE trigger = 'offboard' GROUP BY user_id
UNION ALL
SELECT user_id, 'target' AS source, MIN(last_polled_at) AS since
FROM targets WHERE source = 'offboard' GROUP BY user_id
UNION ALL
SELECT user_id, 'job' AS source, MIN(created_at) AS since
FROM offboarding_jobs GROUP BY user_id;
