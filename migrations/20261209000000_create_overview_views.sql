-- Views behind `revokd report overview`: each chart and table of the page reads one of these
-- (or an earlier view), and names it in a footnote, so every figure can be checked with
-- `sqlite3`. Ages are relative to the moment of the query, as in `v_active_tokens`.

-- Active tokens per client and age band (from `created_at`; `unknown` when Okta sent none).
-- The bands are those of `v_exposure`.
CREATE VIEW v_active_tokens_by_client_age AS
SELECT client_id,
       CASE WHEN created_at IS NULL THEN 'unknown'
            WHEN julianday('now') - julianday(created_at) < 7 THEN '<7d'
            WHEN julianday('now') - julianday(created_at) < 30 THEN '7-30d'
            WHEN julianday('now') - julianday(created_at) < 90 THEN '30-90d'
            WHEN julianday('now') - julianday(created_at) < 365 THEN '90-365d'
            ELSE '>365d' END AS age_band,
       COUNT(*) AS tokens
FROM v_active_tokens
GROUP BY 1, 2;

-- Active tokens per client by the riskiest scope they hold: `admin` (a scope naming admin, or
-- an Okta management scope `okta.*.manage`), `write` (a scope naming write), else `read`.
-- Each token counts once.
CREATE VIEW v_active_tokens_by_scope_risk AS
WITH risk AS (
    SELECT a.client_id,
           MAX(CASE WHEN s.value LIKE '%admin%' OR s.value GLOB 'okta.*.manage' THEN 2
                    WHEN s.value LIKE '%write%' THEN 1
                    ELSE 0 END) AS level
    FROM v_active_tokens a LEFT JOIN json_each(a.scopes) s
    GROUP BY a.token_id
)
SELECT client_id,
       CASE level WHEN 2 THEN 'admin' WHEN 1 THEN 'write' ELSE 'read' END AS risk,
       COUNT(*) AS tokens
FROM risk
GROUP BY 1, 2;

-- Revocation intents per UTC day requested and latest state (each intent once).
CREATE VIEW v_revocations_daily AS
SELECT substr(requested_at, 1, 10) AS day, state, COUNT(*) AS intents
FROM v_revocation_log
GROUP BY 1, 2;

-- Offboarding jobs that need a person: held by the hourly breaker, or failed.
CREATE VIEW v_offboarding_problems AS
SELECT id, user_id, source, state, created_at, finished_at, attempts, error
FROM offboarding_jobs
WHERE state IN ('held', 'failed');

-- Revocation intents whose latest state needs a person: failed (to be retried) or irrevocable.
CREATE VIEW v_revocation_problems AS
SELECT intent_id, requested_at, completed_at, token_id, user_id, client_id, trigger, policy,
       state, attempts, http_status, okta_request_id, error
FROM v_revocation_log
WHERE state IN ('failed', 'irrevocable');

-- Sweeps, newest first, with their duration.
CREATE VIEW v_sweep_log AS
SELECT id AS sweep_id, started_at, finished_at,
       CAST(ROUND((julianday(finished_at) - julianday(started_at)) * 86400000) AS INTEGER)
           AS duration_ms,
       trigger, mode, status, tokens_seen, revocations_planned, revocations_done,
       revocations_failed, http_429, error
FROM sweeps;
