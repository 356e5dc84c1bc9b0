-- A revision keeps the configuration it was rendered from (dialplan/snapshot.py), so
-- the admin can say what Apply will change in words and a rollback can restore it.
-- NULL for revisions stored before this column existed.
ALTER TABLE revisions ADD COLUMN configuration jsonb;
