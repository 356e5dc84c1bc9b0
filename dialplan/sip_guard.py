"""Which SIP addresses to block: failed logins counted per address in a window.

Pure logic, no I/O: reading one AMI security event, counting failures,
deciding a block, telling trusted addresses, and rendering the pjsip ACL
that Asterisk enforces.  ``dialplan.sip_blocks`` feeds it events and keeps
its decisions in the database and in the ACL file.

Theory of operation
-------------------
Asterisk raises a security event for every failed SIP login: a name that is
no account (InvalidAccountID), a wrong digest (ChallengeResponseFailed,
InvalidPassword) or an address an ACL refuses (FailedACL).  Each event names
the remote address.  Per address the counter keeps the times of its
failures in the last ``window`` seconds::

    quiet --failure--> counting --failure, count < limit--> counting
                          |                                    |
                          +-- no failure for ``window`` s --> quiet (forgotten)
                          +-- failure, count reaches limit --> BLOCK, then quiet

A BLOCK lasts ``block_for`` seconds (stored with its end, so it survives a
restart); the address starts from zero afterwards, and also when an
administrator lifts the block early.  While it is blocked, pjsip refuses
the address and reports each refusal as FailedACL: that is our own ACL at
work, not a new failure, so it is not counted (an address lifted early
would otherwise come back with a full count).  Trusted addresses (the lines' hosts
and configured networks) are never blocked, whatever they send: a provider
with a wrong password must not cut off every incoming call.  Events of
other services (AMI logins) and informational ones (ChallengeSent) are not
failures.  The counter forgets the quietest addresses beyond
``MAX_TRACKED`` so that a flood of spoofed addresses cannot exhaust memory.
"""

from __future__ import annotations

import ipaddress
import re
from collections import OrderedDict, deque
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from dialplan.config_templates import asterisk_templates

# The file, beside the other generated pjsip files, that holds the blocks.
ACL_FILE = "pjsip_telecenter_acl.conf"
# The pjsip object in it (type=acl); pjsip checks every request against it.
ACL_NAME = "telecenter-blocked"
# What Asterisk says it is in Server / User-Agent headers: no version.
USER_AGENT = "Telecenter"
# The module whose reload makes pjsip read the ACL again.
PJSIP_MODULE = "res_pjsip.so"

# AMI security events that are a failed login.
FAILED_ACL = "FailedACL"
FAILURE_EVENTS = frozenset({
    "InvalidAccountID", "ChallengeResponseFailed", "InvalidPassword", FAILED_ACL,
})
SIP_SERVICE = "PJSIP"

MAX_TRACKED = 10_000
# An account name is kept for the administrator's eyes only, cut and cleaned.
ACCOUNT_MAX_LENGTH = 64
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Failure:
    """One failed SIP login: from where, when, what kind, which account it named."""

    address: IPAddress
    at: datetime
    event: str
    account: str


@dataclass(frozen=True)
class BlockPolicy:
    """How many failures in how long block an address, for how long; who is trusted."""

    max_failures: int = 10
    window: timedelta = timedelta(seconds=60)
    block_for: timedelta = timedelta(hours=1)
    trusted: tuple[IPNetwork, ...] = ()

    def __post_init__(self):
        if self.max_failures < 1:
            raise ValueError("the number of failures that blocks must be at least 1")
        if self.window.total_seconds() <= 0 or self.block_for.total_seconds() <= 0:
            raise ValueError("the failure window and the block time must be positive")

    @classmethod
    def from_values(cls, max_failures: int, window_seconds: float, block_seconds: float,
                    trusted: Iterable[str]) -> BlockPolicy:
        """A policy from settings' plain values; ValueError names a bad one."""
        return cls(max_failures, timedelta(seconds=window_seconds),
                   timedelta(seconds=block_seconds), parse_networks(trusted))


@dataclass(frozen=True)
class BlockDecision:
    """The counter's verdict on an address that reached the limit."""

    address: IPAddress
    since: datetime
    until: datetime
    failures: int
    last_event: str
    account: str


def parse_networks(texts: Iterable[str]) -> tuple[IPNetwork, ...]:
    """Networks from "10.0.0.0/8"-style texts (a bare address is one host)."""
    networks = []
    for text in texts:
        text = text.strip()
        if not text:
            continue
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            raise ValueError(f"{text!r} is not an IP address or network") from None
    return tuple(networks)


def host_networks(hosts: Iterable[str]) -> tuple[IPNetwork, ...]:
    """The lines' hosts that are IP addresses, as one-address networks (names are skipped)."""
    networks = []
    for host in hosts:
        try:
            networks.append(ipaddress.ip_network(host))
        except ValueError:
            continue  # A host name: pjsip identifies it, but it has no fixed address here.
    return tuple(networks)


def is_trusted(address: IPAddress, trusted: Iterable[IPNetwork]) -> bool:
    """Whether ``address`` lies in one of the ``trusted`` networks."""
    return any(address.version == net.version and address in net for net in trusted)


def parse_remote_address(text: str) -> IPAddress | None:
    """The IP address in an event's RemoteAddress.

    Asterisk writes ``IPV4/UDP/127.0.0.2/5060`` (version, transport,
    address, port); IPv6 addresses may come in brackets.  None when the
    text has no address.
    """
    parts = text.split("/")
    if len(parts) < 4:
        return None
    host = "/".join(parts[2:-1]).strip("[]")
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def clean_account(text: str) -> str:
    """A name a caller sent, fit to keep and show: no control characters, not too long."""
    return _UNPRINTABLE.sub("?", text)[:ACCOUNT_MAX_LENGTH]


def failure_from_event(event: Mapping[str, str], at: datetime) -> Failure | None:
    """The failed SIP login an AMI event reports, or None for any other event."""
    name = event.get("Event", "")
    if name not in FAILURE_EVENTS or event.get("Service") != SIP_SERVICE:
        return None
    address = parse_remote_address(str(event.get("RemoteAddress", "")))
    if address is None:
        return None
    return Failure(address, at, name, clean_account(str(event.get("AccountID", ""))))


class FailureCounter:
    """Failures per address within the policy's window (see the module's theory of operation)."""

    def __init__(self, policy: BlockPolicy, max_tracked: int = MAX_TRACKED):
        self.policy = policy
        self.max_tracked = max_tracked
        self._times: OrderedDict[IPAddress, deque[datetime]] = OrderedDict()

    def record(self, failure: Failure, trusted: Iterable[IPNetwork] = (),
               blocked: Collection[IPAddress] = ()) -> BlockDecision | None:
        """Count one failure; a BlockDecision when its address has just reached the limit.

        ``trusted`` adds networks (the lines' hosts) to the policy's own;
        ``blocked`` are the addresses the ACL refuses now.
        """
        policy = self.policy
        if is_trusted(failure.address, (*policy.trusted, *trusted)):
            return None
        if failure.event == FAILED_ACL and failure.address in blocked:
            return None
        times = self._times.pop(failure.address, None) or deque()
        while times and times[0] <= failure.at - policy.window:
            times.popleft()
        times.append(failure.at)
        if len(times) >= policy.max_failures:
            return BlockDecision(failure.address, failure.at, failure.at + policy.block_for,
                                 len(times), failure.event, failure.account)
        self._times[failure.address] = times  # most recent last
        while len(self._times) > self.max_tracked:
            self._times.popitem(last=False)
        return None

    def counting(self, address: IPAddress) -> int:
        """Failures of ``address`` counted now (0 once blocked or forgotten)."""
        return len(self._times.get(address, ()))


_templates = asterisk_templates()


def render_acl(addresses: Iterable[IPAddress]) -> str:
    """pjsip_telecenter_acl.conf: one deny line per blocked address, in address order."""
    networks = sorted({ipaddress.ip_network(a) for a in addresses},
                      key=lambda net: (net.version, net))
    return _templates.get_template(ACL_FILE + ".j2").render(
        acl_name=ACL_NAME, networks=[net.with_prefixlen for net in networks])
