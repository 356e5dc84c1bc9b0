-- Tokens of the external API (spec 18): made and revoked by an
-- administrator; only a hash is kept, the token is shown once.
CREATE TABLE api_tokens (
    id           serial PRIMARY KEY,
    name         text        NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    token_hash   text        NOT NULL UNIQUE,   -- SHA-256 hex of the token
    shown_prefix text        NOT NULL,          -- its first characters, to tell tokens apart
    created_by   text        NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz,
    revoked_by   text
);
