-- An unchanged listing of a pair costs neither a parse nor a write per token.
--
-- * `pair_listings` keeps, for each pair, the fingerprint of its last listing that was read
--   token by token: the 128-bit hash of each page's body as Okta sent it (`pages`, 16 bytes a
--   page, in order), the policy and mode it was decided under, the instant it was decided at
--   and the first instant at which any of its decisions could change with time
--   (`stable_until`, NULL: never), and what it counted (`tally`, JSON). A later listing whose
--   pages hash the same, under the same policy and mode, before `stable_until`, found what
--   the database already holds and decides what was decided: it moves `seen_at` alone.
-- * The fingerprint is trusted only while nothing else changed the pair's tokens: any write
--   to a token's row other than its `last_seen_at` (a new token, a revocation, a token gone or
--   back, a changed record) clears `pages` through the triggers below, and the next listing
--   reads every token again; so does a policy record of the pair appended by another sweep
--   (an app's listing that recorded or withdrew its plans). It is trusted only when the sweep
--   that wrote it (`sweep_id`) finished without a halt or a tripped guard, so the plans it
--   decided were recorded.
-- * `pair_changes` counts those writes per pair. A listing reads the count when it begins and
--   writes its fingerprint only if every write since was its own (the observation writer
--   counts its own on its connection): a change it did not see, made while it ran, leaves no
--   fingerprint.
-- * `tokens.last_seen_at` is the later of the token's own `last_seen_at` and its pair's
--   `seen_at` while the token is not gone; when a token is marked gone its own `last_seen_at`
--   takes its pair's `seen_at` first, so the instant it was last seen is kept.

PRAGMA legacy_alter_table = ON;

CREATE TABLE pair_listings (
    pair_id      INTEGER PRIMARY KEY REFERENCES token_pairs (id),
    sweep_id     INTEGER NOT NULL REFERENCES sweeps (id),
    pages        BLOB,
    policy       BLOB NOT NULL,
    mode         TEXT NOT NULL,
    decided_at   TEXT NOT NULL,
    stable_until TEXT,
    tally        TEXT NOT NULL,
    seen_at      TEXT
);

CREATE TABLE pair_changes (
    pair_id INTEGER PRIMARY KEY REFERENCES token_pairs (id),
    n       INTEGER NOT NULL
);

-- The observation writer counts its own writes with the same conditions
-- (`store::ingest::OWN_CHANGES`): the two change together.
CREATE TRIGGER token_state_listing_new AFTER INSERT ON token_state
BEGIN
    UPDATE pair_listings SET pages = NULL WHERE pair_id = NEW.pair_id AND pages IS NOT NULL;
    INSERT INTO pair_changes (pair_id, n) VALUES (NEW.pair_id, 1)
    ON CONFLICT (pair_id) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER token_state_listing_changed AFTER UPDATE ON token_state
WHEN OLD.token_id IS NOT NEW.token_id OR OLD.pair_id IS NOT NEW.pair_id
  OR OLD.first_seen_at IS NOT NEW.first_seen_at OR OLD.gone_at IS NOT NEW.gone_at
  OR OLD.revoked_at IS NOT NEW.revoked_at OR OLD.revoked_by IS NOT NEW.revoked_by
  OR OLD.policy_matches IS NOT NEW.policy_matches OR OLD.reappeared_at IS NOT NEW.reappeared_at
  OR OLD.record_hash IS NOT NEW.record_hash OR OLD.item_hash IS NOT NEW.item_hash
  OR OLD.issuer IS NOT NEW.issuer OR OLD.status IS NOT NEW.status
  OR OLD.scopes IS NOT NEW.scopes OR OLD.created_at IS NOT NEW.created_at
  OR OLD.last_updated_at IS NOT NEW.last_updated_at OR OLD.expires_at IS NOT NEW.expires_at
BEGIN
    UPDATE pair_listings SET pages = NULL
    WHERE pair_id IN (OLD.pair_id, NEW.pair_id) AND pages IS NOT NULL;
    INSERT INTO pair_changes (pair_id, n) VALUES (NEW.pair_id, 1)
    ON CONFLICT (pair_id) DO UPDATE SET n = n + 1;
    INSERT INTO pair_changes (pair_id, n) SELECT OLD.pair_id, 1 WHERE OLD.pair_id IS NOT NEW.pair_id
    ON CONFLICT (pair_id) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER token_state_listing_deleted AFTER DELETE ON token_state
BEGIN
    UPDATE pair_listings SET pages = NULL WHERE pair_id = OLD.pair_id AND pages IS NOT NULL;
    INSERT INTO pair_changes (pair_id, n) VALUES (OLD.pair_id, 1)
    ON CONFLICT (pair_id) DO UPDATE SET n = n + 1;
END;

-- A pair's plans recorded or withdrawn by another sweep than the one that read it (an app's
-- listing): its fingerprint no longer says what stands. Counted as a change too, so a listing
-- under way when it happens keeps no fingerprint. (Other records open or close no plan.)
CREATE TRIGGER revocations_listing_changed AFTER INSERT ON revocations
WHEN NEW.token_id IS NOT NULL AND NEW."trigger" = 'policy'
  AND NEW.state IN ('planned', 'skipped_exempt', 'withdrawn')
  AND NEW.sweep_id IS NOT (SELECT l.sweep_id FROM pair_listings l JOIN token_pairs p
                           ON p.id = l.pair_id
                           WHERE p.user_id = NEW.user_id AND p.client_id = NEW.client_id)
BEGIN
    UPDATE pair_listings SET pages = NULL
    WHERE pages IS NOT NULL AND pair_id = (SELECT id FROM token_pairs
                     WHERE user_id = NEW.user_id AND client_id = NEW.client_id);
    INSERT INTO pair_changes (pair_id, n)
    SELECT id, 1 FROM token_pairs WHERE user_id = NEW.user_id AND client_id = NEW.client_id
    ON CONFLICT (pair_id) DO UPDATE SET n = n + 1;
END;

-- Before the absence opens (it reads nothing of this row's `last_seen_at`, but a report of the
-- token does): a token last seen by an unchanged listing keeps that instant.
CREATE TRIGGER token_state_gone_keeps_seen AFTER UPDATE OF gone_at ON token_state
WHEN OLD.gone_at IS NULL AND NEW.gone_at IS NOT NULL
BEGIN
    UPDATE token_state SET last_seen_at = (
        SELECT l.seen_at FROM pair_listings l WHERE l.pair_id = NEW.pair_id)
    WHERE token_id = NEW.token_id AND last_seen_at < (
        SELECT l.seen_at FROM pair_listings l WHERE l.pair_id = NEW.pair_id);
END;

DROP VIEW tokens;

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
       s.first_seen_at,
       CASE WHEN s.gone_at IS NULL AND l.seen_at > s.last_seen_at THEN l.seen_at
            ELSE s.last_seen_at END AS last_seen_at,
       s.gone_at, s.revoked_at, s.revoked_by,
       s.policy_matches, s.reappeared_at, s.record_hash, s.item_hash
FROM token_state s
JOIN token_pairs p ON p.id = s.pair_id
LEFT JOIN pair_listings l ON l.pair_id = s.pair_id
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

PRAGMA legacy_alter_table = OFF;
