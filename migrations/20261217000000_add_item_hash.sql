-- The hash of each token's item exactly as Okta last sent it (`okta::record::item_hash`), so a
-- sweep tells an unchanged token without splitting its record. NULL until the token is next
-- written; `record_hash` stays the record's own fingerprint.
ALTER TABLE tokens ADD COLUMN item_hash INTEGER;
