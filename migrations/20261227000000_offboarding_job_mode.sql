-- Each offboarding job keeps the mode of its latest run: a preview (`dry-run`) offboards no
-- one. Before, a dry run was told only by its audit rows, so a preview that found no token
-- (no row) counted as a real offboarding: it settled an earlier failed job of its user, and
-- every preview put its user among the offboarded users of the reports.
ALTER TABLE offboarding_jobs ADD COLUMN mode TEXT CHECK (mode IN ('dry-run', 'enforce'));

-- A job's audit rows, found by key (the backfill below, and any reader by job).
CREATE INDEX revocations_by_job ON revocations (job_id) WHERE job_id IS NOT NULL;

-- Jobs run before: the mode their newest audit row was written in (a job retried after a
-- reload may have run in both); a job without rows stays unknown (NULL), which settles no
-- failed job but, like a job not run yet, still counts its user as offboarded.
UPDATE offboarding_jobs SET mode = (
    SELECT r.mode FROM revocations r WHERE r.job_id = offboarding_jobs.id
    ORDER BY r.id DESC LIMIT 1)
WHERE EXISTS (SELECT 1 FROM revocations r WHERE r.job_id = offboarding_jobs.id);

-- A failed offboarding job needs a person until its user has been offboarded since: a later
-- job `done` whose run revoked for real (`enforce`). `revokd status` counts these.
DROP VIEW v_offboarding_problems;
CREATE VIEW v_offboarding_problems AS
SELECT id, user_id, source, state, created_at, finished_at, attempts, error
FROM offboarding_jobs f
WHERE state = 'held'
   OR (state = 'failed' AND NOT EXISTS (
        SELECT 1 FROM offboarding_jobs d
        WHERE d.user_id = f.user_id AND d.state = 'done' AND d.id > f.id
          AND d.mode = 'enforce'));

-- Users offboarded (or on their way: a job not run yet counts), never by a preview alone.
-- Pair targets with source `offboard` come from `revokd offboard`, which has made a job
-- since jobs exist: they count only for users without any job (databases from before jobs).
DROP VIEW v_offboarded_users;
CREATE VIEW v_offboarded_users AS
SELECT user_id, 'revocation' AS source, MIN(requested_at) AS since
FROM revocations WHERE trigger = 'offboard' AND mode <> 'dry-run' GROUP BY user_id
UNION ALL
SELECT user_id, 'target' AS source, MIN(last_polled_at) AS since
FROM targets t WHERE source = 'offboard'
  AND NOT EXISTS (SELECT 1 FROM offboarding_jobs j WHERE j.user_id = t.user_id)
GROUP BY user_id
UNION ALL
SELECT user_id, 'job' AS source, MIN(created_at) AS since
FROM offboarding_jobs WHERE mode IS NULL OR mode <> 'dry-run' GROUP BY user_id;
