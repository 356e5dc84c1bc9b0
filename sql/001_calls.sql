-- One row per FastAGI session, written when the call reaches the server.
CREATE TABLE calls (
    id          bigserial PRIMARY KEY,
    agi_call_id text        NOT NULL,            -- the server's id, as in its log lines
    unique_id   text        NOT NULL DEFAULT '', -- Asterisk's UNIQUEID of the channel
    channel     text        NOT NULL DEFAULT '',
    caller      text        NOT NULL DEFAULT '',
    called      text        NOT NULL DEFAULT '',
    route       text        NOT NULL DEFAULT '',
    started_at  timestamptz NOT NULL DEFAULT now(),
    ended_at    timestamptz,
    outcome     text                             -- NULL while the call is in progress
);
CREATE INDEX calls_started_at ON calls (started_at);
CREATE INDEX calls_unique_id ON calls (unique_id);
CREATE INDEX calls_caller ON calls (caller);

-- The ordered steps of a call: commands sent, digits pressed, prompts, errors.
CREATE TABLE call_events (
    call_id bigint      NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
    seq     integer     NOT NULL,
    at      timestamptz NOT NULL,
    kind    text        NOT NULL CHECK (kind IN ('command', 'digits', 'prompt', 'error')),
    detail  text        NOT NULL,
    PRIMARY KEY (call_id, seq)
);
