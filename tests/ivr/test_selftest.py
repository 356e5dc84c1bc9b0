"""The line self-test walked by real calls: Local channels and SIP (SIPp)."""

import pytest

from dialplan import names
from tests.conftest import SIP_PASSWORD, SIP_USER, require
from tests.testbed.callers import place_call

pytestmark = pytest.mark.asterisk


def test_scripted_caller_digits_arrive_in_order(testbed):
    mark = testbed.mark()
    place_call(testbed.asterisk, names.SELFTEST_NUMBER, "w1/d1/w1/d2", caller="2001")
    call = testbed.finished_call("2001", after=mark)
    assert call["outcome"] == "completed"
    assert call["called"] == names.SELFTEST_NUMBER
    assert testbed.events(call, "digits") == ["1", "2"]
    assert [p.rsplit("/", 1)[-1] for p in testbed.events(call, "prompt")] == [names.PROMPT_SELFTEST]
    assert 'SAY DIGITS "12" ""' in testbed.events(call, "command")


def test_sip_caller_digits_arrive_in_order(testbed, tmp_path):
    require("sipp")
    from tests.testbed.ports import free_port
    from tests.testbed.sipp import run_sip_call

    mark = testbed.mark()
    result = run_sip_call(
        target_host="127.0.0.1", target_port=testbed.asterisk.sip_port,
        number=names.SELFTEST_NUMBER, user=SIP_USER, password=SIP_PASSWORD,
        digits="12", local_port=free_port(), media_port=free_port(), timeout=40,
    )
    call = testbed.finished_call(SIP_USER, after=mark)
    assert result.returncode == 0, result.log_text if hasattr(result, "log_text") else result
    assert call["outcome"] == "completed"
    assert call["channel"].startswith("PJSIP/")
    assert testbed.events(call, "digits") == ["1", "2"]


def test_caller_hanging_up_while_server_waits(testbed):
    mark = testbed.mark()
    place_call(testbed.asterisk, names.SELFTEST_NUMBER, "w1/d7/w0.5/h", caller="2003")
    call = testbed.finished_call("2003", after=mark)
    assert call["outcome"] == "caller hung up"
    assert testbed.events(call, "digits") == ["7"]
    commands = testbed.events(call, "command")
    assert 'WAIT FOR DIGIT "5000"' in commands
    assert not any(c.startswith("SAY DIGITS") for c in commands)
    log_lines = [line for line in testbed.server.log_text().splitlines()
                 if f"{call['agi_call_id']}:" in line]
    assert len(log_lines) == 1, log_lines
    assert "caller hung up" in log_lines[0] and "0 calls active" in log_lines[0]
    assert "Traceback" not in testbed.server.log_text()
