"""The test bed itself against a real Asterisk: instance, AMI, scripted caller.

These tests use a stand-in ``[telecenter]`` context instead of Telecenter's
generated dialplan, so a failure here points at the bed, not at the product.
"""

from __future__ import annotations

import queue
import re
import socketserver
import threading

import pytest
from asterisk.manager import ManagerAuthException

from dialplan.instance import AsteriskError, AsteriskInstance
from dialplan.names import CONTEXT_ENTRY, SELFTEST_NUMBER
from tests.testbed.callers import (
    CALLER_DIALPLAN,
    ami_session,
    check_script,
    place_call,
    wait_for,
)
from tests.testbed.conftest import active_channels, global_var
from tests.testbed.ports import free_port, free_ports

pytestmark = [
    pytest.mark.asterisk,
    # pyst2 0.5.1 calls threading's deprecated isSet() in its read loops.
    pytest.mark.filterwarnings("ignore::DeprecationWarning:asterisk.manager"),
]

# Stand-in for Telecenter's entry context: records what the caller sent.
RECORDING_DIALPLAN = f"""
[{CONTEXT_ENTRY}]
exten => {SELFTEST_NUMBER},1,Answer()
 same => n,Set(GLOBAL(SEEN_CALLER)=${{CALLERID(num)}})
 same => n,Read(DIGITS,,2,,,10)
 same => n,Set(GLOBAL(SEEN_DIGITS)=${{DIGITS}})
 same => n,Wait(30)
 same => n,Hangup()
"""


# -- the instance -----------------------------------------------------------


def test_version_and_settings(make_instance):
    instance = make_instance()
    assert instance.rx("core show version").startswith("Asterisk 16")
    settings = instance.rx("core show settings")
    assert re.search(r"Default language:\s+ru$", settings, re.M)
    transports = instance.rx("pjsip show transports")
    assert f"127.0.0.1:{instance.sip_port}" in transports


def test_ami_login_and_permissions(make_instance):
    instance = make_instance()
    with ami_session(instance) as manager:
        assert manager.ping().get_header("Ping") == "Pong"
        reload = manager.send_action({"Action": "Reload", "Module": "pbx_config"})
        assert reload.get_header("Response") == "Success", reload
        command = manager.send_action({"Action": "Command", "Command": "core show uptime"})
        assert command.get_header("Response") == "Success", command
    with pytest.raises(ManagerAuthException):
        with ami_session(instance, secret="wrong-" + instance.ami_secret):
            pass


def test_reload_picks_up_rewritten_config(make_instance):
    instance = make_instance()
    assert "telecenter-reloaded" not in instance.rx("dialplan show")
    instance.extra_extensions = "[telecenter-reloaded]\nexten => 1,1,NoOp()\n"
    (instance.include_dir / "pjsip_telecenter_phones.conf").write_text(
        "[phone-1001]\ntype = aor\nmax_contacts = 1\n"
    )
    instance.write_config()
    instance.rx("core reload")
    wait_for(
        lambda: "telecenter-reloaded" in instance.rx("dialplan show telecenter-reloaded"),
        timeout=10,
        what="the new context after reload",
    )
    wait_for(
        lambda: "phone-1001" in instance.rx("pjsip show aors"),
        timeout=10,
        what="the included pjsip aor after reload",
    )


def test_includes_telecenter_files_that_exist(make_instance, tmp_path):
    include_dir = tmp_path / "pbx-include"
    include_dir.mkdir()
    (include_dir / "extensions_telecenter.conf").write_text(
        f"[{CONTEXT_ENTRY}]\nexten => {SELFTEST_NUMBER},1,NoOp(from include)\n"
    )
    instance = make_instance()
    assert SELFTEST_NUMBER in instance.rx(f"dialplan show {CONTEXT_ENTRY}")
    # No pjsip_telecenter*.conf: the transport must load all the same.
    assert str(instance.sip_port) in instance.rx("pjsip show transports")


def test_two_instances_side_by_side(make_instance):
    first = make_instance("one")
    second = make_instance("two")
    assert f":{first.sip_port}" in first.rx("pjsip show transports")
    assert f":{second.sip_port}" in second.rx("pjsip show transports")
    first.stop()
    assert first.pid is None
    assert second.rx("core show version").startswith("Asterisk")


def test_start_twice_is_refused(make_instance):
    instance = make_instance()
    with pytest.raises(AsteriskError, match="already running"):
        instance.start()


# -- the scripted caller ----------------------------------------------------


def test_scripted_call_sends_digits_in_order(make_instance):
    instance = make_instance(extra_extensions=CALLER_DIALPLAN + RECORDING_DIALPLAN)
    place_call(instance, SELFTEST_NUMBER, "w1/d1/w1/d2/w2/h", caller="2345")
    digits = wait_for(lambda: global_var(instance, "SEEN_DIGITS"), timeout=15, what="two digits")
    assert digits == "12"
    assert global_var(instance, "SEEN_CALLER") == "2345"
    # The caller's "h" ends the call on both halves.
    wait_for(lambda: active_channels(instance) == 0, timeout=15, what="the call to end")


class _AgiEnvironment(socketserver.StreamRequestHandler):
    """Reads one FastAGI environment, hands it to the test, drops the call."""

    def handle(self):
        env = {}
        for raw in self.rfile:
            line = raw.decode().rstrip("\n")
            if not line:
                break
            key, _, value = line.partition(":")
            env[key] = value.strip()
        self.server.environments.put(env)


def test_fastagi_sees_the_callers_number(make_instance):
    server = socketserver.TCPServer(("127.0.0.1", 0), _AgiEnvironment)
    server.environments = queue.Queue()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        agi_port = server.server_address[1]
        dialplan = (
            f"[{CONTEXT_ENTRY}]\n"
            f"exten => {SELFTEST_NUMBER},1,AGI(agi://127.0.0.1:{agi_port}/selftest)\n"
            " same => n,Hangup()\n"
        )
        instance = make_instance(extra_extensions=CALLER_DIALPLAN + dialplan)
        place_call(instance, SELFTEST_NUMBER, "w1/h", caller="1001")
        env = server.environments.get(timeout=15)
    finally:
        server.shutdown()
        server.server_close()
    assert env["agi_callerid"] == "1001"
    assert env["agi_extension"] == SELFTEST_NUMBER
    assert env["agi_context"] == CONTEXT_ENTRY
    assert env["agi_network_script"] == "selftest"
    assert env["agi_language"] == "ru"


# -- no Asterisk needed -----------------------------------------------------


@pytest.mark.parametrize("script", ["w1/d1/w0.5/d2/w5/h", "d*#0", "h", "w10"])
def test_check_script_accepts(script):
    assert check_script(script) == script.split("/")


@pytest.mark.parametrize("script", ["", "w", "x1", "d1a", "w1//h", "w-1", "d1,2", "h1"])
def test_check_script_rejects(script):
    with pytest.raises(ValueError):
        check_script(script)


def test_place_call_validates_before_connecting(tmp_path):
    # Port 1 has no AMI: a ValueError proves nothing was sent.
    instance = AsteriskInstance(tmp_path, tmp_path, ami_port=1)
    with pytest.raises(ValueError):
        place_call(instance, "99999", "w1/x")
    with pytest.raises(ValueError):
        place_call(instance, "99999;x", "h")
    with pytest.raises(ValueError):
        place_call(instance, "99999", "h", caller="1001<x>")


def test_render_includes_only_existing_files(tmp_path):
    include_dir = tmp_path / "include"
    include_dir.mkdir()
    instance = AsteriskInstance(tmp_path / "pbx", include_dir)
    files = instance.render()
    assert "#include" not in files["pjsip.conf"]
    assert "#include" not in files["extensions.conf"]
    (include_dir / "pjsip_telecenter_phones.conf").write_text("")
    (include_dir / "extensions_telecenter.conf").write_text("")
    files = instance.render()
    assert f'#include "{include_dir}/pjsip_telecenter_phones.conf"' in files["pjsip.conf"]
    assert f'#include "{include_dir}/extensions_telecenter.conf"' in files["extensions.conf"]


def test_render_refuses_unusable_settings(tmp_path):
    with pytest.raises(ValueError, match="too deep"):
        AsteriskInstance(tmp_path / ("x" * 120), tmp_path).render()
    with pytest.raises(ValueError, match="rtp_start"):
        AsteriskInstance(tmp_path, tmp_path, rtp_start=20000, rtp_end=10000).render()
    with pytest.raises(ValueError, match="ami_secret"):
        AsteriskInstance(tmp_path, tmp_path, ami_secret="a b").render()


def test_start_reports_an_early_exit(tmp_path):
    instance = AsteriskInstance(tmp_path / "pbx", tmp_path, binary="false")
    instance.write_config()
    with pytest.raises(AsteriskError, match="exited with code 1"):
        instance.start()
    assert instance.pid is None


def test_start_gives_up_after_timeout(tmp_path):
    never_boots = tmp_path / "never-boots"
    never_boots.write_text("#!/bin/sh\nexec sleep 60\n")
    never_boots.chmod(0o755)
    instance = AsteriskInstance(tmp_path / "pbx", tmp_path, binary=str(never_boots))
    instance.write_config()
    with pytest.raises(AsteriskError, match="did not boot within 0.5 s"):
        instance.start(timeout=0.5)
    assert instance.pid is None


def test_free_ports_are_distinct_and_bindable():
    ports = free_ports(5)
    assert len(set(ports)) == 5
    assert 0 < free_port() < 65536
