-- Revoked tokens by id: a listing checks each batch of observed tokens against it to find
-- revoked tokens Okta lists again. Small: only revoked tokens are in it.
CREATE INDEX tokens_revoked ON tokens (token_id) WHERE revoked_at IS NOT NULL;
