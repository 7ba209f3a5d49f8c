-- A failed preview (`dry-run`: `revokd offboard --dry-run`, or the daemon's job while the
-- configuration says dry-run) offboarded no one and was to revoke nothing: a later preview of
-- its user that ended `done` settles it, as a real offboarding does. Before, only a job
-- `done` in `enforce` settled any failed job, so a preview cut short by an Okta fault or a
-- Ctrl-C kept `revokd status` at exit 3 until the user was offboarded for real. A failed job
-- that may have revoked is still settled by `enforce` alone: one of unknown mode, one whose
-- latest run was `enforce`, and one whose latest run was a preview but an earlier run (before
-- a reload to dry-run) wrote audit rows in `enforce`.
DROP VIEW v_offboarding_problems;
CREATE VIEW v_offboarding_problems AS
SELECT id, user_id, source, state, created_at, finished_at, attempts, error
FROM offboarding_jobs f
WHERE state = 'held'
   OR (state = 'failed' AND NOT EXISTS (
        SELECT 1 FROM offboarding_jobs d
        WHERE d.user_id = f.user_id AND d.state = 'done' AND d.id > f.id
          AND (d.mode = 'enforce'
               OR (d.mode = 'dry-run' AND f.mode = 'dry-run' AND NOT EXISTS (
                    SELECT 1 FROM revocations r WHERE r.job_id = f.id AND r.mode = 'enforce')))));
