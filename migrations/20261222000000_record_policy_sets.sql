-- The rules each sweep decided by, and the SQL view of tokens older than policy.
--
-- * `policy_sets` keeps each distinct set of `[[policies]]` once (`rules`: a JSON array, one
--   object per rule in config order: `name`, `action`, `older_than_seconds`,
--   `idle_for_seconds`, `expires_after_seconds` (NULL when unset), `scopes_any`, `scopes_all`,
--   `clients`, `users`), with the instant a sweep first decided by it. An hourly schedule
--   under one configuration adds no row after the first.
-- * `sweeps.policy_set_id` names the set a sweep decided by (NULL for sweeps from before this
--   migration).
-- * `v_tokens_older_than_policy`: one row per active token and rule with `older_than` that the
--   sweep which last listed the token found it matching (`tokens.policy_matches`), the rule
--   as the latest sweep recorded it. `action` says whether the rule revokes or only flags; an
--   active token a `revoke` rule matches is planned (dry-run), exempt, or waiting for its
--   revocation (see `v_revocation_log`).

CREATE TABLE policy_sets (
    id            INTEGER PRIMARY KEY,
    rules         TEXT NOT NULL UNIQUE CHECK (json_valid(rules) AND json_type(rules) = 'array'),
    first_used_at TEXT NOT NULL
);

ALTER TABLE sweeps ADD COLUMN policy_set_id INTEGER REFERENCES policy_sets (id);

CREATE VIEW v_tokens_older_than_policy AS
WITH age_rules AS (
    SELECT r.value ->> 'name' AS policy, r.value ->> 'action' AS action,
           r.value ->> 'older_than_seconds' AS older_than_seconds
    FROM policy_sets p, json_each(p.rules) r
    WHERE p.id = (SELECT s.policy_set_id FROM sweeps s
                  WHERE s.policy_set_id IS NOT NULL ORDER BY s.id DESC LIMIT 1)
      AND r.value ->> 'older_than_seconds' IS NOT NULL
)
SELECT a.token_id, a.user_id, a.client_id, a.created_at, a.age_days, r.policy, r.action,
       r.older_than_seconds / 86400 AS older_than_days,
       a.age_days - r.older_than_seconds / 86400 AS days_over, a.scopes, a.policy_matches,
       a.last_seen_at
FROM v_active_tokens a, json_each(a.policy_matches) m
JOIN age_rules r ON r.policy = m.value
ORDER BY a.age_days DESC, a.token_id, r.policy;
