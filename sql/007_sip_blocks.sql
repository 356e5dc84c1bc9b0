-- Addresses blocked at the SIP level after too many failed logins. A block
-- ends at `until`, or earlier when an administrator lifts it. The server
-- writes the active blocks into the pjsip ACL; rows stay as the record.
CREATE TABLE sip_blocks (
    id          bigserial   PRIMARY KEY,
    address     inet        NOT NULL,
    since       timestamptz NOT NULL,
    until       timestamptz NOT NULL,
    failures    integer     NOT NULL CHECK (failures > 0),
    last_event  text        NOT NULL,
    account     text        NOT NULL DEFAULT '',
    lifted_at   timestamptz,
    lifted_by   text,
    CHECK (until > since),
    CHECK ((lifted_at IS NULL) = (lifted_by IS NULL))
);
CREATE INDEX sip_blocks_unlifted ON sip_blocks (until) WHERE lifted_at IS NULL;
