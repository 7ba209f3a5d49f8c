-- A narrower stored form of the token history and the audit trail, with nothing lost.
--
-- * A snapshot's status, scopes, lastUpdated and expiresAt are in the Okta record it holds;
--   they are no longer stored a second time beside it. Snapshots move to `token_history`,
--   which keeps Okta's record and, only where the value revokd derived from the record is not
--   the record's own member, that value (an empty blob where revokd derived no value, NULL,
--   but the record has the member). `token_snapshots` becomes a view with the columns it always had, in
--   the same order and with the same values; inserting into it stores the narrow form.
-- * The snapshots' index is by token alone: a token's snapshots follow each other by id.
-- * `revocations` loses two indexes nothing reads: the UNIQUE index on `hash` (a hash covers
--   the row's own id, so two rows cannot share one; `revokd audit verify` checks every hash
--   and the chain) and `revocations_by_time` (the reports filter the log views, which read the
--   whole trail). SQLite cannot drop a column's UNIQUE constraint in place, so the table is
--   rebuilt; every row is copied verbatim (ids, hashes and all), so the chain still verifies.

PRAGMA legacy_alter_table = ON;

DROP VIEW v_token_records;
ALTER TABLE token_snapshots RENAME TO token_snapshots_wide;

CREATE TABLE token_history (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    sweep_id        INTEGER REFERENCES sweeps (id),
    token_id        TEXT NOT NULL,
    observed_at     TEXT NOT NULL,
    -- Okta's record without `_links`, `_embedded.scopes` as scope ids.
    raw_json        TEXT NOT NULL,
    -- NULL where the record's `status`, `scopes`, `lastUpdated`, `expiresAt` give the value;
    -- an empty blob where the value is NULL but the record has the member. No declared type:
    -- a value is kept exactly as written (a declared type would turn text like '0012' into a
    -- number).
    status,
    scopes,
    last_updated_at,
    expires_at
);

-- The snapshots as they always read: each stored value, or else the record's member. The
-- trigger below reads the members with the same four expressions: they change together, or
-- a value stored as "the record's own" would read back as something else.
CREATE VIEW token_snapshots AS
SELECT id, sweep_id, token_id, observed_at,
       CASE WHEN status IS NOT NULL THEN nullif(status, x'')
            WHEN json_valid(raw_json) THEN raw_json ->> '$.status' END AS status,
       CASE WHEN scopes IS NOT NULL THEN scopes
            WHEN json_valid(raw_json) THEN raw_json -> '$.scopes' END AS scopes,
       CASE WHEN last_updated_at IS NOT NULL THEN nullif(last_updated_at, x'')
            WHEN json_valid(raw_json) THEN raw_json ->> '$.lastUpdated' END AS last_updated_at,
       CASE WHEN expires_at IS NOT NULL THEN nullif(expires_at, x'')
            WHEN json_valid(raw_json) THEN raw_json ->> '$.expiresAt' END AS expires_at,
       raw_json
FROM token_history;

-- A snapshot written through the view: each value stored only where the record does not give
-- it back. `scopes` defaults to `[]`, as the column always did.
CREATE TRIGGER token_snapshots_insert INSTEAD OF INSERT ON token_snapshots
BEGIN
    INSERT INTO token_history (id, sweep_id, token_id, observed_at, raw_json, status, scopes,
        last_updated_at, expires_at)
    SELECT NEW.id, NEW.sweep_id, NEW.token_id, NEW.observed_at, NEW.raw_json,
           CASE WHEN NEW.status IS r.status THEN NULL ELSE COALESCE(NEW.status, x'') END,
           CASE WHEN COALESCE(NEW.scopes, '[]') IS r.scopes THEN NULL
                ELSE COALESCE(NEW.scopes, '[]') END,
           CASE WHEN NEW.last_updated_at IS r.last_updated_at THEN NULL
                ELSE COALESCE(NEW.last_updated_at, x'') END,
           CASE WHEN NEW.expires_at IS r.expires_at THEN NULL
                ELSE COALESCE(NEW.expires_at, x'') END
    FROM (SELECT CASE WHEN json_valid(NEW.raw_json) THEN NEW.raw_json ->> '$.status' END
                     AS status,
                 CASE WHEN json_valid(NEW.raw_json) THEN NEW.raw_json -> '$.scopes' END
                     AS scopes,
                 CASE WHEN json_valid(NEW.raw_json) THEN NEW.raw_json ->> '$.lastUpdated' END
                     AS last_updated_at,
                 CASE WHEN json_valid(NEW.raw_json) THEN NEW.raw_json ->> '$.expiresAt' END
                     AS expires_at) AS r;
END;

INSERT INTO token_snapshots (id, sweep_id, token_id, observed_at, status, scopes,
    last_updated_at, expires_at, raw_json)
SELECT id, sweep_id, token_id, observed_at, status, scopes, last_updated_at, expires_at, raw_json
FROM token_snapshots_wide ORDER BY id;
-- Ids are never reused: the sequence goes on from where the old table's stood.
UPDATE sqlite_sequence
SET seq = MAX(seq, COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'token_snapshots_wide'), 0))
WHERE name = 'token_history';
INSERT INTO sqlite_sequence (name, seq)
SELECT 'token_history', seq FROM sqlite_sequence WHERE name = 'token_snapshots_wide'
  AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'token_history');
DROP TABLE token_snapshots_wide;
CREATE INDEX token_history_by_token ON token_history (token_id);

-- As before, over the view.
CREATE VIEW v_token_records AS
SELECT s.id, s.sweep_id, s.token_id, s.observed_at, s.status, s.scopes, s.last_updated_at,
       s.expires_at,
       CASE WHEN json_type(s.raw_json, '$._embedded.scopes[0]') = 'text' THEN
           json_set(s.raw_json, '$._embedded.scopes', json((
               SELECT json_group_array(json(item)) FROM (
                   SELECT (SELECT c.raw_json FROM scope_catalog c
                           WHERE c.issuer = COALESCE(s.raw_json ->> '$.issuer', '')
                             AND c.scope_id = e.value AND c.first_seen_at <= s.observed_at
                           ORDER BY c.first_seen_at DESC, c.id DESC LIMIT 1) AS item
                   FROM json_each(s.raw_json, '$._embedded.scopes') e ORDER BY e.key))))
       ELSE s.raw_json END AS okta_json
FROM token_snapshots s;

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
    hash            TEXT NOT NULL,
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
    prev_hash, hash, verified_at, next_attempt_at, okta_error_id, hash_version
FROM revocations ORDER BY id;

DROP TABLE revocations;
ALTER TABLE revocations_rebuilt RENAME TO revocations;

CREATE INDEX revocations_by_token ON revocations (token_id);
CREATE INDEX revocations_by_intent ON revocations (intent_id);
CREATE INDEX revocations_standing ON revocations (state, trigger)
WHERE intent_id IS NULL AND state IN ('planned', 'skipped_exempt');

CREATE TRIGGER revocations_are_append_only_update BEFORE UPDATE ON revocations
BEGIN
    SELECT RAISE(ABORT, 'revocations is append-only');
END;
CREATE TRIGGER revocations_are_append_only_delete BEFORE DELETE ON revocations
BEGIN
    SELECT RAISE(ABORT, 'revocations is append-only');
END;

PRAGMA legacy_alter_table = OFF;
