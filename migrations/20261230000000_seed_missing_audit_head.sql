-- A database written by the first schema (before `audit_head`, `20261129020000`) kept its
-- audit records, but `audit_head` was created empty and never filled from them: every append
-- was refused (the head missing) and `audit verify` reported the untouched trail as records
-- added past the head. The head is seeded from the last record when there is none and every
-- record is of the first hash version (written before heads, or by the versions just after
-- them): a trail with a record of a later version had its head, and a head missing there is
-- a break that stays.
INSERT INTO audit_head (id, last_id, last_hash)
SELECT 1, id, hash FROM revocations
WHERE NOT EXISTS (SELECT 1 FROM audit_head)
  AND NOT EXISTS (SELECT 1 FROM revocations WHERE hash_version <> 1)
ORDER BY id DESC LIMIT 1;
