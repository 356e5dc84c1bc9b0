"""Who gets blocked: failed SIP logins per address in a window, trusted addresses, the ACL text."""

from __future__ import annotations

import ipaddress
from datetime import datetime, timedelta, timezone

import pytest

from dialplan.sip_guard import (
    BlockPolicy, Failure, FailureCounter, clean_account, failure_from_event, host_networks,
    parse_networks, parse_remote_address, render_acl,
)

T0 = datetime(2026, 12, 2, 3, 0, tzinfo=timezone.utc)
ATTACKER = ipaddress.ip_address("127.0.0.2")

# As Asterisk 16 sent them over AMI to a svcrack run and an svwar run.
WRONG_DIGEST = {
    "Event": "ChallengeResponseFailed", "Privilege": "security,all", "Severity": "Error",
    "Service": "PJSIP", "EventVersion": "1", "AccountID": "201", "SessionID": "3285462736",
    "LocalAddress": "IPV4/UDP/127.0.0.1/45829", "RemoteAddress": "IPV4/UDP/127.0.0.2/47883",
    "Challenge": "1796177883/32ad60ae954e19b66262c2efa0bbcdeb",
    "Response": "18a29cd09cc90f7d0e8388e1c7068cdc",
}
UNKNOWN_NAME = {
    "Event": "InvalidAccountID", "Severity": "Error", "Service": "PJSIP",
    "AccountID": "200", "RemoteAddress": "IPV4/UDP/127.0.0.3/58021",
}
CHALLENGE_SENT = {
    "Event": "ChallengeSent", "Severity": "Informational", "Service": "PJSIP",
    "AccountID": "<unknown>", "RemoteAddress": "IPV4/UDP/127.0.0.3/58021",
}
AMI_LOGIN_FAILED = {
    "Event": "InvalidPassword", "Service": "AMI", "AccountID": "telecenter",
    "RemoteAddress": "IPV4/TCP/127.0.0.1/38052",
}


def failure(at: datetime, address=ATTACKER) -> Failure:
    return Failure(address, at, "ChallengeResponseFailed", "201")


def test_failed_sip_logins_are_read_from_security_events():
    wrong = failure_from_event(WRONG_DIGEST, T0)
    assert wrong == Failure(ATTACKER, T0, "ChallengeResponseFailed", "201")
    unknown = failure_from_event(UNKNOWN_NAME, T0)
    assert (unknown.address, unknown.event, unknown.account) == (
        ipaddress.ip_address("127.0.0.3"), "InvalidAccountID", "200")


@pytest.mark.parametrize("event", [CHALLENGE_SENT, AMI_LOGIN_FAILED,
                                   {**WRONG_DIGEST, "RemoteAddress": "garbage"}, {}])
def test_challenges_ami_logins_and_unreadable_events_are_not_failures(event):
    assert failure_from_event(event, T0) is None


def test_remote_addresses_of_both_ip_versions_are_read():
    assert parse_remote_address("IPV4/UDP/10.1.2.3/5060") == ipaddress.ip_address("10.1.2.3")
    v6 = ipaddress.ip_address("2001:db8::5")
    assert parse_remote_address("IPV6/UDP/[2001:db8::5]/5060") == v6
    assert parse_remote_address("IPV6/UDP/2001:db8::5/5060") == v6
    assert parse_remote_address("127.0.0.1") is None


def test_an_account_name_a_caller_chose_is_kept_printable_and_short():
    assert clean_account("20\x001\n\ud800") == "20?1??"
    assert len(clean_account("9" * 1000)) == 64


def test_the_limit_within_the_window_blocks_for_the_configured_time():
    counter = FailureCounter(BlockPolicy(max_failures=3, window=timedelta(seconds=60),
                                         block_for=timedelta(hours=1)))
    assert counter.record(failure(T0)) is None
    assert counter.record(failure(T0 + timedelta(seconds=10))) is None
    decision = counter.record(failure(T0 + timedelta(seconds=20)))
    assert decision is not None
    assert (decision.address, decision.failures, decision.until) == (
        ATTACKER, 3, T0 + timedelta(seconds=20) + timedelta(hours=1))
    assert counter.counting(ATTACKER) == 0  # starts from zero after the block


def test_failures_older_than_the_window_do_not_count():
    counter = FailureCounter(BlockPolicy(max_failures=3, window=timedelta(seconds=60)))
    for seconds in (0, 50, 100, 150, 200):  # never three within 60 s
        assert counter.record(failure(T0 + timedelta(seconds=seconds))) is None
    assert counter.counting(ATTACKER) == 2


def test_addresses_are_counted_apart():
    counter = FailureCounter(BlockPolicy(max_failures=2))
    other = ipaddress.ip_address("127.0.0.3")
    assert counter.record(failure(T0)) is None
    assert counter.record(failure(T0, other)) is None
    assert counter.record(failure(T0 + timedelta(seconds=1))).address == ATTACKER
    assert counter.counting(other) == 1


def test_trusted_networks_and_line_hosts_are_never_blocked():
    counter = FailureCounter(BlockPolicy(max_failures=1, trusted=parse_networks(["10.0.0.0/8"])))
    assert counter.record(failure(T0, ipaddress.ip_address("10.9.8.7"))) is None
    lines = host_networks(["127.0.0.2", "sip.example.net"])
    assert counter.record(failure(T0), lines) is None
    assert counter.record(failure(T0)) is not None  # the same address, once no line has it


def test_refusals_of_an_address_the_acl_blocks_are_not_counted_again():
    counter = FailureCounter(BlockPolicy(max_failures=2))
    refused = Failure(ATTACKER, T0, "FailedACL", "201")
    for _ in range(5):
        assert counter.record(refused, blocked={ATTACKER}) is None
    assert counter.counting(ATTACKER) == 0
    assert counter.record(failure(T0), blocked={ATTACKER}) is None  # let in again: counted
    assert counter.counting(ATTACKER) == 1


def test_the_counter_forgets_the_quietest_addresses_beyond_its_limit():
    counter = FailureCounter(BlockPolicy(max_failures=5), max_tracked=100)
    for n in range(1000):
        counter.record(failure(T0, ipaddress.ip_address(f"10.0.{n // 256}.{n % 256}")))
    assert len(counter._times) == 100


def test_a_bad_trusted_network_or_limit_is_refused_with_its_name():
    with pytest.raises(ValueError, match="'10.0.0.300' is not an IP address or network"):
        BlockPolicy.from_values(10, 60, 3600, ["10.0.0.300"])
    with pytest.raises(ValueError, match="at least 1"):
        BlockPolicy.from_values(0, 60, 3600, [])
    with pytest.raises(ValueError, match="positive"):
        BlockPolicy.from_values(10, 0, 3600, [])


def test_the_acl_denies_each_blocked_address_once_in_order():
    text = render_acl([ipaddress.ip_address("127.0.0.3"), ATTACKER, ATTACKER,
                       ipaddress.ip_address("2001:db8::5")])
    body = [line for line in text.splitlines() if line and not line.startswith(";")]
    assert body == ["[telecenter-blocked]", "type = acl", "deny = 127.0.0.2/32",
                    "deny = 127.0.0.3/32", "deny = 2001:db8::5/128"]


def test_without_blocks_the_acl_has_no_object():
    text = render_acl([])
    assert [line for line in text.splitlines() if line and not line.startswith(";")] == []
