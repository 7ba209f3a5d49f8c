-- A stored record leaves out what its row already says, with nothing lost: its leading `id`
-- member when it is the row's `token_id`, and its `"clientId":…,"userId":…` run when a pair
-- in `token_pairs` has those values (the run becomes the marker `"~":0`, so every other
-- member keeps its place). `token_snapshots` gives each record back exactly as written: a
-- record is stored folded only when the view's own unfolding returns it byte for byte, and
-- never when it is not valid JSON or already holds the marker's text. A value read from the
-- record (`status`, `scopes`, `lastUpdated`, `expiresAt`) is read from it as stored, and kept
-- beside it wherever that differs from the value written.

PRAGMA legacy_alter_table = ON;

DROP VIEW v_token_records;
DROP VIEW token_history_values;
DROP VIEW token_snapshots;
DROP INDEX token_history_by_token;
ALTER TABLE token_history RENAME TO token_history_unfolded;

CREATE TABLE token_history (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    sweep_id        INTEGER REFERENCES sweeps (id),
    token_id        TEXT NOT NULL,
    observed_at     TEXT NOT NULL,
    -- Okta's record without `_links`, `_embedded.scopes` as scope ids, folded as below.
    raw_json        TEXT NOT NULL,
    -- NULL where the record's `status`, `scopes`, `lastUpdated`, `expiresAt` give the value;
    -- an empty blob where the value is NULL but the record has the member. No declared type:
    -- a value is kept exactly as written.
    status,
    scopes,
    last_updated_at,
    expires_at,
    -- 1 when the record's leading `"id":"<token_id>",` is left out.
    folded_id       INTEGER,
    -- The pair whose `"clientId":…,"userId":…` run is the record's `"~":0`.
    pair_id         INTEGER REFERENCES token_pairs (id)
);

-- Each stored record's values: each stored value, or else the member of the record as stored
-- (folded; the trigger below stores a value exactly where this does not give it back), and
-- `issuer` and `created_at` from the record as stored.
CREATE VIEW token_history_values AS
SELECT id, sweep_id, token_id, observed_at,
       CASE WHEN status IS NOT NULL THEN nullif(status, x'')
            WHEN json_valid(raw_json) THEN raw_json ->> '$.status' END AS status,
       CASE WHEN scopes IS NOT NULL THEN scopes
            WHEN json_valid(raw_json) THEN raw_json -> '$.scopes' END AS scopes,
       CASE WHEN last_updated_at IS NOT NULL THEN nullif(last_updated_at, x'')
            WHEN json_valid(raw_json) THEN raw_json ->> '$.lastUpdated' END AS last_updated_at,
       CASE WHEN expires_at IS NOT NULL THEN nullif(expires_at, x'')
            WHEN json_valid(raw_json) THEN raw_json ->> '$.expiresAt' END AS expires_at,
       CASE WHEN json_valid(raw_json) THEN raw_json ->> '$.issuer' END AS issuer,
       CASE WHEN json_valid(raw_json) THEN raw_json ->> '$.created' END AS created_at,
       raw_json, folded_id, pair_id
FROM token_history;

-- The snapshots as they always read, each record unfolded.
CREATE VIEW token_snapshots AS
SELECT id, sweep_id, token_id, observed_at, status, scopes, last_updated_at, expires_at,
       CASE WHEN folded_id IS NULL AND pair_id IS NULL THEN raw_json
            WHEN pair_id IS NULL THEN '{"id":' || json_quote(token_id) || ',' || substr(raw_json, 2)
            ELSE replace(
                CASE WHEN folded_id IS NULL THEN raw_json
                     ELSE '{"id":' || json_quote(token_id) || ',' || substr(raw_json, 2) END,
                '"~":0',
                (SELECT '"clientId":' || json_quote(p.client_id) || ',"userId":'
                        || json_quote(p.user_id)
                 FROM token_pairs p WHERE p.id = v.pair_id)) END AS raw_json
FROM token_history_values v;

-- A snapshot written through the view. The record is stored folded where its token's pair is
-- known (and the id is the row's), kept folded only if the view gives it back byte for byte;
-- then each value is stored only where the stored record does not give it back, read through
-- `token_history_values` itself. `scopes` defaults to `[]`. (`LIMIT 1` keeps each folding
-- step a subquery computed once, not an expression copied into every place that uses it.)
CREATE TRIGGER token_snapshots_insert INSTEAD OF INSERT ON token_snapshots
BEGIN
    -- The insert below cannot be skipped (not even by INSERT OR IGNORE): the updates after it
    -- address the row it wrote.
    SELECT RAISE(ABORT, 'token_snapshots: needs token_id, observed_at, raw_json, a new id')
    WHERE NEW.token_id IS NULL OR NEW.observed_at IS NULL OR NEW.raw_json IS NULL
       OR EXISTS (SELECT 1 FROM token_history h WHERE h.id = NEW.id);
    INSERT INTO token_history (id, sweep_id, token_id, observed_at, raw_json, folded_id,
        pair_id)
    SELECT NEW.id, NEW.sweep_id, NEW.token_id, NEW.observed_at,
           COALESCE(f.no_pair, f.no_id, NEW.raw_json),
           CASE WHEN f.no_id IS NOT NULL THEN 1 END,
           CASE WHEN f.no_pair IS NOT NULL THEN f.pair END
    FROM (SELECT n.no_id, n.pair,
                 CASE WHEN n.run IS NOT NULL AND instr(COALESCE(n.no_id, NEW.raw_json), n.run) > 0
                      THEN replace(COALESCE(n.no_id, NEW.raw_json), n.run, '"~":0') END
                     AS no_pair
          FROM (SELECT CASE WHEN substr(NEW.raw_json, 1, length(i.lead)) = i.lead
                            THEN '{' || substr(NEW.raw_json, length(i.lead) + 1) END AS no_id,
                       i.pair,
                       (SELECT '"clientId":' || json_quote(p.client_id) || ',"userId":'
                               || json_quote(p.user_id)
                        FROM token_pairs p WHERE p.id = i.pair) AS run
                FROM (SELECT CASE WHEN v.ok THEN '{"id":' || json_quote(NEW.token_id) || ','
                                  END AS lead,
                             CASE WHEN v.ok THEN (
                                 SELECT p.id FROM token_pairs p
                                 WHERE p.user_id = NEW.raw_json ->> '$.userId'
                                   AND p.client_id = NEW.raw_json ->> '$.clientId') END AS pair
                      FROM (SELECT json_valid(NEW.raw_json)
                                   AND instr(NEW.raw_json, '"~":0') = 0 AS ok) AS v
                      LIMIT 1) AS i
                LIMIT 1) AS n
          LIMIT 1) AS f;
    UPDATE token_history SET raw_json = NEW.raw_json, folded_id = NULL, pair_id = NULL
    WHERE id = last_insert_rowid() AND token_id IS NEW.token_id
      AND (folded_id IS NOT NULL OR pair_id IS NOT NULL)
      AND (SELECT s.raw_json FROM token_snapshots s WHERE s.id = last_insert_rowid())
          IS NOT NEW.raw_json;
    UPDATE token_history SET
        status = CASE WHEN NEW.status IS r.status THEN NULL ELSE COALESCE(NEW.status, x'') END,
        scopes = CASE WHEN COALESCE(NEW.scopes, '[]') IS r.scopes THEN NULL
                      ELSE COALESCE(NEW.scopes, '[]') END,
        last_updated_at = CASE WHEN NEW.last_updated_at IS r.last_updated_at THEN NULL
                               ELSE COALESCE(NEW.last_updated_at, x'') END,
        expires_at = CASE WHEN NEW.expires_at IS r.expires_at THEN NULL
                          ELSE COALESCE(NEW.expires_at, x'') END
    FROM (SELECT v.status, v.scopes, v.last_updated_at, v.expires_at
          FROM token_history_values v WHERE v.id = last_insert_rowid()) AS r
    WHERE token_history.id = last_insert_rowid() AND token_history.token_id IS NEW.token_id;
END;

INSERT INTO token_snapshots (id, sweep_id, token_id, observed_at, status, scopes,
    last_updated_at, expires_at, raw_json)
SELECT id, sweep_id, token_id, observed_at,
       CASE WHEN status IS NOT NULL THEN nullif(status, x'')
            WHEN json_valid(raw_json) THEN raw_json ->> '$.status' END,
       CASE WHEN scopes IS NOT NULL THEN scopes
            WHEN json_valid(raw_json) THEN raw_json -> '$.scopes' END,
       CASE WHEN last_updated_at IS NOT NULL THEN nullif(last_updated_at, x'')
            WHEN json_valid(raw_json) THEN raw_json ->> '$.lastUpdated' END,
       CASE WHEN expires_at IS NOT NULL THEN nullif(expires_at, x'')
            WHEN json_valid(raw_json) THEN raw_json ->> '$.expiresAt' END,
       raw_json
FROM token_history_unfolded ORDER BY id;
-- Ids are never reused: the sequence goes on from where the old table's stood.
UPDATE sqlite_sequence
SET seq = MAX(seq, COALESCE(
    (SELECT seq FROM sqlite_sequence WHERE name = 'token_history_unfolded'), 0))
WHERE name = 'token_history';
INSERT INTO sqlite_sequence (name, seq)
SELECT 'token_history', seq FROM sqlite_sequence WHERE name = 'token_history_unfolded'
  AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'token_history');
DROP TABLE token_history_unfolded;
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

PRAGMA legacy_alter_table = OFF;
