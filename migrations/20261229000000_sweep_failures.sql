-- Each target a sweep could not list, and why: a pair (its user and client), an app (user
-- `*`, the app id as client), or a user whose clients could not be discovered (client `*`).
-- Before, only a pair kept its error (`targets.last_error`); an app or a user was in the log
-- alone, and `sweeps.targets_failed` counted it without naming it.
CREATE TABLE sweep_failures (
    sweep_id  INTEGER NOT NULL REFERENCES sweeps (id),
    user_id   TEXT    NOT NULL,
    client_id TEXT    NOT NULL,
    error     TEXT    NOT NULL,
    PRIMARY KEY (sweep_id, user_id, client_id)
);
