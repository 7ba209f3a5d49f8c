-- Per rule, as before, plus `withdrawn`: intents the revocation gate (or a later sweep that no
-- longer planned them) closed without sending anything.
DROP VIEW v_policy_summary;

CREATE VIEW v_policy_summary AS
SELECT policy,
       COUNT(*) AS matched,
       SUM(state = 'planned') AS planned,
       SUM(state IN ('done', 'already_gone')) AS revoked,
       SUM(state IN ('failed', 'irrevocable')) AS failed,
       SUM(state = 'skipped_exempt') AS exempted,
       SUM(state = 'skipped_safety') AS skipped_safety,
       SUM(state = 'pending') AS pending,
       SUM(state = 'withdrawn') AS withdrawn
FROM v_revocation_policies
GROUP BY policy;
