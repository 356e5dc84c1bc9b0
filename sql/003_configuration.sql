-- Configuration rows written by the admin and rendered into Asterisk by Apply.

-- Internal SIP phones (spec 1). The SIP password is never stored: only the
-- digest Asterisk checks, md5("number:realm:password") with realm 'telecenter'.
CREATE TABLE phones (
    id          serial PRIMARY KEY,
    number      text        NOT NULL UNIQUE CHECK (number ~ '^[0-9]{2,15}$'),
    md5_cred    text        NOT NULL CHECK (md5_cred ~ '^[0-9a-f]{32}$'),
    kind        text        NOT NULL DEFAULT 'simple' CHECK (kind IN ('simple')),
    description text        NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- External lines: trunks to a SIP provider or another PBX (spec 2).
-- The registration password is sent to the provider, so it is kept.
CREATE TABLE lines (
    id              serial PRIMARY KEY,
    name            text        NOT NULL UNIQUE CHECK (name ~ '^[a-z][a-z0-9_-]{0,31}$'),
    host            text        NOT NULL CHECK (host ~ '^[A-Za-z0-9.-]{1,253}$'),
    port            integer     NOT NULL DEFAULT 5060 CHECK (port BETWEEN 1 AND 65535),
    transport       text        NOT NULL DEFAULT 'udp' CHECK (transport IN ('udp', 'tcp')),
    reg_username    text        NOT NULL DEFAULT '',
    reg_domain      text        NOT NULL DEFAULT '',
    reg_password    text        NOT NULL DEFAULT '',
    outbound_regex  text        NOT NULL DEFAULT '',  -- '' = no outbound calls through this line
    position        integer     NOT NULL DEFAULT 0,   -- outbound: first matching line in this order
    inbound_number  text        NOT NULL DEFAULT '' CHECK (inbound_number ~ '^[0-9]*$'),
    external        boolean     NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Who changed what, when: every create/update/delete of configuration (spec 12).
CREATE TABLE change_log (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    user_login  text        NOT NULL,
    action      text        NOT NULL CHECK (action IN ('create', 'update', 'delete', 'apply', 'rollback')),
    object_type text        NOT NULL,
    object_id   text        NOT NULL DEFAULT '',
    old_value   jsonb,
    new_value   jsonb
);
CREATE INDEX change_log_at ON change_log (at);

-- Each successful Apply: the files written, so any two can be compared and
-- an earlier one applied again (spec 19).
CREATE TABLE revisions (
    id          serial PRIMARY KEY,
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  text        NOT NULL,
    files       jsonb       NOT NULL,               -- {"file name": "text", ...}
    files_hash  text        NOT NULL,               -- sha256 over names and texts
    rollback_of integer     REFERENCES revisions (id),
    active      boolean     NOT NULL DEFAULT false
);
CREATE UNIQUE INDEX revisions_one_active ON revisions (active) WHERE active;
