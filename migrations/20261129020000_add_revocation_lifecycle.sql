-- The revocation life cycle: verification after revoke, retries across sweeps with backoff,
-- crash reconciliation (which process ran a sweep), and an anchor for the audit chain's head.

-- `host:pid:start` of the process running the sweep, so a restart can tell a sweep (and the
-- revocation intents it left `pending`) whose process died from one still running.
ALTER TABLE sweeps ADD COLUMN runner TEXT;
ALTER TABLE sweeps ADD COLUMN revocations_retried INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sweeps ADD COLUMN revocations_irrevocable INTEGER NOT NULL DEFAULT 0;
-- Tokens revokd had revoked that Okta listed as ACTIVE again.
ALTER TABLE sweeps ADD COLUMN tokens_reappeared INTEGER NOT NULL DEFAULT 0;

-- When Okta confirmed the token gone (GET → 404) after a revocation.
ALTER TABLE revocations ADD COLUMN verified_at TEXT;
-- For `failed` and `irrevocable`: when the revocation is next tried.
ALTER TABLE revocations ADD COLUMN next_attempt_at TEXT;

-- Set when a token revokd revoked is listed as ACTIVE again.
ALTER TABLE tokens ADD COLUMN reappeared_at TEXT;

-- The last audit record, written in the same transaction as every append: a deleted tail
-- shows as a head that points past the end of the chain.
CREATE TABLE audit_head (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    last_id   INTEGER NOT NULL,
    last_hash TEXT    NOT NULL
);
