-- The revocation gate and audit fidelity.
-- * `revocations.state` gains `withdrawn`: a plan or an open intent that the configuration in
--   force no longer selects (exempt now, no policy, token gone, an id Okta could not have
--   sent) is closed as `withdrawn` and never sent.
-- * `revocations.okta_error_id`: Okta's `errorId` of the response that caused the row.
-- * `revocations.hash_version`: 1 for rows written before this migration (their hash covers
--   the original columns), 2 after it (the hash covers every column). `revokd audit verify`
--   refuses a version-1 row after a version-2 row.
-- * `offboarding_jobs.state` gains `held`: an automatic job beyond
--   `safety.max_offboarded_users_per_hour`, waiting for `revokd offboard release`
--   (`released_at`).
-- SQLite cannot change a CHECK constraint in place, so both tables are rebuilt; every row is
-- copied verbatim (ids, hashes and all), so the chain still verifies. Views name the tables and
-- resolve to the rebuilt ones (legacy_alter_table keeps RENAME from rewriting them).

PRAGMA legacy_alter_table = ON;

CREATE TABLE revocations_rebuilt (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    intent_id       INTEGER REFERENCES revocations_rebuilt (id),
    token_id        TEXT,
    user_id         TEXT NOT NULL,
    client_id       TEXT NOT NULL,
    trigger         TEXT NOT NULL CHECK (trigger IN ('policy', 'offboard', 'manual')),
    policy          TEXT,
    reason          TEXT,
    mode            TEXT NOT NULL CHECK (mode IN ('dry-run', 'enforce')),
    state           TEXT NOT NULL CHECK (state IN ('pending', 'done', 'already_gone', 'failed',
                        'irrevocable', 'skipped_exempt', 'skipped_safety', 'planned',
                        'withdrawn')),
    requested_at    TEXT NOT NULL,
    completed_at    TEXT,
    attempts        INTEGER NOT NULL DEFAULT 0,
    http_status     INTEGER,
    okta_request_id TEXT,
    error           TEXT,
    sweep_id        INTEGER REFERENCES sweeps (id),
    job_id          INTEGER,
    prev_hash       TEXT NOT NULL,
    hash            TEXT NOT NULL UNIQUE,
    verified_at     TEXT,
    next_attempt_at TEXT,
    okta_error_id   TEXT,
    hash_version    INTEGER NOT NULL DEFAULT 2 CHECK (hash_version IN (1, 2))
);
INSERT INTO revocations_rebuilt (id, intent_id, token_id, user_id, client_id, trigger, policy,
    reason, mode, state, requested_at, completed_at, attempts, http_status, okta_request_id,
    error, sweep_id, job_id, prev_hash, hash, verified_at, next_attempt_at, okta_error_id,
    hash_version)
SELECT id, intent_id, token_id, user_id, client_id, trigger, policy, reason, mode, state,
    requested_at, completed_at, attempts, http_status, okta_request_id, error, sweep_id, job_id,
    prev_hash, hash, verified_at, next_attempt_at, NULL, 1
FROM revocations ORDER BY id;

DROP TABLE revocations;
ALTER TABLE revocations_rebuilt RENAME TO revocations;

CREATE INDEX revocations_by_token ON revocations (token_id);
CREATE INDEX revocations_by_intent ON revocations (intent_id);
CREATE INDEX revocations_by_time ON revocations (requested_at);

CREATE TRIGGER revocations_are_append_only_update BEFORE UPDATE ON revocations
BEGIN
    SELECT RAISE(ABORT, 'revocations is append-only');
END;
CREATE TRIGGER revocations_are_append_only_delete BEFORE DELETE ON revocations
BEGIN
    SELECT RAISE(ABORT, 'revocations is append-only');
END;

CREATE TABLE offboarding_jobs_rebuilt (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id         TEXT    NOT NULL,
    source          TEXT    NOT NULL CHECK (source IN ('cli', 'event_hook', 'system_log')),
    event_id        TEXT    UNIQUE,
    event_type      TEXT,
    reason          TEXT,
    state           TEXT    NOT NULL CHECK (state IN ('queued', 'running', 'held', 'done', 'failed')),
    created_at      TEXT    NOT NULL,
    started_at      TEXT,
    finished_at     TEXT,
    next_attempt_at TEXT,
    attempts        INTEGER NOT NULL DEFAULT 0,
    runner          TEXT,
    error           TEXT,
    -- When `revokd offboard release` let a held job run: the breaker holds it no more.
    released_at     TEXT
);
INSERT INTO offboarding_jobs_rebuilt (id, user_id, source, event_id, event_type, reason, state,
    created_at, started_at, finished_at, next_attempt_at, attempts, runner, error)
SELECT id, user_id, source, event_id, event_type, reason, state, created_at, started_at,
    finished_at, next_attempt_at, attempts, runner, error
FROM offboarding_jobs ORDER BY id;
DROP TABLE offboarding_jobs;
ALTER TABLE offboarding_jobs_rebuilt RENAME TO offboarding_jobs;
CREATE INDEX offboarding_jobs_by_state ON offboarding_jobs (state, next_attempt_at);

-- The revocation log gains the new columns (appended, so existing readers are unaffected).
DROP VIEW v_revocation_log;
CREATE VIEW v_revocation_log AS
SELECT i.id AS intent_id, i.requested_at, s.completed_at, i.token_id, i.user_id, i.client_id,
       i.trigger, i.policy, i.reason, i.mode, s.state, s.attempts, s.http_status,
       s.okta_request_id, s.error, i.sweep_id, i.job_id, s.okta_error_id, s.verified_at
FROM v_revocation_state s
JOIN revocations i ON i.id = COALESCE(s.intent_id, s.id);

PRAGMA legacy_alter_table = OFF;
