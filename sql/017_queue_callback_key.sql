-- A queue's callback key (spec 8): a waiting caller who presses it keeps
-- their place, hangs up, and is called back when the place comes up.
-- '' : the queue offers no callback.
ALTER TABLE queues ADD COLUMN callback_key text NOT NULL DEFAULT ''
    CHECK (callback_key ~ '^[0-9*#]?$');
