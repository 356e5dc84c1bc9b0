-- A user's sessions carry this number; logging out raises it, so a copied
-- session cookie stops working at logout (and so do the user's other sessions).
ALTER TABLE users ADD COLUMN session_epoch integer NOT NULL DEFAULT 0;
