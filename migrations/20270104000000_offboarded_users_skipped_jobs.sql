-- A job whose user came back after it had begun revoking stops and ends `skipped` (its failed
-- revocations' retries withdrawn): the user is back in Okta, not offboarded, so the rows that
-- job wrote no longer put them in `v_offboarded_users` (and `report exposure` does not flag the
-- tokens they hold since). Revocations of other jobs, and ones without a job, count as before.

DROP VIEW v_offboarded_users;
CREATE VIEW v_offboarded_users AS
SELECT user_id, 'revocation' AS source, MIN(requested_at) AS since
FROM revocations r WHERE trigger = 'offboard' AND mode <> 'dry-run'
  AND NOT EXISTS (SELECT 1 FROM offboarding_jobs j WHERE j.id = r.job_id AND j.state = 'skipped')
GROUP BY user_id
UNION ALL
SELECT user_id, 'target' AS source, MIN(last_polled_at) AS since
FROM targets t WHERE source = 'offboard'
  AND NOT EXISTS (SELECT 1 FROM offboarding_jobs j WHERE j.user_id = t.user_id)
GROUP BY user_id
UNION ALL
SELECT user_id, 'job' AS source, MIN(created_at) AS since
FROM offboarding_jobs WHERE (mode IS NULL OR mode <> 'dry-run') AND state <> 'skipped'
GROUP BY user_id;
