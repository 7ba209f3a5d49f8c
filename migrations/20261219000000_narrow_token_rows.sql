-- A token's row keeps only what its history does not: `tokens` becomes a view, with the
-- columns it always had, in the same order and with the same values.
--
-- * `token_state` holds what revokd knows of each token (when it was seen, gone, revoked,
--   which rules it matched, its hashes) and its pair as a number (`token_pairs`).
-- * `issuer`, `status`, `scopes`, `created_at`, `last_updated_at` and `expires_at` are read
--   from the token's latest record in `token_history` (its highest id). `token_state` keeps
--   such a value only where the record does not give it back: an empty blob where the value
--   is NULL but the record has it, the value itself where it differs or no record is kept.
-- * Inserting into or updating `tokens` writes `token_state` (and `token_pairs`) through the
--   triggers below, each value stored only where the latest record does not give it back.
--   revokd's own writers address `token_state` directly.

PRAGMA legacy_alter_table = ON;

CREATE TABLE token_pairs (
    id        INTEGER PRIMARY KEY,
    user_id   TEXT NOT NULL,
    client_id TEXT NOT NULL,
    UNIQUE (user_id, client_id)
);
CREATE INDEX token_pairs_by_client ON token_pairs (client_id);

CREATE TABLE token_state (
    token_id        TEXT PRIMARY KEY,
    pair_id         INTEGER NOT NULL REFERENCES token_pairs (id),
    first_seen_at   TEXT NOT NULL,
    last_seen_at    TEXT NOT NULL,
    -- Set when a complete listing of the pair no longer contains the token.
    gone_at         TEXT,
    revoked_at      TEXT,
    -- `revokd` when revokd revoked it.
    revoked_by      TEXT,
    -- JSON array of the policy rules the token matched when last decided.
    policy_matches  TEXT NOT NULL DEFAULT '[]',
    reappeared_at   TEXT,
    -- See `okta::record::fingerprint` and `okta::record::item_hash`.
    record_hash     INTEGER,
    -- A 16-byte blob (an integer where written before 128-bit hashes).
    item_hash       BLOB,
    -- NULL where the latest record gives the value back; an empty blob where the value is NULL
    -- but the record has the member. No declared type: a value is kept exactly as written.
    issuer,
    status,
    scopes,
    created_at,
    last_updated_at,
    expires_at
);
CREATE INDEX token_state_by_pair ON token_state (pair_id);
CREATE INDEX token_state_revoked ON token_state (token_id) WHERE revoked_at IS NOT NULL;

-- What each stored record says, the way `tokens` reads it: a token's values come from its
-- latest record (`r.id` = the highest id of its history, a key look-up; a plain SELECT that
-- reads no value of the record skips it, a COUNT or GROUP BY over `tokens` does not). The triggers compare a written value with these same
-- expressions: they change together, or a value stored as "the record's own" would read back
-- as something else.
CREATE VIEW token_history_values AS
SELECT s.id, s.token_id, s.status, s.scopes, s.last_updated_at, s.expires_at,
       CASE WHEN json_valid(s.raw_json) THEN s.raw_json ->> '$.issuer' END AS issuer,
       CASE WHEN json_valid(s.raw_json) THEN s.raw_json ->> '$.created' END AS created_at
FROM token_snapshots s;

INSERT INTO token_pairs (user_id, client_id)
SELECT DISTINCT user_id, client_id FROM tokens ORDER BY user_id, client_id;

INSERT INTO token_state (token_id, pair_id, first_seen_at, last_seen_at, gone_at, revoked_at,
    revoked_by, policy_matches, reappeared_at, record_hash, item_hash, issuer, status, scopes,
    created_at, last_updated_at, expires_at)
SELECT t.token_id, p.id, t.first_seen_at, t.last_seen_at, t.gone_at, t.revoked_at,
       t.revoked_by, t.policy_matches, t.reappeared_at, t.record_hash, t.item_hash,
       CASE WHEN +t.issuer IS r.issuer THEN NULL ELSE COALESCE(t.issuer, x'') END,
       CASE WHEN +t.status IS r.status THEN NULL ELSE COALESCE(t.status, x'') END,
       CASE WHEN +t.scopes IS r.scopes THEN NULL ELSE t.scopes END,
       CASE WHEN +t.created_at IS r.created_at THEN NULL ELSE COALESCE(t.created_at, x'') END,
       CASE WHEN +t.last_updated_at IS r.last_updated_at THEN NULL
            ELSE COALESCE(t.last_updated_at, x'') END,
       CASE WHEN +t.expires_at IS r.expires_at THEN NULL ELSE COALESCE(t.expires_at, x'') END
FROM tokens t
JOIN token_pairs p ON p.user_id = t.user_id AND p.client_id = t.client_id
LEFT JOIN token_history_values r
    ON r.id = (SELECT max(m.id) FROM token_history m WHERE m.token_id = t.token_id)
ORDER BY t.rowid;

DROP TABLE tokens;

CREATE VIEW tokens AS
SELECT s.token_id, p.user_id, p.client_id,
       CASE WHEN s.issuer IS NOT NULL THEN nullif(s.issuer, x'') ELSE r.issuer END AS issuer,
       CASE WHEN s.status IS NOT NULL THEN nullif(s.status, x'') ELSE r.status END AS status,
       COALESCE(s.scopes, r.scopes) AS scopes,
       CASE WHEN s.created_at IS NOT NULL THEN nullif(s.created_at, x'')
            ELSE r.created_at END AS created_at,
       CASE WHEN s.last_updated_at IS NOT NULL THEN nullif(s.last_updated_at, x'')
            ELSE r.last_updated_at END AS last_updated_at,
       CASE WHEN s.expires_at IS NOT NULL THEN nullif(s.expires_at, x'')
            ELSE r.expires_at END AS expires_at,
       s.first_seen_at, s.last_seen_at, s.gone_at, s.revoked_at, s.revoked_by,
       s.policy_matches, s.reappeared_at, s.record_hash, s.item_hash
FROM token_state s
JOIN token_pairs p ON p.id = s.pair_id
LEFT JOIN token_history_values r
    ON r.id = (SELECT max(m.id) FROM token_history m WHERE m.token_id = s.token_id);

CREATE TRIGGER tokens_insert INSTEAD OF INSERT ON tokens
BEGIN
    -- Not INSERT OR IGNORE: an outer INSERT OR REPLACE would turn it into a REPLACE that
    -- renumbers the pair under its other tokens and folded records.
    INSERT INTO token_pairs (user_id, client_id)
    SELECT NEW.user_id, NEW.client_id WHERE NOT EXISTS (
        SELECT 1 FROM token_pairs WHERE user_id = NEW.user_id AND client_id = NEW.client_id);
    INSERT INTO token_state (token_id, pair_id, first_seen_at, last_seen_at, gone_at,
        revoked_at, revoked_by, policy_matches, reappeared_at, record_hash, item_hash, issuer,
        status, scopes, created_at, last_updated_at, expires_at)
    SELECT NEW.token_id,
           (SELECT id FROM token_pairs WHERE user_id = NEW.user_id AND client_id = NEW.client_id),
           NEW.first_seen_at, NEW.last_seen_at, NEW.gone_at, NEW.revoked_at, NEW.revoked_by,
           COALESCE(NEW.policy_matches, '[]'), NEW.reappeared_at, NEW.record_hash,
           NEW.item_hash,
           CASE WHEN NEW.issuer IS r.issuer THEN NULL ELSE COALESCE(NEW.issuer, x'') END,
           CASE WHEN NEW.status IS r.status THEN NULL ELSE COALESCE(NEW.status, x'') END,
           CASE WHEN COALESCE(NEW.scopes, '[]') IS r.scopes THEN NULL
                ELSE COALESCE(NEW.scopes, '[]') END,
           CASE WHEN NEW.created_at IS r.created_at THEN NULL
                ELSE COALESCE(NEW.created_at, x'') END,
           CASE WHEN NEW.last_updated_at IS r.last_updated_at THEN NULL
                ELSE COALESCE(NEW.last_updated_at, x'') END,
           CASE WHEN NEW.expires_at IS r.expires_at THEN NULL
                ELSE COALESCE(NEW.expires_at, x'') END
    FROM (SELECT 1) LEFT JOIN token_history_values r
        ON r.id = (SELECT max(m.id) FROM token_history m WHERE m.token_id = NEW.token_id);
END;

CREATE TRIGGER tokens_update INSTEAD OF UPDATE ON tokens
BEGIN
    -- Not INSERT OR IGNORE: an outer INSERT OR REPLACE would turn it into a REPLACE that
    -- renumbers the pair under its other tokens and folded records.
    INSERT INTO token_pairs (user_id, client_id)
    SELECT NEW.user_id, NEW.client_id WHERE NOT EXISTS (
        SELECT 1 FROM token_pairs WHERE user_id = NEW.user_id AND client_id = NEW.client_id);
    UPDATE token_state SET
        token_id = NEW.token_id,
        pair_id = (SELECT id FROM token_pairs
                   WHERE user_id = NEW.user_id AND client_id = NEW.client_id),
        first_seen_at = NEW.first_seen_at, last_seen_at = NEW.last_seen_at,
        gone_at = NEW.gone_at, revoked_at = NEW.revoked_at, revoked_by = NEW.revoked_by,
        policy_matches = COALESCE(NEW.policy_matches, '[]'), reappeared_at = NEW.reappeared_at,
        record_hash = NEW.record_hash, item_hash = NEW.item_hash,
        issuer = CASE WHEN NEW.issuer IS r.issuer THEN NULL ELSE COALESCE(NEW.issuer, x'') END,
        status = CASE WHEN NEW.status IS r.status THEN NULL ELSE COALESCE(NEW.status, x'') END,
        scopes = CASE WHEN COALESCE(NEW.scopes, '[]') IS r.scopes THEN NULL
                      ELSE COALESCE(NEW.scopes, '[]') END,
        created_at = CASE WHEN NEW.created_at IS r.created_at THEN NULL
                          ELSE COALESCE(NEW.created_at, x'') END,
        last_updated_at = CASE WHEN NEW.last_updated_at IS r.last_updated_at THEN NULL
                               ELSE COALESCE(NEW.last_updated_at, x'') END,
        expires_at = CASE WHEN NEW.expires_at IS r.expires_at THEN NULL
                          ELSE COALESCE(NEW.expires_at, x'') END
    FROM (SELECT 1) LEFT JOIN token_history_values r
        ON r.id = (SELECT max(m.id) FROM token_history m WHERE m.token_id = NEW.token_id)
    WHERE token_state.token_id = OLD.token_id;
END;

CREATE TRIGGER tokens_delete INSTEAD OF DELETE ON tokens
BEGIN
    DELETE FROM token_state WHERE token_id = OLD.token_id;
END;

CREATE TRIGGER token_state_absence_opens AFTER UPDATE OF gone_at ON token_state
WHEN OLD.gone_at IS NULL AND NEW.gone_at IS NOT NULL
BEGIN
    INSERT OR IGNORE INTO token_absences (token_id, gone_at) VALUES (NEW.token_id, NEW.gone_at);
END;
CREATE TRIGGER token_state_absence_closes AFTER UPDATE OF gone_at ON token_state
WHEN OLD.gone_at IS NOT NULL AND NEW.gone_at IS NULL
BEGIN
    UPDATE token_absences SET back_at = NEW.last_seen_at
    WHERE token_id = NEW.token_id AND gone_at = OLD.gone_at;
END;

PRAGMA legacy_alter_table = OFF;
