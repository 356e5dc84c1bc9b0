-- Look-ups made while a caller waits: a callback order links to its call by
-- the server's call id, and first looks for an open request from the same
-- phone. Without these indexes both scan their whole table, and the calls
-- table grows with every call.
CREATE INDEX calls_agi_call_id ON calls (agi_call_id);
CREATE INDEX callbacks_open_phone ON callbacks (phone) WHERE done_at IS NULL;
