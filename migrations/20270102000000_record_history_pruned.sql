-- Where `revokd report … --at` stops being exact: each prune records its cutoff before it
-- removes history (records superseded before it, absences that ended before it), and a report
-- asked for an instant before the latest one is refused rather than answered from what is left.
CREATE TABLE history_pruned (
    id        INTEGER PRIMARY KEY,
    pruned_at TEXT NOT NULL,
    -- History before this instant may be incomplete.
    cutoff    TEXT NOT NULL
);
