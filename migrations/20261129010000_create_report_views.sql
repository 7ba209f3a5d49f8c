-- Views for the common compliance questions. `revokd report` reads these same views, so a
-- report and a plain `sqlite3` query over the view give the same rows. Age columns are
-- relative to the moment of the query (`julianday('now')`).

-- Tokens that are active now: still listed by Okta (not gone), not revoked by revokd, and
-- ACTIVE in their last observation. `policy_matches` is what the sweep decided when it last
-- saw the token; `revokd report inventory` re-decides with the current configuration.
CREATE VIEW v_active_tokens AS
SELECT token_id, user_id, client_id, issuer, status, scopes, created_at, last_updated_at,
       expires_at, first_seen_at, last_seen_at, policy_matches,
       CAST(julianday('now') - julianday(created_at) AS INTEGER) AS age_days,
       CAST(julianday('now') - julianday(last_updated_at) AS INTEGER) AS idle_days
FROM tokens
WHERE gone_at IS NULL
  AND revoked_at IS NULL
  AND COALESCE(status, 'ACTIVE') = 'ACTIVE';

-- One row per revocation intent, at its latest state: when it was requested (the intent),
-- what it targeted and why (the intent), and how it ended (the latest row: state, attempts,
-- HTTP status, Okta request id, error).
CREATE VIEW v_revocation_log AS
SELECT i.id AS intent_id, i.requested_at, s.completed_at, i.token_id, i.user_id, i.client_id,
       i.trigger, i.policy, i.reason, i.mode, s.state, s.attempts, s.http_status,
       s.okta_request_id, s.error, i.sweep_id, i.job_id
FROM v_revocation_state s
JOIN revocations i ON i.id = COALESCE(s.intent_id, s.id);

-- One row per (intent, rule name): `revocations.policy` holds comma-separated rule names.
CREATE VIEW v_revocation_policies AS
WITH RECURSIVE split (intent_id, requested_at, state, name, rest) AS (
    SELECT intent_id, requested_at, state, '', policy || ','
    FROM v_revocation_log WHERE policy IS NOT NULL AND policy <> ''
    UNION ALL
    SELECT intent_id, requested_at, state, substr(rest, 1, instr(rest, ',') - 1),
           substr(rest, instr(rest, ',') + 1)
    FROM split WHERE rest <> ''
)
SELECT intent_id, requested_at, state, name AS policy FROM split WHERE name <> '';

-- Per rule, over every revocation intent naming it: matched (intents in any state), planned
-- (dry-run), revoked (done or already gone), failed (failed or irrevocable), exempted
-- (skipped_exempt), skipped by the safety guard, and still pending.
CREATE VIEW v_policy_summary AS
SELECT policy,
       COUNT(*) AS matched,
       SUM(state = 'planned') AS planned,
       SUM(state IN ('done', 'already_gone')) AS revoked,
       SUM(state IN ('failed', 'irrevocable')) AS failed,
       SUM(state = 'skipped_exempt') AS exempted,
       SUM(state = 'skipped_safety') AS skipped_safety,
       SUM(state = 'pending') AS pending
FROM v_revocation_policies
GROUP BY policy;

-- Users known to be offboarded, with where that is known from. Extend this view (drop and
-- recreate it in a later migration) when `offboarding_jobs` exists.
CREATE VIEW v_offboarded_users AS
SELECT user_id, 'revocation' AS source, MIN(requested_at) AS since
FROM revocations WHERE trigger = 'offboard' GROUP BY user_id
UNION ALL
SELECT user_id, 'target' AS source, MIN(last_polled_at) AS since
FROM targets WHERE source = 'offboard' GROUP BY user_id;

-- Active tokens by scope and age bucket (age from `created_at` to now; `unknown` when Okta
-- sent no `created`). A token with several scopes counts once under each.
CREATE VIEW v_exposure AS
WITH aged AS (
    SELECT a.token_id, s.value AS scope,
           julianday('now') - julianday(a.created_at) AS age
    FROM v_active_tokens a, json_each(a.scopes) s
)
SELECT scope,
       CASE WHEN age IS NULL THEN 'unknown'
            WHEN age < 7 THEN '<7d'
            WHEN age < 30 THEN '7-30d'
            WHEN age < 90 THEN '30-90d'
            WHEN age < 365 THEN '90-365d'
            ELSE '>365d' END AS age_bucket,
       COUNT(*) AS tokens
FROM aged
GROUP BY 1, 2;
