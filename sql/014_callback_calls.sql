-- Callbacks (spec 8): an operator's "Call" rings their phone, then the
-- citizen; a caller waiting in a queue may order one that keeps their place.

ALTER TABLE callbacks DROP CONSTRAINT callbacks_source_check;
ALTER TABLE callbacks ADD CONSTRAINT callbacks_source_check
    CHECK (source IN ('ivr', 'api', 'admin', 'queue'));
ALTER TABLE callbacks ADD COLUMN queue_id integer;   -- queues.id it keeps a place in (kept if the queue goes)
-- A call being made for the request now: who pressed Call, when.  Claimed by
-- one conditional UPDATE, so two operators pressing Call make one call.
ALTER TABLE callbacks ADD COLUMN calling_by text;
ALTER TABLE callbacks ADD COLUMN calling_since timestamptz;

-- At most one open request per number: older duplicates are closed first.
UPDATE callbacks AS c SET done_at = now(), done_by = ''
WHERE c.done_at IS NULL AND EXISTS (
    SELECT 1 FROM callbacks AS o WHERE o.phone = c.phone AND o.done_at IS NULL AND o.id < c.id);
DROP INDEX callbacks_open_phone;
CREATE UNIQUE INDEX callbacks_open_phone ON callbacks (phone) WHERE done_at IS NULL;

-- Every call made for a request: the operator's phone first, then the citizen.
CREATE TABLE callback_calls (
    id                   bigserial PRIMARY KEY,
    callback_id          integer     NOT NULL REFERENCES callbacks (id) ON DELETE CASCADE,
    operator             text        NOT NULL DEFAULT '',  -- login ('' for a queue callback's member)
    operator_phone       text        NOT NULL,
    citizen              text        NOT NULL,
    line                 text        NOT NULL DEFAULT '',
    started_at           timestamptz NOT NULL DEFAULT now(),
    operator_answered_at timestamptz,
    citizen_answered_at  timestamptz,
    ended_at             timestamptz,
    outcome              text CHECK (outcome IN ('talked', 'operator_no_answer', 'citizen_no_answer',
                                                 'citizen_busy', 'failed', 'interrupted'))
);
CREATE INDEX callback_calls_callback ON callback_calls (callback_id);
CREATE INDEX callback_calls_started_at ON callback_calls (started_at);
