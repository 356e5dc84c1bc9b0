-- The robocall dialer (spec 9): tasks to ring a number and say a text, each
-- attempt's log, and the dialer's settings.  ivr/dialer.py holds the rules,
-- ivr/dialer_runtime.py claims and dials.

-- One row: how the dialer works.  Saved in the admin, read by the dialer on
-- its next claim (not an Apply setting: it changes no dialplan).
CREATE TABLE dialer_settings (
    id                  integer PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    enabled             boolean NOT NULL DEFAULT false,
    retry_minutes       integer NOT NULL DEFAULT 30 CHECK (retry_minutes BETWEEN 1 AND 10080),
    max_lines           integer NOT NULL DEFAULT 2  CHECK (max_lines BETWEEN 1 AND 500),
    give_up_no_answers  integer NOT NULL DEFAULT 3  CHECK (give_up_no_answers BETWEEN 1 AND 100),
    give_up_failures    integer NOT NULL DEFAULT 5  CHECK (give_up_failures BETWEEN 1 AND 100),
    window_start        time    NOT NULL DEFAULT '09:00',
    window_end          time    NOT NULL DEFAULT '20:00',
    schedule_id         integer REFERENCES schedules (id) ON DELETE RESTRICT,  -- also inside its hours
    ring_seconds        integer NOT NULL DEFAULT 30 CHECK (ring_seconds BETWEEN 5 AND 120),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CHECK (window_start < window_end)
);
INSERT INTO dialer_settings (id) VALUES (1);

CREATE TABLE robocall_tasks (
    id                 bigserial PRIMARY KEY,
    phone              text        NOT NULL CHECK (phone ~ '^[+]?[0-9]{3,20}$'),
    text               text        NOT NULL CHECK (length(btrim(text)) BETWEEN 1 AND 1000),
    source             text        NOT NULL DEFAULT 'admin' CHECK (source IN ('api', 'admin')),
    queued_at          timestamptz NOT NULL DEFAULT now(),
    not_before         timestamptz,                        -- NULL: as soon as possible
    priority           integer     NOT NULL DEFAULT 100 CHECK (priority BETWEEN 0 AND 1000),  -- 0 highest
    next_try_at        timestamptz NOT NULL DEFAULT now(), -- not before this (not_before, retries)
    -- An administrator pressed "call now": first in line, dialed even outside
    -- the daily window or with the dialer off (a test call), within the line limit.
    call_now           boolean     NOT NULL DEFAULT false,
    done_at            timestamptz,
    outcome            text CHECK (outcome IN ('answered', 'gave_up_no_answer', 'gave_up_failures')),
    attempts           integer     NOT NULL DEFAULT 0,
    answered           integer     NOT NULL DEFAULT 0,
    no_answers         integer     NOT NULL DEFAULT 0,
    failures           integer     NOT NULL DEFAULT 0,
    -- The attempt in progress: when it began, which server holds it and until
    -- when (the server renews the lease while the call lasts; a lease that ran
    -- out means the server died: the task is retried, never dialed twice at once).
    attempt_started_at timestamptz,
    claimed_by         text,
    claimed_until      timestamptz,
    CHECK ((attempt_started_at IS NULL) = (claimed_by IS NULL)),
    CHECK (done_at IS NULL OR attempt_started_at IS NULL)
);
-- The dialer's claim: the next due task by priority, then due time.
CREATE INDEX robocall_tasks_due ON robocall_tasks (priority, next_try_at, id)
    WHERE done_at IS NULL AND attempt_started_at IS NULL;
CREATE INDEX robocall_tasks_call_now ON robocall_tasks (id)
    WHERE call_now AND done_at IS NULL AND attempt_started_at IS NULL;
-- The attempts in progress, counted against the line limit.
CREATE INDEX robocall_tasks_in_progress ON robocall_tasks (claimed_until)
    WHERE attempt_started_at IS NOT NULL;
CREATE INDEX robocall_tasks_queued_at ON robocall_tasks (queued_at);

-- Every attempt, kept when its task is deleted.
CREATE TABLE robocall_attempts (
    id          bigserial PRIMARY KEY,
    task_id     bigint      REFERENCES robocall_tasks (id) ON DELETE SET NULL,
    phone       text        NOT NULL,
    text        text        NOT NULL,
    line        text        NOT NULL DEFAULT '',   -- the external line's name
    server      text        NOT NULL DEFAULT '',
    started_at  timestamptz NOT NULL DEFAULT now(), -- claimed (speech made before dialing)
    dialed_at   timestamptz,
    answered_at timestamptz,
    ended_at    timestamptz,
    outcome     text CHECK (outcome IN ('answered', 'no_answer', 'busy', 'congestion',
                                        'unreachable', 'failed', 'interrupted')),  -- NULL: in progress
    reason      text        NOT NULL DEFAULT '',    -- Asterisk's words or code
    call_id     bigint      REFERENCES calls (id) ON DELETE SET NULL
);
CREATE INDEX robocall_attempts_started_at ON robocall_attempts (started_at);
CREATE INDEX robocall_attempts_task ON robocall_attempts (task_id);

-- A task added, changed or asked to be called now wakes the dialers at once.
CREATE FUNCTION telecenter_notify_robocalls() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NOTIFY telecenter_robocalls;
    RETURN NULL;
END
$$;
CREATE TRIGGER robocall_tasks_notify AFTER INSERT OR UPDATE OF next_try_at, priority, call_now ON robocall_tasks
    FOR EACH STATEMENT EXECUTE FUNCTION telecenter_notify_robocalls();
CREATE TRIGGER dialer_settings_notify AFTER UPDATE ON dialer_settings
    FOR EACH STATEMENT EXECUTE FUNCTION telecenter_notify_robocalls();
