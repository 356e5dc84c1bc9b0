"""Pure parsing and quoting of the FastAGI wire."""

import pytest

from fastagi.errors import (
    ChannelFailure, DeadChannel, InvalidCommand, ProtocolError, UnsafeArgument, UsageError,
)
from fastagi.protocol import (
    app_args, format_command, is_reply_line, parse_env, parse_result, quote_arg, require_complete,
    untrusted_env,
)


def test_env_keeps_empty_values_and_colons():
    env = parse_env([
        "agi_network: yes",
        "agi_accountcode: ",
        "agi_request: agi://127.0.0.1:4573/selftest?lang=ru",
        "agi_callerid: 1001",
        "agi_channel: PJSIP/1001-00000001",
    ])
    assert env.get("accountcode") == ""
    assert env.get("request") == "agi://127.0.0.1:4573/selftest?lang=ru"
    assert env.caller == "1001"


def test_env_route_and_query_from_network_script():
    env = parse_env(["agi_network_script: ivr/?menu=90000&x=1"])
    assert env.route == "ivr"
    assert env.query == {"menu": "90000", "x": "1"}


def test_env_route_falls_back_to_request_path():
    assert parse_env(["agi_request: agi://10.0.0.1/selftest"]).route == "selftest"


def test_env_args_in_numeric_order():
    env = parse_env([f"agi_arg_{n}: a{n}" for n in (10, 2, 1, 3, 4, 5, 6, 7, 8, 9)])
    assert env.args == tuple(f"a{n}" for n in range(1, 11))


def test_env_unknown_caller_is_empty():
    assert parse_env(["agi_callerid: unknown"]).caller == ""


@pytest.mark.parametrize("line", ["hello", "agi_x", "callerid: 1001"])
def test_env_rejects_lines_that_are_not_agi(line):
    with pytest.raises(ProtocolError):
        parse_env([line])


@pytest.mark.parametrize("line, result, data, extras", [
    ("200 result=1", 1, None, {}),
    ("200 result=0", 0, None, {}),
    ("200 result=49 (timeout)", 49, "timeout", {}),
    ("200 result=0 endpos=3520", 0, None, {"endpos": "3520"}),
    ("200 result=1 (ru)", 1, "ru", {}),
    ("200 result=1 (two words)", 1, "two words", {}),
    ("200 result=12 (timeout) endpos=8000", 12, "timeout", {"endpos": "8000"}),
])
def test_result_forms(line, result, data, extras):
    reply = parse_result(line)
    assert (reply.result, reply.data, reply.extras, reply.raw) == (result, data, extras, line)


@pytest.mark.parametrize("line, error", [
    ("200 result=-1", ChannelFailure),
    ("200 result=-1 endpos=0", ChannelFailure),
    ("510 Invalid or unknown command", InvalidCommand),
    ("511 Command Not Permitted on a dead channel or intercept routine", DeadChannel),
    ("520 Invalid command syntax.  Proper usage not available.", UsageError),
    ("520-Invalid command syntax.  Proper usage follows:\n Usage: WAIT FOR DIGIT <timeout>\n"
     "520 End of proper usage.", UsageError),
    ("HELLO", ProtocolError),
    ("200 result=x", ProtocolError),
    ("200 result=1 (unclosed", ProtocolError),
])
def test_error_replies_raise_with_raw_text(line, error):
    with pytest.raises(error) as caught:
        parse_result(line)
    assert caught.value.raw == line


def test_quote_escapes_quotes_and_backslashes():
    assert quote_arg('say "hi" \\o/') == '"say \\"hi\\" \\\\o/"'
    assert quote_arg("") == '""'
    assert quote_arg(5000) == '"5000"'


@pytest.mark.parametrize("value", ["1001\nHANGUP", "x\r", "a\0b"])
def test_quote_refuses_line_breaks(value):
    with pytest.raises(UnsafeArgument):
        quote_arg(value)


def test_caller_text_stays_one_argument():
    line = format_command("VERBOSE", 'Ivan" "1', 1)
    assert line == 'VERBOSE "Ivan\\" \\"1" "1"'


def test_app_args_joined_with_commas():
    assert app_args("Playback", "hello-world", "noanswer") == ("Playback", "hello-world,noanswer")


@pytest.mark.parametrize("arg", ["1001,30", "${SHELL(rm -rf /)}", 'a"b', "x|y", "a\\b", "$[1+1]"])
def test_app_args_refuse_dialplan_syntax(arg):
    with pytest.raises(UnsafeArgument):
        app_args("Dial", arg)


@pytest.mark.parametrize("app", ["Dial,1", "System(x)", "", "1Dial"])
def test_app_name_checked(app):
    with pytest.raises(UnsafeArgument):
        app_args(app)


@pytest.mark.parametrize("lines", [
    ["agi_network_script: menu", "agi_callerid: 123", "agi_network_script: selftest"],
    ["agi_arg_1: 90000", "agi_arg_1: 99999"],
])
def test_env_refuses_a_name_given_twice(lines):
    """A later line never overrides an earlier one: a caller's line break cannot pick the route."""
    with pytest.raises(ProtocolError, match="twice"):
        parse_env(lines)


@pytest.mark.parametrize("value", ["1\x1b[2J", "a\x00b", "x\ry", "\x85"])
def test_env_refuses_control_characters(value):
    with pytest.raises(ProtocolError, match="control character"):
        parse_env([f"agi_calleridname: {value}"])


@pytest.mark.parametrize("line", ["agi_network_script", "agi_Network: x", "agi_a b: x", "agi_: x"])
def test_env_refuses_names_of_another_shape(line):
    with pytest.raises(ProtocolError):
        parse_env([line])


def test_env_cut_short_lacks_what_asterisk_always_sends():
    env = parse_env(["agi_network_script: menu", "agi_channel: PJSIP/201-1",
                     "agi_uniqueid: 1.1", "agi_callerid: 123"])
    with pytest.raises(ProtocolError, match="agi_context"):
        require_complete(env)


def test_untrusted_env_keeps_the_first_value_and_no_route():
    env = untrusted_env(["agi_network_script: menu", "agi_callerid: 1\x1b2",
                         "agi_network_script: selftest", "agi_arg_1: 91110", "junk"])
    assert (env.route, env.args, env.caller) == ("", (), "1?2")
    assert env.get("network_script") == "menu"


@pytest.mark.parametrize("line, is_reply", [
    ("200 result=1", True), ("510 Invalid or unknown command", True), ("520-Invalid", True),
    ("agi_calleridname: x", False), ("", False), ("HANGUP", False), ("200", False),
])
def test_reply_lines(line, is_reply):
    assert is_reply_line(line) is is_reply
