"""Names shared by the generated dialplan and the FastAGI server.

Context names, channel variables and values the two sides agree on live here
and only here, so a rename cannot leave one side behind.
"""

from fastagi.route_status import STATUS_FAILED, STATUS_OK, VAR_STATUS  # noqa: F401 (for the templates)

# Context that receives calls to Telecenter numbers.
CONTEXT_ENTRY = "telecenter"
# Subroutine that runs one FastAGI route and falls back when it fails.
CONTEXT_AGI = "telecenter-agi"
# Its extension that plays the apology and hangs up.
EXTEN_UNAVAILABLE = "unavailable"
# Its extension that logs the failed route ARG1 and sends the caller to the
# fallback number (or the apology).
EXTEN_FALLBACK = "fallback"
# Subroutine that runs one FastAGI route once and only sets VAR_STATUS: the
# steps CONTEXT_AGI and CONTEXT_QUEUE share.
CONTEXT_ROUTE = "telecenter-route"
# Subroutine that makes the numbers a caller chose (caller id, dialled and
# redirecting number) numbers again: run on arrival from a line and before AGI.
CONTEXT_CALLER_NUMBERS = "telecenter-caller-numbers"

# The number that reaches the line self-test route.
SELFTEST_NUMBER = "99999"

# FastAGI route names (the path of agi://host:port/<route>).
ROUTE_SELFTEST = "selftest"

# Shipped prompts, by name without extension, under sounds/<language>/.
PROMPT_UNAVAILABLE = "telecenter-unavailable"
PROMPT_SELFTEST = "telecenter-selftest"
# Played instead of a text no speech engine could say.
PROMPT_TTS_FAILED = "telecenter-tts-failed"

# Digest realm of the phones' SIP passwords: the phones table keeps only
# md5("number:realm:password"), so changing it invalidates every password.
SIP_REALM = "telecenter"

# Context of the phones' endpoints: Telecenter numbers first, then the lines.
CONTEXT_PHONES = "telecenter-phones"
# Numbers that are not Telecenter numbers leave through the lines' regexes;
# it takes numbers (dialplan.numbers) of at least OUTBOUND_MIN_LENGTH characters.
CONTEXT_OUTBOUND = "telecenter-outbound"
OUTBOUND_MIN_LENGTH = 2
# Subroutine that checks a number once more and dials it out through a line.
CONTEXT_DIAL_OUT = "telecenter-dial-out"
# Where a menu's VAR_NEXT is checked before the call goes there.
CONTEXT_NEXT = "telecenter-next"
# Calls arriving on line <name> start in context telecenter-from-<name>.
CONTEXT_FROM_LINE_PREFIX = "telecenter-from-"
# One extension whose NoOp names the revision Asterisk serves (Apply checks it).
CONTEXT_REVISION = "telecenter-revision"

# Set on calls that arrived on an external line: its name and its flag.
VAR_LINE = "TELECENTER_LINE"
VAR_EXTERNAL = "TELECENTER_EXTERNAL"

# How long Dial() rings a phone, and a line's far end, in seconds.
PHONE_RING_SECONDS = 30
LINE_RING_SECONDS = 60

# The voice menu route: ARG2 is the item's number.  When a menu sends the call
# to a number that is not a menu item (a phone, a queue, an outside number),
# the server sets VAR_NEXT and the dialplan goes there from the phones' context.
ROUTE_MENU = "menu"
VAR_NEXT = "TELECENTER_NEXT"

# Seconds a menu item with handlers but no timeout handler waits for input.
MENU_DEFAULT_TIMEOUT_SECONDS = 15

# Queues (spec 7).  A call to a queue's number runs CONTEXT_QUEUE, which holds
# the caller in ROUTE_QUEUE (ARG1: the queue's number) while the server decides
# whom to ring.  The server rings a member by originating PJSIP/<phone> into
# CONTEXT_QUEUE_OPERATOR with VAR_QUEUE_CALLER (the caller's id: the caller
# channel's uniqueid) and VAR_QUEUE_PHONE set; when the phone answers, that
# context runs ROUTE_QUEUE_ANSWER, which bridges the two if this phone won.
# The caller route sets VAR_QUEUE_JOINED once the caller holds a place: if the
# server goes away then, CONTEXT_QUEUE plays music and runs the route again
# (QUEUE_RETRIES times, QUEUE_RETRY_SECONDS apart), and the place is kept.
# A caller the server sends away (maximum wait, no member online) is
# redirected to CONTEXT_QUEUE_LEAVE with VAR_QUEUE_REASON and VAR_NEXT set.
ROUTE_QUEUE = "queue"
ROUTE_QUEUE_ANSWER = "queue-answer"
CONTEXT_QUEUE = "telecenter-queue"
CONTEXT_QUEUE_OPERATOR = "telecenter-queue-operator"
CONTEXT_QUEUE_LEAVE = "telecenter-queue-leave"
VAR_QUEUE_CALLER = "TELECENTER_QUEUE_CALLER"
VAR_QUEUE_PHONE = "TELECENTER_QUEUE_PHONE"
VAR_QUEUE_JOINED = "TELECENTER_QUEUE_JOINED"
VAR_QUEUE_REASON = "TELECENTER_QUEUE_REASON"
QUEUE_REASON_MAX_WAIT = "max-wait"
QUEUE_REASON_NO_MEMBER = "no-member"
QUEUE_RETRIES = 30
QUEUE_RETRY_SECONDS = 2
# Said to a caller who leaves a queue unanswered, by reason.
PROMPT_QUEUE_NO_MEMBER = "telecenter-queue-no-member"
PROMPT_QUEUE_MAX_WAIT = "telecenter-queue-max-wait"

# Operators bind a phone to themselves by dialling BIND_PREFIX and their
# BIND_CODE_DIGITS-digit code from it (1*12345): the phones' context sends
# such a number to ROUTE_BIND_PHONE with the code as ARG2.
ROUTE_BIND_PHONE = "bind-phone"
BIND_PREFIX = "1*"
BIND_CODE_DIGITS = 5

# Transfers (spec 11): an operator's attended transfer key, and the music
# class the transferee hears meanwhile.
ATTENDED_TRANSFER_CODE = "*2"
MOH_TRANSFER_CLASS = "telecenter-transfer"

# Schedules and override rules (spec 10).  A number with rules runs
# CONTEXT_RULES (ARG1: the number) before its usual route: it asks the server
# (ROUTE_RULES) which rule fires.  A rule that fired leaves its id in VAR_RULE
# and its redirect in VAR_NEXT ('' ends the call); no rule, or no server,
# leaves VAR_RULE empty and the number's usual route runs.
ROUTE_RULES = "rules"
CONTEXT_RULES = "telecenter-rules"
VAR_RULE = "TELECENTER_RULE"
# Callbacks (spec 8).  An operator's Call rings their phone: the server
# originates PJSIP/<phone> into CONTEXT_CALLBACK with VAR_CALLBACK_CALL (the
# callback_calls row's id) for CALLBACK_RING_SECONDS.  When it answers,
# ROUTE_CALLBACK records the answer and names the citizen's number in VAR_NEXT;
# EXTEN_CALLBACK_CITIZEN dials it through CONTEXT_DIAL_OUT (the line whose
# outbound regex matches, as a phone dials out).  A queue's callback entry
# rings the member through CONTEXT_QUEUE_OPERATOR as any queue caller does;
# ROUTE_QUEUE_ANSWER sets VAR_CALLBACK_CALL and VAR_NEXT and the member's leg
# goes to EXTEN_CALLBACK_CITIZEN too.  A hangup handler (EXTEN_CALLBACK_ENDED)
# runs ROUTE_CALLBACK_ENDED with the call's id, DIALSTATUS and ANSWEREDTIME.
CONTEXT_CALLBACK = "telecenter-callback"
# A citizen who is one of Telecenter's phones (they phoned from it) is rung there directly.
CONTEXT_CALLBACK_PHONES = "telecenter-callback-phones"
EXTEN_CALLBACK_CITIZEN = "citizen"
EXTEN_CALLBACK_ENDED = "ended"
ROUTE_CALLBACK = "callback"
ROUTE_CALLBACK_ENDED = "callback-ended"
VAR_CALLBACK_CALL = "TELECENTER_CALLBACK_CALL"
CALLBACK_RING_SECONDS = 30
# The originated operator leg's uniqueid: CALLBACK_CHANNEL_PREFIX + the row's id.
CALLBACK_CHANNEL_PREFIX = "tcb-"
# The robocall dialer (spec 9).  The server originates PJSIP/<number>@<line>
# into CONTEXT_ROBOCALL with VAR_ROBOCALL_ATTEMPT (the attempt's id) and
# VAR_ROBOCALL_NUMBER set; when the callee answers, ROUTE_ROBOCALL says the
# task's text (synthesised before the number was dialled) and hangs up.
ROUTE_ROBOCALL = "robocall"
CONTEXT_ROBOCALL = "telecenter-robocall"
VAR_ROBOCALL_ATTEMPT = "TELECENTER_ROBOCALL_ATTEMPT"
VAR_ROBOCALL_NUMBER = "TELECENTER_ROBOCALL_NUMBER"
