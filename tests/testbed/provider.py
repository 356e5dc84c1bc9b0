"""A SIP provider for end-to-end tests: a SIPp behind an external line, on a second loopback address.

Telecenter dials citizens through external lines (robocalls, callbacks).  In
the tests the line points at ``Provider``: one SIPp process on
``127.0.0.2:<port>`` (an address of its own, so Asterisk's ``identify`` of
the line cannot take the phones' traffic from 127.0.0.1 for the provider's)
that takes any number of calls, one after another or at once, and answers
each by the number dialled (``scenarios/provider.xml``):

=================  ===================================================
``ANSWER``  7901…  rings 0.5 s, answers, waits for Asterisk's BYE
``RING``    7902…  rings until Asterisk cancels (no answer)
``BUSY``    7903…  486 Busy Here
``CONGESTED`` 7904…  503 Service Unavailable
``LATE``    7905…  rings 3 s (cancellable), then answers like ANSWER
=================  ===================================================

``number(kind, n)`` makes an 11-digit number of a kind (``number(ANSWER, 1)``
is 79010000001).  A line to a provider that is not running is
``Provider.down_line(name, regex)`` (a port nothing listens on, on 127.0.0.3).

What each call did is read from SIPp's message trace, with SIPp's own
timestamps (never from polling): ``provider.calls()`` lists one
``ProviderCall`` per INVITE, by arrival, with ``number`` (the dialled
number), ``arrived``, ``answered_at``, ``ended_at`` (epoch seconds) and
``ended_by`` ("cancel", "busy", "congestion", "bye").  ``wait_for_calls``
polls with a deadline.  ``line(name, regex)`` gives the ``Line`` to put in
the configuration Telecenter renders.

    with Provider(tmp_path / "provider") as provider:
        config = Configuration(lines=(provider.line("prov", r"^79\\d{9}$"),))
        ...
        call, = provider.wait_for_calls(lambda calls: calls and calls[0].ended_at)
"""

from __future__ import annotations

import re
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from dialplan.configuration import Line
from tests.testbed.callers import wait_for
from tests.testbed.operator_phone import SIPP_ENV_TZ, _headers, trace_messages
from tests.testbed.ports import sipp_ports, udp_free
from tests.testbed.sipp import SCENARIO_DIR, SippProcess, sipp_binary

PROVIDER_IP = "127.0.0.2"
DOWN_IP = "127.0.0.3"
SCENARIO = SCENARIO_DIR / "provider.xml"

ANSWER, RING, BUSY, CONGESTED, LATE = "7901", "7902", "7903", "7904", "7905"


def number(kind: str, n: int) -> str:
    """The ``n``-th 11-digit number the provider treats as ``kind``."""
    return f"{kind}{n:07d}"


@dataclass
class ProviderCall:
    call_id: str
    number: str
    arrived: float
    answered_at: float | None = None
    ended_at: float | None = None
    ended_by: str | None = None


class Provider:
    """One SIPp provider on ``PROVIDER_IP`` (see the module doc)."""

    def __init__(self, workdir: Path | str | None = None):
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="provider-"))
        self.port, self.media_port = sipp_ports(PROVIDER_IP)
        self.process: SippProcess | None = None

    def line(self, name: str, outbound_regex: str, position: int = 0, line_id: int = 1) -> Line:
        """An external line to this provider (no registration: it knows Asterisk by address)."""
        return Line(id=line_id, name=name, host=PROVIDER_IP, port=self.port,
                    outbound_regex=outbound_regex, position=position)

    @staticmethod
    def down_line(name: str, outbound_regex: str, position: int = 0, line_id: int = 2) -> Line:
        """A line to a provider that is not running: a port on ``DOWN_IP`` nothing listens on
        (an address of its own: two lines on one host could not be told apart)."""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind((DOWN_IP, 0))
            port = sock.getsockname()[1]
        return Line(id=line_id, name=name, host=DOWN_IP, port=port,
                    outbound_regex=outbound_regex, position=position)

    def start(self) -> "Provider":
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.process = SippProcess([
            sipp_binary(), "-sf", str(SCENARIO), "-aa", "-nostdin",
            "-i", PROVIDER_IP, "-mi", PROVIDER_IP,
            "-p", str(self.port), "-mp", str(self.media_port),
        ], self.workdir, SCENARIO, env={"TZ": SIPP_ENV_TZ})
        wait_for(lambda: not udp_free(PROVIDER_IP, self.port), 10, what="the provider to listen")
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None

    def __enter__(self) -> "Provider":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def calls(self, number_prefix: str = "") -> list[ProviderCall]:
        """Every INVITE so far (to numbers starting with ``number_prefix``), by arrival."""
        text = self.process.messages() if self.process else ""
        return [c for c in parse_provider_trace(text) if c.number.startswith(number_prefix)]

    def wait_for_calls(self, predicate: Callable[[list[ProviderCall]], object],
                       timeout: float = 20, what: str = "the provider's calls",
                       number_prefix: str = "") -> list[ProviderCall]:
        def check():
            calls = self.calls(number_prefix)
            return calls if predicate(calls) else None

        try:
            return wait_for(check, timeout, what=what)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\ncalls: {self.calls()}") from None


_REQUEST_USER = re.compile(r"^INVITE sips?:\+?([^@;> ]*)")


def parse_provider_trace(text: str) -> list[ProviderCall]:
    """Every INVITE in the provider's SIPp message trace and how it ended, by arrival."""
    calls: dict[str, ProviderCall] = {}
    for when, sent, message in trace_messages(text):
        lines = message.splitlines()
        if not lines:
            continue
        start, headers = lines[0], _headers(lines[1:])
        call_id = headers.get("call-id", "")
        call = calls.get(call_id)
        method = (headers.get("cseq", "").split() or [""])[-1].upper()
        if start.startswith("INVITE ") and not sent:
            match = _REQUEST_USER.match(start)
            if call is None:
                calls[call_id] = ProviderCall(call_id, match.group(1) if match else "", when)
            continue
        if call is None or call.ended_by:
            continue
        if sent and start.startswith("SIP/2.0 200") and method == "INVITE":
            call.answered_at = call.answered_at or when
        elif sent and start.startswith("SIP/2.0 486"):
            call.ended_at, call.ended_by = when, "busy"
        elif sent and start.startswith("SIP/2.0 503"):
            call.ended_at, call.ended_by = when, "congestion"
        elif not sent and start.startswith("CANCEL "):
            call.ended_at, call.ended_by = when, "cancel"
        elif not sent and start.startswith("BYE "):
            call.ended_at, call.ended_by = when, "bye"
    return sorted(calls.values(), key=lambda call: call.arrived)
