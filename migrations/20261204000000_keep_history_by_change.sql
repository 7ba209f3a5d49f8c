-- History by change: a token snapshot is written when a token is first seen and each time
-- Okta's record of it changes, not at every observation. Okta's record is kept without
-- `_links`, and `_embedded.scopes` items are kept once in a scope catalog, referenced by scope
-- id from the token's record. A token's absences (gone, then listed again) are kept so that
-- inventory at a past instant is exact.

-- Each `_embedded.scopes[]` item Okta sent (without `_links`), once per issuer, scope id and
-- content. A record's ids resolve to the newest version first seen at or before the record.
CREATE TABLE scope_catalog (
    id            INTEGER PRIMARY KEY,
    issuer        TEXT NOT NULL,
    scope_id      TEXT NOT NULL,
    raw_json      TEXT NOT NULL,
    first_seen_at TEXT NOT NULL,
    UNIQUE (issuer, scope_id, raw_json)
);

-- When a token was found gone (a complete listing of its pair no longer had it, or it was
-- revoked) and, if it came back, when it was listed again. `tokens.gone_at` is the open one.
CREATE TABLE token_absences (
    token_id TEXT NOT NULL,
    gone_at  TEXT NOT NULL,
    back_at  TEXT,
    PRIMARY KEY (token_id, gone_at)
) WITHOUT ROWID;

-- A fingerprint of the token's last stored record (see `okta::record::fingerprint`): an
-- observation with the same fingerprint changes nothing and writes no snapshot.
ALTER TABLE tokens ADD COLUMN record_hash INTEGER;

CREATE TRIGGER tokens_absence_opens AFTER UPDATE OF gone_at ON tokens
WHEN OLD.gone_at IS NULL AND NEW.gone_at IS NOT NULL
BEGIN
    INSERT OR IGNORE INTO token_absences (token_id, gone_at) VALUES (NEW.token_id, NEW.gone_at);
END;
CREATE TRIGGER tokens_absence_closes AFTER UPDATE OF gone_at ON tokens
WHEN OLD.gone_at IS NOT NULL AND NEW.gone_at IS NULL
BEGIN
    UPDATE token_absences SET back_at = NEW.last_seen_at
    WHERE token_id = NEW.token_id AND gone_at = OLD.gone_at;
END;

INSERT INTO token_absences (token_id, gone_at)
SELECT token_id, gone_at FROM tokens WHERE gone_at IS NOT NULL;

-- Existing snapshots: scope items into the catalog, then each record without `_links` and with
-- scope ids, then only the rows where a token's record changed.
INSERT OR IGNORE INTO scope_catalog (issuer, scope_id, raw_json, first_seen_at)
SELECT COALESCE(s.raw_json ->> '$.issuer', ''), e.value ->> '$.id',
       json_remove(e.value, '$._links'), MIN(s.observed_at)
FROM token_snapshots s, json_each(s.raw_json, '$._embedded.scopes') e
WHERE json_valid(s.raw_json) AND json_type(e.value) = 'object'
  AND json_type(e.value, '$.id') = 'text'
GROUP BY 1, 2, 3;

UPDATE token_snapshots
SET raw_json = CASE
    WHEN NOT EXISTS (
        SELECT 1 FROM json_each(json_remove(raw_json, '$._links'), '$._embedded.scopes') e
        WHERE json_type(e.value) <> 'object' OR json_type(e.value, '$.id') IS NOT 'text')
     AND json_type(raw_json, '$._embedded.scopes') = 'array'
    THEN json_set(json_remove(raw_json, '$._links'), '$._embedded.scopes',
             json((SELECT json_group_array(id) FROM (
                       SELECT e.value ->> '$.id' AS id
                       FROM json_each(raw_json, '$._embedded.scopes') e ORDER BY e.key))))
    ELSE json_remove(raw_json, '$._links') END
WHERE json_valid(raw_json);

DELETE FROM token_snapshots WHERE id IN (
    SELECT id FROM (
        SELECT id, raw_json,
               LAG(raw_json) OVER (PARTITION BY token_id ORDER BY observed_at, id) AS before
        FROM token_snapshots)
    WHERE raw_json = before);

-- Reports find a token's snapshots through the token index; the time index is not needed.
DROP INDEX token_snapshots_by_time;

-- Each snapshot with Okta's record as Okta sent it (but for `_links`): scope ids resolved
-- through the catalog to the items in force when the record was observed. Written without
-- aggregate ORDER BY so that sqlite3 shells older than 3.44 can still open the database.
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
