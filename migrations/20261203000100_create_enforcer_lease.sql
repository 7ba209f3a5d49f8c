-- One process at a time revokes per database: the enforcer lease. The holder renews
-- `heartbeat_at` while it holds it; a lease whose heartbeat is older than its time to live,
-- or whose process is gone (same host), is stale and may be taken over.
CREATE TABLE enforcer_lease (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    -- `host:pid:start` of the holder (see `sweep::runner`).
    owner        TEXT    NOT NULL,
    acquired_at  TEXT    NOT NULL,
    heartbeat_at TEXT    NOT NULL,
    -- What the holder is doing, for the message a second enforcer prints.
    purpose      TEXT    NOT NULL
);
