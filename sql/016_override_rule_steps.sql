-- A call's steps now say which override rule took it (or that none did).
ALTER TABLE call_events DROP CONSTRAINT call_events_kind_check;
ALTER TABLE call_events ADD CONSTRAINT call_events_kind_check
    CHECK (kind IN ('command', 'digits', 'prompt', 'error', 'say', 'item', 'handler', 'scenario',
                    'queue', 'rule'));
