-- A pass that lists only pairs named for it (`revokd sweep --target`) is marked, so that the
-- history `report … --at` answers begins with the first pass that listed every configured
-- target, not with a trial of one pair. Passes recorded before the column count as whole ones.

ALTER TABLE sweeps ADD COLUMN named_targets INTEGER NOT NULL DEFAULT 0
    CHECK (named_targets IN (0, 1));
