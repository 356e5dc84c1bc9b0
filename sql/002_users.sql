-- People who log in to the admin. Roles grow in this order of rights.
CREATE TABLE users (
    id            serial PRIMARY KEY,
    login         text        NOT NULL UNIQUE CHECK (login ~ '^[A-Za-z0-9._-]{2,64}$'),
    password_hash text        NOT NULL,
    role          text        NOT NULL CHECK (role IN ('operator', 'manager', 'administrator')),
    created_at    timestamptz NOT NULL DEFAULT now()
);
