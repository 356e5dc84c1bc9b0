-- Queues (spec 7) and the transfer settings (spec 11): configuration rows that
-- Apply renders, like menus. The queue's live state is the server's (later files).

CREATE TABLE queues (
    id                    serial PRIMARY KEY,
    name                  text    NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 100),
    number                text    NOT NULL UNIQUE CHECK (number ~ '^[0-9]{2,15}$'),
    ring_seconds          integer NOT NULL DEFAULT 15 CHECK (ring_seconds BETWEEN 3 AND 300),
    ring_at_once          integer CHECK (ring_at_once BETWEEN 1 AND 100),  -- NULL: all at once
    wrap_up_seconds       integer NOT NULL DEFAULT 0 CHECK (wrap_up_seconds BETWEEN 0 AND 3600),
    sticky                boolean NOT NULL DEFAULT false,
    stop_when_empty       boolean NOT NULL DEFAULT false,
    when_empty_number     text    NOT NULL DEFAULT '' CHECK (when_empty_number ~ '^[+]?[0-9*#]{0,20}$'),
    max_wait_seconds      integer CHECK (max_wait_seconds BETWEEN 10 AND 86400),  -- NULL: no limit
    after_max_wait_number text    NOT NULL DEFAULT '' CHECK (after_max_wait_number ~ '^[+]?[0-9*#]{0,20}$'),
    playlist_id           integer REFERENCES playlists (id) ON DELETE RESTRICT,  -- NULL: plain ringing
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);

-- The phones that answer a queue's calls, in the order the admin listed them.
CREATE TABLE queue_members (
    queue_id integer NOT NULL REFERENCES queues (id) ON DELETE CASCADE,
    phone_id integer NOT NULL REFERENCES phones (id) ON DELETE RESTRICT,
    position integer NOT NULL DEFAULT 0,
    PRIMARY KEY (queue_id, phone_id)
);

-- Keys a waiting caller may press, and the number each sends the call to
-- ('' ends the call).
CREATE TABLE queue_keys (
    queue_id integer NOT NULL REFERENCES queues (id) ON DELETE CASCADE,
    key      text    NOT NULL CHECK (key ~ '^[0-9*#]$'),
    target   text    NOT NULL DEFAULT '' CHECK (target ~ '^[+]?[0-9*#]{0,20}$'),
    PRIMARY KEY (queue_id, key)
);

-- What the caller hears while an operator makes an attended transfer (*2): one row.
CREATE TABLE transfer_settings (
    id             integer PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    music_audio_id integer REFERENCES audio_files (id) ON DELETE RESTRICT  -- NULL: Asterisk's default music
);
INSERT INTO transfer_settings (id) VALUES (1);
