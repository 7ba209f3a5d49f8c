-- A sweep records a dry-run plan (`planned`) or an exemption (`skipped_exempt`) once while it
-- stands and closes it (`withdrawn`) when a later sweep no longer finds it; each sweep reads
-- the standing ones. This index keeps that read to those intents, however long the trail.
CREATE INDEX revocations_standing ON revocations (state, trigger)
WHERE intent_id IS NULL AND state IN ('planned', 'skipped_exempt');
