-- `v_offboarding_problems` looks, for each failed job, for a later `done` job of the same user:
-- without an index on the user that search scanned every `done` job once per failed one
-- (seconds for `revokd status` and the overview at 50,000 jobs, a minute at 200,000). With
-- it, each failed job is one look-up.
CREATE INDEX offboarding_jobs_by_user ON offboarding_jobs (user_id, state, id);
