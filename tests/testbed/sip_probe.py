"""One raw SIP request over UDP and the first final answer to it.

What an attacker's script sees: the status line and headers Asterisk sends
back to an unauthenticated REGISTER, from a chosen loopback address.
"""

from __future__ import annotations

import secrets
import socket
from dataclasses import dataclass


@dataclass(frozen=True)
class SipAnswer:
    status: int
    reason: str
    headers: dict[str, str]  # lower-case name -> value (the last one when repeated)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


def parse_answer(data: bytes) -> SipAnswer:
    """Status line and headers of one SIP response."""
    head = data.decode("utf-8", "replace").split("\r\n\r\n", 1)[0].split("\r\n")
    _version, status, reason = (head[0].split(" ", 2) + [""])[:3]
    headers = {}
    for line in head[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return SipAnswer(int(status), reason, headers)


def register_probe(*, target_host: str, target_port: int, user: str, source: str,
                   timeout: float = 5.0) -> SipAnswer | None:
    """Send one REGISTER for ``user`` without credentials from ``source``.

    Returns the first final answer (provisional 1xx are skipped), or None
    when nothing came back within ``timeout`` seconds.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((source, 0))
        sock.settimeout(timeout)
        port = sock.getsockname()[1]
        call_id = secrets.token_hex(8)
        request = (
            f"REGISTER sip:{target_host}:{target_port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {source}:{port};rport;branch=z9hG4bK{secrets.token_hex(6)}\r\n"
            f"From: <sip:{user}@{target_host}>;tag={secrets.token_hex(4)}\r\n"
            f"To: <sip:{user}@{target_host}>\r\n"
            f"Call-ID: {call_id}\r\n"
            "CSeq: 1 REGISTER\r\n"
            f"Contact: <sip:{user}@{source}:{port}>\r\n"
            "Max-Forwards: 70\r\n"
            "Expires: 60\r\n"
            "Content-Length: 0\r\n\r\n"
        )
        sock.sendto(request.encode(), (target_host, target_port))
        while True:
            try:
                data, _ = sock.recvfrom(65535)
            except socket.timeout:
                return None
            answer = parse_answer(data)
            if answer.status >= 200:
                return answer
