"""With the FastAGI server down, callers hear the apology instead of silence."""

import psycopg
import pytest

from dialplan import names
from fastagi.settings import Settings
from tests.testbed.callers import place_call, wait_for

pytestmark = pytest.mark.asterisk


def active_calls(asterisk) -> int:
    out = asterisk.rx("core show channels count")
    return int(out.split("active call")[0].split()[-1])


def test_server_down_plays_apology_and_hangs_up(testbed):
    log_start = testbed.asterisk.log_path.stat().st_size
    testbed.server.stop()
    try:
        place_call(testbed.asterisk, names.SELFTEST_NUMBER, "w20", caller="2004")
        wait_for(lambda: "failed for 2004" in _log_since(testbed, log_start), 15,
                 what="the fallback warning in the Asterisk log")
        wait_for(lambda: active_calls(testbed.asterisk) == 0, 30, what="the call to end")
    finally:
        testbed.server.start()
    log = _log_since(testbed, log_start)
    assert "failed for 2004: AGISTATUS=FAILURE" in log
    assert f"Playing '{Settings().sounds_dir}/ru/{names.PROMPT_UNAVAILABLE}" in log


def _log_since(testbed, offset: int) -> str:
    with open(testbed.asterisk.log_path, errors="replace") as log:
        log.seek(offset)
        return log.read()


def test_a_server_stopped_mid_call_sends_the_caller_to_the_fallback_and_says_so(testbed):
    """SIGTERM (a service manager stopping the server) while a caller waits for a prompt:
    the call is given a short grace, then leaves through the fallback, and its record
    says the server stopped."""
    testbed.server.stop()
    testbed.server.env["TELECENTER_SHUTDOWN_GRACE"] = "0.5"
    testbed.server.start()
    try:
        mark = testbed.mark()
        log_start = testbed.asterisk.log_path.stat().st_size
        place_call(testbed.asterisk, names.SELFTEST_NUMBER, "w30", caller="2005")
        wait_for(lambda: "WAIT FOR DIGIT" in " ".join(_open_call_steps(testbed, "2005", mark)),
                 15, what="the self-test waiting for a digit")
        testbed.server.stop()
        wait_for(lambda: "failed for 2005" in _log_since(testbed, log_start), 15,
                 what="the fallback warning in the Asterisk log")
    finally:
        del testbed.server.env["TELECENTER_SHUTDOWN_GRACE"]
        testbed.server.start()
    row = testbed.finished_call("2005", mark)
    assert row["outcome"] == "server stopped"
    assert f"{names.VAR_STATUS}={names.STATUS_FAILED}" in _log_since(testbed, log_start)


def test_a_server_killed_mid_call_sends_the_caller_to_the_fallback(testbed):
    """SIGKILL while the caller waits for a digit: Asterisk's AGI() returns as if the
    script had finished, and the call is up; the dialplan sends it to the fallback."""
    mark = testbed.mark()
    log_start = testbed.asterisk.log_path.stat().st_size
    place_call(testbed.asterisk, names.SELFTEST_NUMBER, "w30", caller="2006")
    wait_for(lambda: "WAIT FOR DIGIT" in " ".join(_open_call_steps(testbed, "2006", mark)),
             15, what="the self-test waiting for a digit")
    testbed.server.process.kill()
    testbed.server.process.wait()
    try:
        wait_for(lambda: "failed for 2006" in _log_since(testbed, log_start), 15,
                 what="the fallback warning in the Asterisk log")
    finally:
        testbed.server.start()
    log = _log_since(testbed, log_start)
    assert f"Playing '{Settings().sounds_dir}/ru/{names.PROMPT_UNAVAILABLE}" in log
    # The next start closes the record the killed server left open.
    row = testbed.finished_call("2006", mark)
    assert row["outcome"] == "server lost"


def _open_call_steps(testbed, caller: str, after: int) -> list[str]:
    with psycopg.connect(testbed.pg_url) as conn:
        return [detail for (detail,) in conn.execute(
            "SELECT e.detail FROM calls c JOIN call_events e ON e.call_id = c.id"
            " WHERE c.caller = %s AND c.id > %s AND c.outcome IS NULL", (caller, after))]
