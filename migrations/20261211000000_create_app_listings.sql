-- Where the listing of each `app` target stands, so a listing that spans a crash or a restart
-- continues from its last committed page instead of the first. A listing is under way while
-- `next_url` is set: Okta's `next` link after the last committed page, kept verbatim (never
-- rebuilt from a cursor). `started_at` is when the listing's first page was asked for: a
-- completed listing marks the app's tokens last seen before it gone.
CREATE TABLE app_listings (
    app_id        TEXT    PRIMARY KEY,
    started_at    TEXT    NOT NULL,
    next_url      TEXT,
    -- Pages and tokens listed so far in this listing (across restarts).
    pages         INTEGER NOT NULL DEFAULT 0,
    tokens        INTEGER NOT NULL DEFAULT 0,
    -- Sweeps that took part in this listing: 1, or more when it resumed.
    sweeps        INTEGER NOT NULL DEFAULT 1,
    last_sweep_id INTEGER REFERENCES sweeps (id),
    updated_at    TEXT    NOT NULL,
    completed_at  TEXT
);
