-- Notifications: the outbox of events worth telling people about, written in the same
-- transaction as what caused them, and one delivery row per event and `[[notify]]` receiver.
-- No receiver URL or secret is ever stored here: receivers are named, their settings live in
-- the configuration.

CREATE TABLE notify_outbox (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    -- The id receivers de-duplicate on (sent as `X-Revokd-Event-Id` and in the body).
    event_id    TEXT    NOT NULL UNIQUE DEFAULT ('evt_' || lower(hex(randomblob(16)))),
    kind        TEXT    NOT NULL CHECK (kind IN ('guard_tripped', 'irrevocable',
                    'offboarding_failed', 'offboarding_held', 'sweep_failed', 'audit_broken')),
    -- What the event is about (`sweep:12`, `revocation:40`, `job:3`, `audit:17`): one event per
    -- subject and kind, however often its cause is recorded again.
    subject     TEXT    NOT NULL,
    occurred_at TEXT    NOT NULL,
    -- The event's facts as a JSON object (ids, counts, reasons; never a secret).
    details     TEXT    NOT NULL,
    -- When the daemon created this event's deliveries, for the receivers configured then.
    routed_at   TEXT,
    UNIQUE (kind, subject)
);
CREATE INDEX notify_outbox_unrouted ON notify_outbox (routed_at) WHERE routed_at IS NULL;

CREATE TABLE notify_deliveries (
    outbox_id       INTEGER NOT NULL REFERENCES notify_outbox (id),
    -- `[[notify]] name`.
    receiver        TEXT    NOT NULL,
    state           TEXT    NOT NULL DEFAULT 'pending'
                        CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    -- A pending delivery is not attempted before this instant (a backoff, or the lease of an
    -- attempt in flight, so a process that died mid-attempt is retried after it).
    next_attempt_at TEXT    NOT NULL,
    last_status     INTEGER,
    last_error      TEXT,
    delivered_at    TEXT,
    PRIMARY KEY (outbox_id, receiver)
);
CREATE INDEX notify_deliveries_due ON notify_deliveries (state, receiver, next_attempt_at);
