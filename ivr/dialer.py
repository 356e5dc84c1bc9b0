"""The robocall dialer's rules (spec 9): pure, no I/O, the same for every server.

What an attempt's outcome is, told from Asterisk's report; whether it counts
as "no answer" (the provider said the phone rang, or the callee was busy) or
as a "technical failure" (the provider could not be reached or refused the
call); what becomes of the task then (done, given up, or tried again after
the retry interval); and whether the daily window is open now.  The runtime
(``ivr.dialer_runtime``) claims, dials and stores; it asks this module what
to do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

# Attempt outcomes as robocall_attempts.outcome stores them.
ANSWERED = "answered"
NO_ANSWER = "no_answer"
BUSY = "busy"
CONGESTION = "congestion"
UNREACHABLE = "unreachable"
FAILED = "failed"
INTERRUPTED = "interrupted"  # the server died (its lease ran out) or stopped mid-attempt
OUTCOMES = (ANSWERED, NO_ANSWER, BUSY, CONGESTION, UNREACHABLE, FAILED, INTERRUPTED)

# Reached the callee's phone, who did not take the call: counted against
# give_up_no_answers.  Everything else but an answer is a technical failure,
# counted against give_up_failures (an interrupted attempt too: a task that
# keeps killing servers must end some day).
NOT_ANSWERED = frozenset({NO_ANSWER, BUSY})
TECHNICAL = frozenset({CONGESTION, UNREACHABLE, FAILED, INTERRUPTED})

# Task outcomes as robocall_tasks.outcome stores them.
TASK_ANSWERED = "answered"
TASK_GAVE_UP_NO_ANSWER = "gave_up_no_answer"
TASK_GAVE_UP_FAILURES = "gave_up_failures"

# Q.850 hangup causes of the dialled channel (its Hangup event's Cause) that say
# what happened by themselves.
_CAUSES = {
    "17": BUSY,                                            # user busy (486)
    "18": NO_ANSWER, "19": NO_ANSWER,                      # no user response / no answer (480, 408)
    "34": CONGESTION, "38": CONGESTION, "41": CONGESTION,  # no circuit, network out of order,
    "42": CONGESTION, "44": CONGESTION,                    # temporary failure, congestion (503)
    "1": FAILED, "3": FAILED, "21": FAILED, "28": FAILED,  # unallocated, no route, rejected, bad number
    "27": UNREACHABLE,                                     # destination out of order
}
# An Async Originate's OriginateResponse "Reason": Asterisk's AST_CONTROL_* code
# of how the call ended before it could run the dialplan.
_REASONS = {
    "4": ANSWERED,     # AST_CONTROL_ANSWER
    "3": NO_ANSWER,    # AST_CONTROL_RINGING: the ring time was over (see ``rang``)
    "5": BUSY,         # AST_CONTROL_BUSY
    "8": CONGESTION,   # AST_CONTROL_CONGESTION
    "1": FAILED,       # AST_CONTROL_HANGUP: the far end refused before ringing
    "0": UNREACHABLE,  # no reply at all: the provider is down or the endpoint unavailable
}
# Dial()'s DIALSTATUS words, for a report in those terms.
_DIALSTATUS = {
    "ANSWER": ANSWERED, "NOANSWER": NO_ANSWER, "BUSY": BUSY, "CONGESTION": CONGESTION,
    "CHANUNAVAIL": UNREACHABLE, "CANCEL": NO_ANSWER, "DONTCALL": FAILED, "TORTURE": FAILED,
    "INVALIDARGS": FAILED,
}


def outcome_of(answered: bool, reason: str, rang: bool | None = None, cause: str = "") -> str:
    """The attempt's outcome from Asterisk's report: ``answered`` (Response: Success), the
    OriginateResponse ``Reason`` code or a DIALSTATUS word, whether the far end rang
    (None: not known) and the channel's hangup ``cause``.  A telling cause wins; then the
    reason, except that a ring time over without any ringing means the provider never
    answered the call at all (Asterisk reports both as reason 3).  Anything unknown (a
    refused action, no report) is a failure."""
    if answered:
        return ANSWERED
    by_cause = _CAUSES.get((cause or "").strip())
    if by_cause is not None:
        return by_cause
    reason = (reason or "").strip()
    outcome = _REASONS.get(reason) or _DIALSTATUS.get(reason.upper()) or FAILED
    if outcome == NO_ANSWER and rang is False:
        return UNREACHABLE
    return outcome


@dataclass(frozen=True)
class DialerSettings:
    """The dialer_settings row."""

    enabled: bool = False
    retry_minutes: int = 30
    max_lines: int = 2
    give_up_no_answers: int = 3
    give_up_failures: int = 5
    window_start: time = time(9, 0)
    window_end: time = time(20, 0)
    schedule_id: int | None = None
    ring_seconds: int = 30


@dataclass(frozen=True)
class Counts:
    """A task's counters before the attempt just ended."""

    attempts: int = 0
    answered: int = 0
    no_answers: int = 0
    failures: int = 0


@dataclass(frozen=True)
class AfterAttempt:
    """What becomes of the task: its new counters, and done (with why) or due again when."""

    counts: Counts
    done: bool
    task_outcome: str | None  # set when done
    next_try_at: datetime | None  # set when not done


def after_attempt(counts: Counts, outcome: str, settings: DialerSettings, now: datetime
                  ) -> AfterAttempt:
    """Done when answered; given up when the no-answers or the technical failures reach
    their limits; else due again ``retry_minutes`` later (an interrupted attempt: at once,
    the callee never heard a thing)."""
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown attempt outcome {outcome!r}")
    if outcome == ANSWERED:
        new = Counts(counts.attempts, counts.answered + 1, counts.no_answers, counts.failures)
        return AfterAttempt(new, True, TASK_ANSWERED, None)
    if outcome in NOT_ANSWERED:
        new = Counts(counts.attempts, counts.answered, counts.no_answers + 1, counts.failures)
        if new.no_answers >= settings.give_up_no_answers:
            return AfterAttempt(new, True, TASK_GAVE_UP_NO_ANSWER, None)
    else:
        new = Counts(counts.attempts, counts.answered, counts.no_answers, counts.failures + 1)
        if new.failures >= settings.give_up_failures:
            return AfterAttempt(new, True, TASK_GAVE_UP_FAILURES, None)
    delay = timedelta(0) if outcome == INTERRUPTED else timedelta(minutes=settings.retry_minutes)
    return AfterAttempt(new, False, None, now + delay)


def window_open(now: datetime, settings: DialerSettings, zone: str | ZoneInfo,
                schedule_open: Callable[[datetime], bool] | None = None) -> bool:
    """Whether the dialer may ring people at ``now`` (aware): inside the daily window
    [window_start, window_end) on the office clock, and, when the settings name a
    schedule, inside its working hours too (``schedule_open``; a schedule that cannot be
    read keeps the window closed: better late than at night)."""
    if now.tzinfo is None:
        raise ValueError("now must be aware")
    local = now.astimezone(zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone))
    if not settings.window_start <= local.time().replace(tzinfo=None) < settings.window_end:
        return False
    if settings.schedule_id is not None:
        return schedule_open is not None and bool(schedule_open(local))
    return True


def may_dial(call_now: bool, enabled: bool, in_window: bool) -> bool:
    """A task asked to be called now is dialed whatever the switch and the window say
    (an administrator's test call); any other only with the dialer on, in the window."""
    return call_now or (enabled and in_window)
