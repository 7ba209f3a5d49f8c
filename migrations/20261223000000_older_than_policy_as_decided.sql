-- `v_tokens_older_than_policy` reads each token's rules from the set in force when a sweep
-- last listed it (`tokens.policy_matches` was written then), not from the latest sweep's: a
-- sweep of some targets under other rules (`revokd sweep --target … --config trial.toml`)
-- left the other tokens' rule names pointing at rules that set had renamed or changed. The
-- set is that of the latest sweep that started before the token was last seen. Days beyond
-- the rule are counted from seconds (`days_over`, whole days), and the rule's own limit is
-- given in seconds too (`older_than_seconds`; `older_than_days` is whole days, rounded down).

DROP VIEW v_tokens_older_than_policy;

CREATE VIEW v_tokens_older_than_policy AS
WITH decided AS (
    SELECT a.*,
           (SELECT s.policy_set_id FROM sweeps s
            WHERE s.policy_set_id IS NOT NULL AND s.started_at <= a.last_seen_at
            ORDER BY s.id DESC LIMIT 1) AS policy_set_id
    FROM v_active_tokens a
    WHERE a.policy_matches <> '[]'
),
age_rules AS (
    SELECT d.*, r.value ->> 'name' AS policy, r.value ->> 'action' AS action,
           r.value ->> 'older_than_seconds' AS older_than_seconds
    FROM decided d
    JOIN policy_sets p ON p.id = d.policy_set_id
    JOIN json_each(p.rules) r
    WHERE r.value ->> 'older_than_seconds' IS NOT NULL
      AND EXISTS (SELECT 1 FROM json_each(d.policy_matches) m WHERE m.value = r.value ->> 'name')
)
SELECT token_id, user_id, client_id, created_at, age_days, policy, action,
       older_than_seconds / 86400 AS older_than_days, older_than_seconds,
       CAST(((julianday('now') - julianday(created_at)) * 86400 - older_than_seconds) / 86400
            AS INTEGER) AS days_over,
       scopes, policy_matches, last_seen_at, policy_set_id
FROM age_rules
ORDER BY age_days DESC, token_id, policy;
