-- Why the latest attempt at an app's listing failed (Okta's refusal, a 5xx, a refused
-- client_id), until the listing completes: before, a failure was in the logs alone, and a
-- listing that failed on its first page showed as complete.
ALTER TABLE app_listings ADD COLUMN last_error TEXT;
