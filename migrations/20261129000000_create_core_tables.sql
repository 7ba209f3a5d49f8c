-- revokd's core tables. Times are ISO-8601 UTC text (e.g. 2026-11-29T22:00:00.000Z) so that
-- sqlite3 users can read and compare them as text.

CREATE TABLE sweeps (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at           TEXT    NOT NULL,
    finished_at          TEXT,
    trigger              TEXT    NOT NULL CHECK (trigger IN ('schedule', 'cli', 'demo', 'offboard')),
    mode                 TEXT    NOT NULL CHECK (mode IN ('dry-run', 'enforce')),
    status               TEXT    NOT NULL CHECK (status IN ('running', 'ok', 'partial', 'failed', 'aborted')),
    targets_total        INTEGER NOT NULL DEFAULT 0,
    targets_failed       INTEGER NOT NULL DEFAULT 0,
    tokens_seen          INTEGER NOT NULL DEFAULT 0,
    revocations_planned  INTEGER NOT NULL DEFAULT 0,
    revocations_done     INTEGER NOT NULL DEFAULT 0,
    revocations_failed   INTEGER NOT NULL DEFAULT 0,
    http_requests        INTEGER NOT NULL DEFAULT 0,
    http_429             INTEGER NOT NULL DEFAULT 0,
    -- 429s that signalled Okta's concurrency limit (a subset of http_429).
    http_429_concurrency INTEGER NOT NULL DEFAULT 0,
    -- Milliseconds spent waiting before retries (429s, 5xx, transport faults), summed over requests.
    wait_ms              INTEGER NOT NULL DEFAULT 0,
    -- Milliseconds requests were held back to stay within revokd's rate-limit share, summed.
    budget_wait_ms       INTEGER NOT NULL DEFAULT 0,
    -- Why the sweep is not `ok`: the safety guard's reason, or a fatal error.
    error                TEXT
);

CREATE TABLE targets (
    user_id        TEXT NOT NULL,
    client_id      TEXT NOT NULL,
    source         TEXT NOT NULL CHECK (source IN ('config', 'discovered', 'offboard')),
    last_polled_at TEXT,
    last_result    TEXT CHECK (last_result IN ('ok', 'failed')),
    last_error     TEXT,
    PRIMARY KEY (user_id, client_id)
);

CREATE TABLE tokens (
    token_id        TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL,
    client_id       TEXT NOT NULL,
    issuer          TEXT,
    status          TEXT,
    scopes          TEXT NOT NULL DEFAULT '[]',
    created_at      TEXT,
    last_updated_at TEXT,
    expires_at      TEXT,
    first_seen_at   TEXT NOT NULL,
    last_seen_at    TEXT NOT NULL,
    -- Set when a complete listing of the pair no longer contains the token.
    gone_at         TEXT,
    revoked_at      TEXT,
    -- `revokd` when revokd revoked it.
    revoked_by      TEXT,
    -- JSON array of the policy rules the token matched when last decided.
    policy_matches  TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX tokens_by_pair ON tokens (user_id, client_id);

CREATE TABLE token_snapshots (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    sweep_id        INTEGER REFERENCES sweeps (id),
    token_id        TEXT NOT NULL,
    observed_at     TEXT NOT NULL,
    status          TEXT,
    scopes          TEXT NOT NULL DEFAULT '[]',
    last_updated_at TEXT,
    expires_at      TEXT,
    raw_json        TEXT NOT NULL
);
CREATE INDEX token_snapshots_by_token ON token_snapshots (token_id, observed_at);
CREATE INDEX token_snapshots_by_time ON token_snapshots (observed_at);

-- The audit trail. Append-only: a revocation's life is a series of rows, the first (the
-- intent) with intent_id NULL and each later one pointing at it. Each row carries the hash of
-- the row before it and its own hash over a canonical encoding (see `revokd audit verify`).
CREATE TABLE revocations (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    intent_id       INTEGER REFERENCES revocations (id),
    token_id        TEXT,
    user_id         TEXT NOT NULL,
    client_id       TEXT NOT NULL,
    trigger         TEXT NOT NULL CHECK (trigger IN ('policy', 'offboard', 'manual')),
    policy          TEXT,
    reason          TEXT,
    mode            TEXT NOT NULL CHECK (mode IN ('dry-run', 'enforce')),
    state           TEXT NOT NULL CHECK (state IN ('pending', 'done', 'already_gone', 'failed',
                        'irrevocable', 'skipped_exempt', 'skipped_safety', 'planned')),
    requested_at    TEXT NOT NULL,
    completed_at    TEXT,
    attempts        INTEGER NOT NULL DEFAULT 0,
    http_status     INTEGER,
    okta_request_id TEXT,
    error           TEXT,
    sweep_id        INTEGER REFERENCES sweeps (id),
    job_id          INTEGER,
    prev_hash       TEXT NOT NULL,
    hash            TEXT NOT NULL UNIQUE
);
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

-- The latest state of every revocation intent.
CREATE VIEW v_revocation_state AS
SELECT r.*
FROM revocations r
JOIN (SELECT COALESCE(intent_id, id) AS intent, MAX(id) AS last_id
      FROM revocations GROUP BY COALESCE(intent_id, id)) latest
  ON r.id = latest.last_id;
