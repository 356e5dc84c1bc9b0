"""Free local ports for test instances of Asterisk, SIPp and FastAGI servers.

A port is "free" when it can be bound on 127.0.0.1 for both TCP and UDP: the
same number serves as a SIP (UDP) or AMI/FastAGI (TCP) port.  The port is
released before it is returned, so another process could take it first;
with ports from the kernel's ephemeral range that is rare enough for tests.
"""

from __future__ import annotations

import socket

HOST = "127.0.0.1"


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports, each free for TCP and UDP on 127.0.0.1."""
    held: list[socket.socket] = []
    ports: list[int] = []
    try:
        while len(ports) < count:
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            held.append(tcp)
            tcp.bind((HOST, 0))
            port = tcp.getsockname()[1]
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            held.append(udp)
            try:
                udp.bind((HOST, port))
            except OSError:
                continue  # Busy for UDP; keep both held so it is not offered again.
            ports.append(port)
    finally:
        for sock in held:
            sock.close()
    return ports


def free_port() -> int:
    """One port free for TCP and UDP on 127.0.0.1."""
    return free_ports(1)[0]


def sipp_ports(host: str = HOST) -> tuple[int, int]:
    """(SIP port, media port) for one SIPp run on ``host``.

    SIPp binds the media port for audio and media port + 2 for video, so
    that one must be free too.
    """
    for _ in range(50):
        sip, media = free_ports(2)
        if media + 2 != sip and all(udp_free(host, port) for port in (sip, media, media + 2)):
            return sip, media
    raise RuntimeError("no free ports for SIPp")


def udp_free(host: str, port: int) -> bool:
    """True when nothing listens on UDP ``host:port`` (a test waits for SIPp to bind it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True
