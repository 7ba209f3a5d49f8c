-- Where in event time the System Log cursor stands: the `published` instant of the latest event
-- on the pages it has passed (NULL until one had it). A poller whose query changed starts the
-- new query `lookback` before it, rather than before `updated_at` (wall-clock time of the last
-- page read, which runs ahead of the events while a backlog is read 20 pages a poll).
ALTER TABLE system_log_cursor ADD COLUMN position TEXT;
