-- A failed offboarding job needs a person until its user has been offboarded since: a later
-- job `done` that revoked for real (none of its rows a dry run). `revokd status` counts these.
DROP VIEW v_offboarding_problems;
CREATE VIEW v_offboarding_problems AS
SELECT id, user_id, source, state, created_at, finished_at, attempts, error
FROM offboarding_jobs f
WHERE state = 'held'
   OR (state = 'failed' AND NOT EXISTS (
        SELECT 1 FROM offboarding_jobs d
        WHERE d.user_id = f.user_id AND d.state = 'done' AND d.id > f.id
          AND NOT EXISTS (SELECT 1 FROM revocations r
                          WHERE r.job_id = d.id AND r.mode = 'dry-run')));
