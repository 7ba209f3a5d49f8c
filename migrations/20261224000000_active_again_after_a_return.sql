-- A token revokd revoked that Okta lists ACTIVE again is active again: `v_active_tokens` (and
-- every view and report built on it) left it out for as long as `revoked_at` was set, though
-- `revokd report inventory --at` counted it from its return (`reappeared_at`, the first
-- listing that found it ACTIVE after that revocation). The view is made again with the same
-- columns, so the views that read it read the new one.

DROP VIEW v_active_tokens;

CREATE VIEW v_active_tokens AS
SELECT token_id, user_id, client_id, issuer, status, scopes, created_at, last_updated_at,
       expires_at, first_seen_at, last_seen_at, policy_matches,
       CAST(julianday('now') - julianday(created_at) AS INTEGER) AS age_days,
       CAST(julianday('now') - julianday(last_updated_at) AS INTEGER) AS idle_days
FROM tokens
WHERE gone_at IS NULL
  AND (revoked_at IS NULL OR reappeared_at > revoked_at)
  AND COALESCE(status, 'ACTIVE') = 'ACTIVE';
