-- Voice menus and what they play (spec 3-6), case look-ups (spec 18) and
-- callback requests ordered from a menu (spec 8).

-- Uploaded audio, converted to what Asterisk plays (8 kHz mono 16-bit WAV),
-- stored as <var>/audio/<id>.wav.
CREATE TABLE audio_files (
    id            serial PRIMARY KEY,
    name          text        NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 100),
    original_name text        NOT NULL DEFAULT '',
    duration_ms   integer     NOT NULL CHECK (duration_ms >= 0),
    size_bytes    bigint      NOT NULL CHECK (size_bytes >= 0),
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- Text-to-speech settings: one row (spec 4). The cloud engine's private key
-- stays in a file; only its path is kept here.
CREATE TABLE tts_settings (
    id                 integer PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    engine             text NOT NULL DEFAULT 'festival'
                            CHECK (engine IN ('festival', 'espeak', 'yandex')),
    festival_voice     text NOT NULL DEFAULT 'msu_ru_nsh_clunits',
    espeak_voice       text NOT NULL DEFAULT 'ru',
    yandex_voice       text NOT NULL DEFAULT 'alena',
    yandex_service_account_id text NOT NULL DEFAULT '',
    yandex_key_id      text NOT NULL DEFAULT '',
    yandex_folder_id   text NOT NULL DEFAULT '',
    yandex_private_key_path text NOT NULL DEFAULT ''
);
INSERT INTO tts_settings (id) VALUES (1);

-- What a caller hears while waiting (spec 5): ordered items, in order or shuffled, looping.
CREATE TABLE playlists (
    id         serial PRIMARY KEY,
    name       text        NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 100),
    mode       text        NOT NULL DEFAULT 'in_order' CHECK (mode IN ('in_order', 'random')),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE playlist_items (
    id          serial PRIMARY KEY,
    playlist_id integer NOT NULL REFERENCES playlists (id) ON DELETE CASCADE,
    position    integer NOT NULL DEFAULT 0,
    kind        text    NOT NULL CHECK (kind IN ('audio', 'tts', 'queue_position',
                                                 'greeting', 'estimated_wait')),
    audio_id    integer REFERENCES audio_files (id) ON DELETE RESTRICT,
    text        text    NOT NULL DEFAULT '',
    CHECK ((kind = 'audio') = (audio_id IS NOT NULL)),
    CHECK (kind = 'tts' OR text = '')
);
CREATE INDEX playlist_items_playlist ON playlist_items (playlist_id, position);

-- A voice menu (spec 6) groups items for the admin; callers reach items by number.
CREATE TABLE menus (
    id         serial PRIMARY KEY,
    name       text        NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 100),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE menu_items (
    id          serial PRIMARY KEY,
    menu_id     integer NOT NULL REFERENCES menus (id) ON DELETE CASCADE,
    number      text    NOT NULL UNIQUE CHECK (number ~ '^[0-9]{2,15}$'),
    kind        text    NOT NULL CHECK (kind IN ('audio', 'tts', 'playlist', 'scenario')),
    audio_id    integer REFERENCES audio_files (id) ON DELETE RESTRICT,
    playlist_id integer REFERENCES playlists (id) ON DELETE RESTRICT,
    text        text    NOT NULL DEFAULT '',
    scenario    text    NOT NULL DEFAULT '' CHECK (scenario IN ('', 'repeat_digits', 'case_status',
                                                                'open_cases', 'callback',
                                                                'dial_number')),
    CHECK ((kind = 'audio') = (audio_id IS NOT NULL)),
    CHECK ((kind = 'playlist') = (playlist_id IS NOT NULL)),
    CHECK ((kind = 'scenario') = (scenario <> ''))
);

-- What a key press, a timeout or a digit sequence does in an item (spec 6).
-- target: the number to go to ('' hangs up).
CREATE TABLE menu_handlers (
    id        serial PRIMARY KEY,
    item_id   integer NOT NULL REFERENCES menu_items (id) ON DELETE CASCADE,
    kind      text    NOT NULL CHECK (kind IN ('key', 'timeout', 'sequence')),
    key       text    NOT NULL DEFAULT '' CHECK (key ~ '^[0-9*#]?$'),
    seconds   integer CHECK (seconds BETWEEN 1 AND 600),
    pattern   text    NOT NULL DEFAULT '',
    target    text    NOT NULL DEFAULT '' CHECK (target ~ '^[+]?[0-9*#]{0,20}$'),
    position  integer NOT NULL DEFAULT 0,
    CHECK ((kind = 'key') = (key <> '')),
    CHECK ((kind = 'timeout') = (seconds IS NOT NULL)),
    CHECK ((kind = 'sequence') = (pattern <> ''))
);
CREATE INDEX menu_handlers_item ON menu_handlers (item_id, position);

-- The default case look-up backend (spec 18): people with phones, their cases.
CREATE TABLE persons (
    id         serial PRIMARY KEY,
    full_name  text NOT NULL CHECK (length(full_name) BETWEEN 1 AND 200),
    first_name text NOT NULL DEFAULT '',         -- what a greeting says
    phone      text NOT NULL CHECK (phone ~ '^[0-9]{3,20}$')
);
CREATE INDEX persons_phone ON persons (phone);

CREATE TABLE cases (
    id        serial PRIMARY KEY,
    number    text    NOT NULL UNIQUE CHECK (number ~ '^[0-9][0-9-]{0,39}$'),
    person_id integer REFERENCES persons (id) ON DELETE SET NULL,
    service   text    NOT NULL DEFAULT '',
    status    text    NOT NULL,
    is_open   boolean NOT NULL DEFAULT true,
    filed_on  date    NOT NULL DEFAULT current_date
);

-- Callback requests (spec 8): from a menu or the API; operators work them later.
CREATE TABLE callbacks (
    id           serial PRIMARY KEY,
    phone        text        NOT NULL CHECK (phone ~ '^[+]?[0-9]{3,20}$'),
    requested_at timestamptz NOT NULL DEFAULT now(),
    source       text        NOT NULL CHECK (source IN ('ivr', 'api', 'admin')),
    call_id      bigint      REFERENCES calls (id) ON DELETE SET NULL,
    not_before   timestamptz,
    done_at      timestamptz,
    done_by      text
);
CREATE INDEX callbacks_open ON callbacks (requested_at) WHERE done_at IS NULL;

-- A call's steps now include what was said (TTS text) and handlers that fired.
ALTER TABLE call_events DROP CONSTRAINT call_events_kind_check;
ALTER TABLE call_events ADD CONSTRAINT call_events_kind_check
    CHECK (kind IN ('command', 'digits', 'prompt', 'error', 'say', 'item', 'handler', 'scenario'));
