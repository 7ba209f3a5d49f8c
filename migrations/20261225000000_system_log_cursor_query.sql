-- The System Log cursor keeps the query its `next` link answers (the first URL of that query,
-- without its `since`: origin, event type filter, page size). A poller whose query changed
-- (an event type added, another org URL) starts a new query from a lookback before the cursor
-- last moved instead of following a link that asks for the old event types for ever. NULL
-- for a cursor saved before this column: the next poll starts a new query the same way.
ALTER TABLE system_log_cursor ADD COLUMN query TEXT;
