-- The channel of a callback call's operator leg (its uniqueid; '' for an
-- operator's Call, whose leg is named by the row's id): a server that starts
-- again, or finds Asterisk restarted, ends as interrupted the calls whose leg
-- is gone without their end being recorded, and frees their requests.
ALTER TABLE callback_calls ADD COLUMN channel text NOT NULL DEFAULT '';
CREATE INDEX callback_calls_open ON callback_calls (started_at) WHERE ended_at IS NULL;
