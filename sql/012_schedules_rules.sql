-- Schedules and override rules (spec 10): configuration rows that Apply
-- renders, like menus and queues.  dialplan/schedules.py and
-- dialplan/override_rules.py hold the rules that read them.

-- Working hours: a name, hours per weekday, and dates that differ from them.
CREATE TABLE schedules (
    id                     serial PRIMARY KEY,
    name                   text    NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 100),
    -- Days off of the Russian production calendar count as days off (and its
    -- moved working days as working days) unless a date below says otherwise.
    production_calendar    boolean NOT NULL DEFAULT true,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now()
);

-- The hours of a weekday (ISO: 1 Monday … 7 Sunday); several spans a day may
-- be listed (a lunch break); a weekday with no row is a day off.
CREATE TABLE schedule_hours (
    schedule_id integer  NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
    weekday     smallint NOT NULL CHECK (weekday BETWEEN 1 AND 7),
    starts      time     NOT NULL,
    ends        time     NOT NULL,
    CHECK (starts < ends),
    PRIMARY KEY (schedule_id, weekday, starts)
);

-- Dates the administrator sets apart: a day off (working = false), or a
-- working day (working = true) with its own hours, or, when starts/ends are
-- NULL, the hours of Monday.
CREATE TABLE schedule_dates (
    schedule_id integer NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
    day         date    NOT NULL,
    working     boolean NOT NULL,
    starts      time,
    ends        time,
    CHECK ((starts IS NULL) = (ends IS NULL)),
    CHECK (starts IS NULL OR starts < ends),
    CHECK (working OR starts IS NULL),
    PRIMARY KEY (schedule_id, day)
);

-- Override rules: when a call reaches called_number and every filled
-- condition holds, the call goes to redirect ('' ends it).  Rules of one
-- number are checked by position, first match wins.
CREATE TABLE override_rules (
    id              serial PRIMARY KEY,
    called_number   text       NOT NULL CHECK (called_number ~ '^[+]?[0-9*#]{1,20}$'),
    caller_numbers  text[]     NOT NULL DEFAULT '{}',
    caller_regexes  text[]     NOT NULL DEFAULT '{}',
    time_ranges     text[]     NOT NULL DEFAULT '{}',   -- each 'HH:MM-HH:MM'
    weekdays        smallint[] NOT NULL DEFAULT '{}' CHECK (weekdays <@ '{1,2,3,4,5,6,7}'),
    schedule_id     integer    REFERENCES schedules (id) ON DELETE RESTRICT,
    schedule_inside boolean    NOT NULL DEFAULT true,   -- holds inside (true) or outside its hours
    redirect        text       NOT NULL DEFAULT '' CHECK (redirect ~ '^[+]?[0-9*#]{0,20}$'),
    position        integer    NOT NULL DEFAULT 0,
    comment         text       NOT NULL DEFAULT '' CHECK (length(comment) <= 200),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX override_rules_number ON override_rules (called_number, position, id);
