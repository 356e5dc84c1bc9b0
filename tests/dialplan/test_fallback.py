"""With the FastAGI server down, callers hear the apology instead of silence."""

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
