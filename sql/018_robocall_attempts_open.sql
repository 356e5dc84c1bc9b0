-- The dialer counts the lines in use from the tasks in progress and, besides,
-- from the attempts whose task was deleted while they lasted (task_id set to
-- NULL, outcome still NULL): the call goes on, and so does its line.
CREATE INDEX robocall_attempts_open ON robocall_attempts (started_at)
    WHERE outcome IS NULL AND task_id IS NULL;
