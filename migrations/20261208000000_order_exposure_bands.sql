-- `v_exposure` with its age bands in age order: `age_order` (0 for `<7d` up to 4 for `>365d`,
-- 5 for `unknown`) is added after the existing columns, and the view lists its rows by scope,
-- then age, so `SELECT * FROM v_exposure` reads youngest to oldest rather than as text sorts.
DROP VIEW v_exposure;
CREATE VIEW v_exposure AS
WITH aged AS (
    SELECT a.token_id, s.value AS scope,
           julianday('now') - julianday(a.created_at) AS age
    FROM v_active_tokens a, json_each(a.scopes) s
),
banded AS (
    SELECT scope,
           CASE WHEN age IS NULL THEN 5
                WHEN age < 7 THEN 0
                WHEN age < 30 THEN 1
                WHEN age < 90 THEN 2
                WHEN age < 365 THEN 3
                ELSE 4 END AS age_order
    FROM aged
)
SELECT scope,
       CASE age_order WHEN 0 THEN '<7d' WHEN 1 THEN '7-30d' WHEN 2 THEN '30-90d'
                      WHEN 3 THEN '90-365d' WHEN 4 THEN '>365d' ELSE 'unknown' END AS age_bucket,
       COUNT(*) AS tokens,
       age_order
FROM banded
GROUP BY scope, age_order
ORDER BY scope, age_order;
