-- The queues' live state (spec 7): who waits since when, in which position,
-- offered to whom. The server is the queue: it keeps the queue engine's whole
-- state in one row, changed under a row lock by one event at a time, so a
-- restart or a second server on the same database loses no caller's place.
CREATE TABLE queue_state (
    id         integer     PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    version    bigint      NOT NULL DEFAULT 0,   -- +1 with every event applied
    state      jsonb       NOT NULL DEFAULT '{"queues": [], "members": [], "callers": [], "rings": [], "sticky": []}',
    updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO queue_state (id) VALUES (1);

-- One record per caller who entered a queue: enough for the reports.
CREATE TABLE queue_calls (
    caller_id         text        PRIMARY KEY,           -- the caller channel's uniqueid
    queue_id          integer     NOT NULL,              -- queues.id when it joined (kept if the queue goes)
    channel           text        NOT NULL DEFAULT '',
    number            text        NOT NULL DEFAULT '',   -- the caller's number
    external          boolean     NOT NULL DEFAULT false, -- came in on an external line
    joined_at         timestamptz NOT NULL,
    positions         integer[]   NOT NULL DEFAULT '{}', -- each position told, in order
    offered_to        text[]      NOT NULL DEFAULT '{}', -- phones rung, in order
    answered_phone    text,
    answered_operator text,                              -- the login bound to that phone then
    answered_at       timestamptz,
    ended_at          timestamptz,
    wait_seconds      double precision,
    talk_seconds      double precision,
    outcome           text        NOT NULL DEFAULT 'waiting'
        CHECK (outcome IN ('waiting', 'answered', 'gave_up', 'max_wait', 'no_member', 'key'))
);
CREATE INDEX queue_calls_joined_at ON queue_calls (joined_at);
CREATE INDEX queue_calls_answered ON queue_calls (queue_id, answered_at) WHERE outcome = 'answered';

-- A call's steps now include what happened in a queue (joined, position, answered, left).
ALTER TABLE call_events DROP CONSTRAINT call_events_kind_check;
ALTER TABLE call_events ADD CONSTRAINT call_events_kind_check
    CHECK (kind IN ('command', 'digits', 'prompt', 'error', 'say', 'item', 'handler', 'scenario',
                    'queue'));
