-- Wall-clock milliseconds during which at least one request of the sweep was held back by the
-- rate-limit budget: how much the budget slowed the sweep down (`budget_wait_ms` sums the
-- waits of every request, so requests held back together count several times there).
ALTER TABLE sweeps ADD COLUMN budget_wall_ms INTEGER NOT NULL DEFAULT 0;
