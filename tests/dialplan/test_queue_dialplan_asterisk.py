"""The queue's dialplan on the real Asterisk: what callers hear when they leave a queue, and
when the server cannot give them a place."""

from __future__ import annotations

import pytest

from dialplan import names
from fastagi.settings import Settings
from tests.dialplan.conftest import add_phone, add_queue
from tests.testbed.callers import CALLER_CONTEXT, VAR_SCRIPT, ami_session, place_call, wait_for

pytestmark = pytest.mark.asterisk


@pytest.fixture
def queue_applied(testbed, config_db):
    """Queue 92000 with phones 201 and 202, applied; the bed without them afterwards."""
    for number in ("201", "202"):
        add_phone(config_db, number, f"Phone-{number}-secret")
    add_queue(config_db, "92000", "Операторы", ["201", "202"])
    testbed.apply(config_db)
    yield
    config_db.execute("DELETE FROM queues")
    config_db.execute("DELETE FROM phones")
    testbed.apply(config_db)


def log_since(testbed, offset: int) -> str:
    with open(testbed.asterisk.log_path, errors="replace") as log:
        log.seek(offset)
        return log.read()


def leave(testbed, caller: str, reason: str, next_number: str) -> None:
    """A caller the server takes out of a queue: redirected with a reason and a next number
    (here a Local channel started right there, with the variables the server would set)."""
    with ami_session(testbed.asterisk) as manager:
        response = manager.originate(
            channel=f"Local/s@{names.CONTEXT_QUEUE_LEAVE}", context=CALLER_CONTEXT, exten="s",
            priority="1", timeout="20000", caller_id=caller, run_async=True,
            variables={VAR_SCRIPT: "w15/h", names.VAR_QUEUE_REASON: reason,
                       names.VAR_NEXT: next_number})
    assert response.get_header("Response") == "Success"


def prompt(name: str) -> str:
    return f"Playing '{Settings().sounds_dir}/ru/{name}"


def test_no_member_online_is_said_then_the_call_goes_to_the_queues_number(testbed):
    offset = testbed.asterisk.log_path.stat().st_size
    mark = testbed.mark()
    leave(testbed, "2101", names.QUEUE_REASON_NO_MEMBER, names.SELFTEST_NUMBER)
    row = testbed.finished_call("2101", mark)
    assert row["called"] == names.SELFTEST_NUMBER  # where the queue sent the caller
    log = log_since(testbed, offset)
    assert prompt(names.PROMPT_QUEUE_NO_MEMBER) in log
    assert log.index(prompt(names.PROMPT_QUEUE_NO_MEMBER)) < log.index("selftest")


def test_the_end_of_the_maximum_wait_is_said_and_without_a_number_the_call_ends(testbed):
    offset = testbed.asterisk.log_path.stat().st_size
    leave(testbed, "2102", names.QUEUE_REASON_MAX_WAIT, "")
    wait_for(lambda: "Hangup(" in log_since(testbed, offset).split(
        prompt(names.PROMPT_QUEUE_MAX_WAIT), 1)[-1], 20, what="the prompt, then the hang-up")
    assert prompt(names.PROMPT_QUEUE_NO_MEMBER) not in log_since(testbed, offset)


def test_a_caller_the_server_could_not_give_a_place_hears_the_apology(testbed, queue_applied):
    """The server down when the caller arrives: nobody holds a place for them, so they are
    not kept waiting on music for the server: the usual apology."""
    offset = testbed.asterisk.log_path.stat().st_size
    testbed.server.stop()
    try:
        place_call(testbed.asterisk, "92000", "w20", caller="2103")
        wait_for(lambda: "failed for 2103" in log_since(testbed, offset), 15,
                 what="the fallback warning in the Asterisk log")
        wait_for(lambda: prompt(names.PROMPT_UNAVAILABLE) in log_since(testbed, offset), 15,
                 what="the apology")
    finally:
        testbed.server.start()
    log = log_since(testbed, offset)
    assert f"Telecenter route {names.ROUTE_QUEUE} failed for 2103" in log
    assert "asking again" not in log
