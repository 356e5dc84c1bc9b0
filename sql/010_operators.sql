-- Operators (spec 7): every user may answer queue calls.  Each user has a
-- code to bind a phone to themselves by dialling 1*<code> from it, and a
-- toggle that says whether they take queue calls now.  ivr/operators.py
-- holds the rules; every change there notifies telecenter_operators.

-- A free five-digit code.  The lock makes concurrent inserts take turns, so
-- each sees the codes the others committed (READ COMMITTED: a fresh snapshot
-- per query) and two new users never draw the same code.
CREATE FUNCTION telecenter_free_bind_code() RETURNS text LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    code text;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('telecenter_bind_code'));
    LOOP
        code := (10000 + floor(random() * 90000))::integer::text;
        IF NOT EXISTS (SELECT 1 FROM users WHERE bind_code = code) THEN
            RETURN code;
        END IF;
    END LOOP;
END
$$;

ALTER TABLE users ADD COLUMN bind_code text;
ALTER TABLE users ADD COLUMN accepting_queue_calls boolean NOT NULL DEFAULT true;

-- Existing users: distinct codes drawn from the shuffled range.
WITH codes AS (
    SELECT code::text AS code, row_number() OVER () AS n
    FROM (SELECT code FROM generate_series(10000, 99999) AS code ORDER BY random()) AS shuffled
), numbered AS (
    SELECT id, row_number() OVER (ORDER BY id) AS n FROM users
)
UPDATE users SET bind_code = codes.code
FROM numbered JOIN codes USING (n)
WHERE users.id = numbered.id;

ALTER TABLE users
    ALTER COLUMN bind_code SET DEFAULT telecenter_free_bind_code(),
    ALTER COLUMN bind_code SET NOT NULL,
    ADD CONSTRAINT users_bind_code_key UNIQUE (bind_code),
    ADD CONSTRAINT users_bind_code_check CHECK (bind_code ~ '^[0-9]{5}$');

-- The phone each operator bound to themselves: a user has at most one, a
-- phone belongs to at most one user.  The number is the phone's endpoint
-- (phones.number), as the phone dialled the code from it.
CREATE TABLE phone_bindings (
    user_id      integer     PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    phone_number text        NOT NULL UNIQUE CHECK (phone_number ~ '^[0-9]{2,15}$'),
    bound_at     timestamptz NOT NULL DEFAULT now()
);

-- However a binding changes (ivr/operators.py, or a user deleted with their
-- phone bound), the server hears of it; notices of one transaction arrive once.
CREATE FUNCTION telecenter_notify_operators() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NOTIFY telecenter_operators;
    RETURN NULL;
END
$$;
CREATE TRIGGER phone_bindings_notify AFTER INSERT OR UPDATE OR DELETE ON phone_bindings
    FOR EACH ROW EXECUTE FUNCTION telecenter_notify_operators();
