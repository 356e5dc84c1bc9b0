"""The dialer's rules: outcomes from Asterisk's report, give-up counts, retries, the window."""

from datetime import datetime, time, timedelta, timezone

import pytest

from ivr import dialer
from ivr.dialer import Counts, DialerSettings, after_attempt, outcome_of, window_open

NOW = datetime(2026, 3, 4, 10, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("answered, reason, outcome", [
    (True, "4", dialer.ANSWERED),
    (False, "3", dialer.NO_ANSWER),
    (False, "5", dialer.BUSY),
    (False, "8", dialer.CONGESTION),
    (False, "0", dialer.UNREACHABLE),
    (False, "1", dialer.FAILED),
    (False, "NOANSWER", dialer.NO_ANSWER),
    (False, "chanunavail", dialer.UNREACHABLE),
    (False, "Originate failed", dialer.FAILED),
    (False, "", dialer.FAILED),
])
def test_the_outcome_is_told_from_asterisks_report(answered, reason, outcome):
    assert outcome_of(answered, reason) == outcome


@pytest.mark.parametrize("reason, rang, cause, outcome", [
    ("3", True, "0", dialer.NO_ANSWER),     # rang until the ring time was over (seen)
    ("3", False, "0", dialer.UNREACHABLE),  # no reply from the provider at all (seen)
    ("0", False, "17", dialer.BUSY),        # 486 Busy Here (seen)
    ("0", False, "34", dialer.CONGESTION),
    ("0", True, "19", dialer.NO_ANSWER),
    ("0", False, "21", dialer.FAILED),
    ("0", False, "", dialer.UNREACHABLE),
])
def test_the_hangup_cause_and_the_ringing_say_why_it_was_not_answered(reason, rang, cause,
                                                                       outcome):
    assert outcome_of(False, reason, rang, cause) == outcome


def test_an_answer_ends_the_task():
    after = after_attempt(Counts(attempts=1), dialer.ANSWERED, DialerSettings(), NOW)
    assert after.done and after.task_outcome == dialer.TASK_ANSWERED
    assert after.counts.answered == 1


def test_a_no_answer_is_tried_again_after_the_retry_interval_until_the_limit():
    settings = DialerSettings(retry_minutes=7, give_up_no_answers=2)
    first = after_attempt(Counts(attempts=1), dialer.NO_ANSWER, settings, NOW)
    assert not first.done and first.next_try_at == NOW + timedelta(minutes=7)
    second = after_attempt(first.counts, dialer.BUSY, settings, NOW)
    assert second.done and second.task_outcome == dialer.TASK_GAVE_UP_NO_ANSWER
    assert second.counts.no_answers == 2 and second.counts.failures == 0


def test_technical_failures_count_apart_from_no_answers():
    settings = DialerSettings(give_up_no_answers=1, give_up_failures=3)
    counts = Counts()
    for outcome in (dialer.UNREACHABLE, dialer.CONGESTION):
        after = after_attempt(counts, outcome, settings, NOW)
        assert not after.done
        counts = after.counts
    last = after_attempt(counts, dialer.FAILED, settings, NOW)
    assert last.done and last.task_outcome == dialer.TASK_GAVE_UP_FAILURES
    assert last.counts == Counts(failures=3)


def test_an_interrupted_attempt_is_due_again_at_once():
    after = after_attempt(Counts(), dialer.INTERRUPTED, DialerSettings(retry_minutes=30), NOW)
    assert not after.done and after.next_try_at == NOW and after.counts.failures == 1


def test_an_unknown_outcome_is_refused():
    with pytest.raises(ValueError):
        after_attempt(Counts(), "maybe", DialerSettings(), NOW)


def test_the_window_is_read_on_the_office_clock():
    settings = DialerSettings(window_start=time(9), window_end=time(18))
    moscow = "Europe/Moscow"  # UTC+3
    assert window_open(datetime(2026, 3, 4, 6, 0, tzinfo=timezone.utc), settings, moscow)
    assert not window_open(datetime(2026, 3, 4, 5, 59, tzinfo=timezone.utc), settings, moscow)
    assert not window_open(datetime(2026, 3, 4, 15, 0, tzinfo=timezone.utc), settings, moscow)
    assert window_open(datetime(2026, 3, 4, 14, 59, tzinfo=timezone.utc), settings, moscow)


def test_a_schedule_narrows_the_window():
    settings = DialerSettings(window_start=time(0), window_end=time(23, 59), schedule_id=4)
    seen = []

    def schedule_open(at):
        seen.append(at)
        return at.weekday() < 5

    wednesday, saturday = NOW, NOW + timedelta(days=3)
    assert window_open(wednesday, settings, "UTC", schedule_open)
    assert not window_open(saturday, settings, "UTC", schedule_open)
    assert not window_open(wednesday, settings, "UTC", None)  # not readable: closed
    assert seen[0].utcoffset() == timedelta(0)


def test_the_window_needs_an_aware_time():
    with pytest.raises(ValueError):
        window_open(datetime(2026, 3, 4, 10), DialerSettings(), "UTC")


def test_call_now_dials_outside_the_window_and_while_disabled():
    assert dialer.may_dial(call_now=True, enabled=False, in_window=False)
    assert not dialer.may_dial(call_now=False, enabled=False, in_window=True)
    assert not dialer.may_dial(call_now=False, enabled=True, in_window=False)
    assert dialer.may_dial(call_now=False, enabled=True, in_window=True)
