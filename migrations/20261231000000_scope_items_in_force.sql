-- A scope item that changed and changed back (an admin edits a scope's description, then
-- reverts it) was kept once, at its first sighting, so a snapshot taken after the revert
-- showed the edited item, not what Okta sent. Each version now has a row for every time it
-- came into force (`first_seen_at`), and a snapshot reads the item in force when it was taken,
-- as before. The table is rebuilt without its one-row-per-content key; ids are kept. Existing
-- rows stay as they are: a revert before this migration was never recorded.

PRAGMA legacy_alter_table = ON;

CREATE TABLE scope_catalog_versions (
    id            INTEGER PRIMARY KEY,
    issuer        TEXT NOT NULL,
    scope_id      TEXT NOT NULL,
    raw_json      TEXT NOT NULL,
    first_seen_at TEXT NOT NULL
);
INSERT INTO scope_catalog_versions (id, issuer, scope_id, raw_json, first_seen_at)
SELECT id, issuer, scope_id, raw_json, first_seen_at FROM scope_catalog;
DROP TABLE scope_catalog;
ALTER TABLE scope_catalog_versions RENAME TO scope_catalog;
-- The item in force for a scope at an instant: the latest version first seen by then.
CREATE INDEX scope_catalog_in_force ON scope_catalog (issuer, scope_id, first_seen_at);

PRAGMA legacy_alter_table = OFF;
