"""Override rules on real calls: the rendered dialplan, real Asterisk, the real server, SIPp phones.

One bed for the module (its own database, Asterisk and server): the server's
clock is fixed by a file (tests/testbed/clock_server.py), so each test says
what time it is.  Phone 201 has five rules, tried in this order:

1. callers 79990000001 -> phone 202
2. callers matching ^8800 -> the call ends
3. Sundays -> phone 202
4. 13:00-14:00 -> phone 202
5. outside the office's hours (Mon-Fri 09:00-18:00, the production calendar) -> the call ends

The phones 201 and 202 are SIPp phones that answer; a caller is a Local
channel with a caller id of the test's choice that calls 201 from the
Telecenter context, as a line's or a phone's call does.  Each test tells
which phone rang (or that none did) and which rule the call's steps name.

Outside numbers have rules too, for the phones that dial them: 88001234567
is forbidden to everyone; 84951234567 dialled from 202 goes to 201 instead;
from 201 it leaves through the line to the provider (SIPp on 127.0.0.2).
"""

from __future__ import annotations

import sys
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import dict_row

from dialplan.apply import apply_now
from dialplan.configuration import sip_digest
from dialplan.instance import AsteriskInstance
from dialplan.render import render_all, write_files
from fastagi.settings import Settings
from ivr.speaker import presynthesize_for_calls
from tests.conftest import new_database, require
from tests.testbed.agi_server import AgiServer
from tests.testbed.callers import CALLER_DIALPLAN, place_call, wait_for
from tests.testbed.operator_phone import OperatorPhones
from tests.testbed.ports import free_port, sipp_ports
from tests.testbed.sipp import start_uas

pytestmark = [pytest.mark.asterisk, pytest.mark.sipp]

PASSWORDS = {"201": "Rules-phone-201-secret", "202": "Rules-phone-202-secret"}
ZONE = "Europe/Moscow"
TUESDAY_10 = "2024-03-12T10:00:00+03:00"
PROVIDER_IP = "127.0.0.2"


class RulesBed:
    def __init__(self, root: Path, db_url: str):
        self.root, self.db_url = root, db_url
        self.clock_file = root / "clock"
        self.set_clock(TUESDAY_10)
        agi_port = free_port()
        self.asterisk = AsteriskInstance(
            root=root / "asterisk", include_dir=root / "include", sip_port=free_port(),
            ami_port=free_port(), rtp_start=free_port(), extra_extensions=CALLER_DIALPLAN)
        self.asterisk.rtp_end = self.asterisk.rtp_start + 100
        a = self.asterisk
        self.settings = Settings(var_dir=root / "var", agi_port=agi_port, ami_port=a.ami_port,
                                 ami_user=a.ami_user, ami_secret=a.ami_secret,
                                 include_dir_override=Path(a.include_dir), timezone=ZONE)
        write_files(Path(a.include_dir), render_all(self.settings))
        self.server = AgiServer(agi_port, root / "var", {
            "DATABASE_URL": db_url, "TELECENTER_INCLUDE_DIR": str(a.include_dir),
            "TELECENTER_TIMEZONE": ZONE, "TELECENTER_SIP_TRUSTED": "127.0.0.0/8",
            "TELECENTER_AMI_PORT": str(a.ami_port), "TELECENTER_AMI_USER": a.ami_user,
            "TELECENTER_AMI_SECRET": a.ami_secret,
        }, command=[sys.executable, "-m", "tests.testbed.clock_server", str(self.clock_file),
                    str(agi_port)])

    def set_clock(self, iso: str) -> None:
        self.clock_file.write_text(iso)

    def call(self, caller: str) -> dict:
        """``caller`` calls 201, talks a second and hangs up; the rules route's call record."""
        with psycopg.connect(self.db_url) as conn:
            mark = conn.execute("SELECT coalesce(max(id), 0) FROM calls").fetchone()[0]
        place_call(self.asterisk, "201", "w1/h", caller=caller, answer_timeout=15)
        return wait_for(lambda: self._rules_call(caller, mark), 30,
                        what=f"the rules of 201 to be asked for {caller}")

    def _rules_call(self, caller: str, after: int) -> dict | None:
        with psycopg.connect(self.db_url, row_factory=dict_row) as conn:
            return conn.execute(
                "SELECT * FROM calls WHERE caller = %s AND id > %s AND route = 'rules'"
                " AND outcome IS NOT NULL ORDER BY id DESC LIMIT 1", (caller, after)).fetchone()

    def mark(self) -> int:
        with psycopg.connect(self.db_url) as conn:
            return conn.execute("SELECT coalesce(max(id), 0) FROM calls").fetchone()[0]

    def rule_steps(self, caller: str, after: int, count: int = 1) -> list[str]:
        """What the rules said for ``caller``'s calls after call row ``after``, in order,
        once ``count`` such steps are there."""
        def found():
            with psycopg.connect(self.db_url) as conn:
                steps = [d for d, in conn.execute(
                    "SELECT e.detail FROM call_events e JOIN calls c ON c.id = e.call_id"
                    " WHERE c.caller = %s AND c.id > %s AND c.route = 'rules'"
                    " AND e.kind = 'rule' ORDER BY c.id, e.seq", (caller, after))]
            return steps if len(steps) >= count else None

        return wait_for(found, 30, what=f"the rules to be asked for {caller}")

    def steps(self, call: dict, kind: str) -> list[str]:
        with psycopg.connect(self.db_url) as conn:
            return [d for d, in conn.execute(
                "SELECT detail FROM call_events WHERE call_id = %s AND kind = %s ORDER BY seq",
                (call["id"], kind))]

    def idle(self) -> None:
        self.asterisk.rx("channel request hangup all")
        wait_for(lambda: not self.asterisk.rx("core show channels concise").strip(), 20,
                 what="every call to end")


def configure(conn, provider_port: int) -> None:
    conn.execute("INSERT INTO lines (name, host, port, outbound_regex) VALUES"
                 " ('prov', %s, %s, '^8[0-9]{10}$')", (PROVIDER_IP, provider_port))
    conn.execute("INSERT INTO override_rules (called_number, redirect) VALUES ('88001234567', '')")
    conn.execute("INSERT INTO override_rules (called_number, caller_numbers, redirect)"
                 " VALUES ('84951234567', '{202}', '201')")
    for number, password in PASSWORDS.items():
        conn.execute("INSERT INTO phones (number, md5_cred) VALUES (%s, %s)",
                     (number, sip_digest(number, password)))
    office = conn.execute("INSERT INTO schedules (name) VALUES ('Офис') RETURNING id"
                          ).fetchone()[0]
    for weekday in range(1, 6):
        conn.execute("INSERT INTO schedule_hours (schedule_id, weekday, starts, ends)"
                     " VALUES (%s, %s, '09:00', '18:00')", (office, weekday))
    rules = [
        dict(caller_numbers=["79990000001"], redirect="202"),
        dict(caller_regexes=["^8800"], redirect=""),
        dict(weekdays=[7], redirect="202"),
        dict(time_ranges=["13:00-14:00"], redirect="202"),
        dict(schedule_id=office, schedule_inside=False, redirect=""),
    ]
    for position, rule in enumerate(rules):
        columns = {"called_number": "201", "position": position, **rule}
        conn.execute(f"INSERT INTO override_rules ({', '.join(columns)})"
                     f" VALUES ({', '.join(['%s'] * len(columns))})", list(columns.values()))


@pytest.fixture(scope="module")
def bed(pg_url, tmp_path_factory):
    require("asterisk")
    require("sipp")
    root = tmp_path_factory.mktemp("rules-bed")
    with new_database(pg_url, "telecenter_rules") as url:
        bed = RulesBed(root, url)
        bed.provider_port, bed.provider_media = sipp_ports(PROVIDER_IP)
        bed.asterisk.write_config()
        bed.asterisk.start()
        try:
            bed.server.start()
            with psycopg.connect(url, autocommit=True) as conn:
                configure(conn, bed.provider_port)
                apply_now(conn, bed.settings, "test", presynthesize=presynthesize_for_calls)
            with OperatorPhones(bed.asterisk.sip_port, root / "phones") as phones:
                for number, password in PASSWORDS.items():
                    phones.add(number, password, answer_after=0)
                    wait_for(lambda: f"{number}/sip:{number}@" in bed.asterisk.rx(
                        "pjsip show contacts"), 10, what=f"phone {number} to be online")
                bed.phones = phones
                yield bed
        finally:
            bed.server.stop()
            bed.asterisk.stop()


@pytest.fixture
def rules_bed(bed):
    bed.set_clock(TUESDAY_10)
    yield bed
    bed.idle()


def rang(bed, number: str, caller: str) -> bool:
    return any(call.caller == caller for call in bed.phones[number].calls())


def answered_by(bed, caller: str) -> str:
    """The phone that answered ``caller``'s call."""
    return wait_for(lambda: next((n for n in PASSWORDS if any(
        c.caller == caller and c.answered for c in bed.phones[n].calls())), None), 20,
        what=f"a phone to answer {caller}")


def test_no_rule_holds_and_the_call_takes_its_usual_route(rules_bed):
    call = rules_bed.call("79995550001")
    assert rules_bed.steps(call, "rule") == ["no override rule of 201 holds: its usual route"]
    assert answered_by(rules_bed, "79995550001") == "201"


def test_a_caller_on_the_list_goes_where_the_rule_says(rules_bed):
    call = rules_bed.call("79990000001")
    assert rules_bed.steps(call, "rule") == [
        "override rule 1 of 201 fired: the call goes to 202"]
    assert answered_by(rules_bed, "79990000001") == "202"
    assert not rang(rules_bed, "201", "79990000001")


def test_a_caller_matching_the_regex_is_cut_off_and_no_phone_rings(rules_bed):
    call = rules_bed.call("88001234567")
    assert rules_bed.steps(call, "rule") == ["override rule 2 of 201 fired: the call ends"]
    wait_for(lambda: not rules_bed.asterisk.rx("core show channels concise").strip(), 15,
             what="the call to end")
    assert not rang(rules_bed, "201", "88001234567")
    assert not rang(rules_bed, "202", "88001234567")


def test_on_sunday_the_weekday_rule_fires(rules_bed):
    rules_bed.set_clock("2024-03-17T10:00:00+03:00")
    call = rules_bed.call("79995550003")
    assert rules_bed.steps(call, "rule") == [
        "override rule 3 of 201 fired: the call goes to 202"]
    assert answered_by(rules_bed, "79995550003") == "202"


def test_at_lunch_the_time_rule_fires_on_the_office_clock(rules_bed):
    rules_bed.set_clock("2024-03-12T10:30:00+00:00")  # 13:30 in Moscow
    call = rules_bed.call("79995550004")
    assert rules_bed.steps(call, "rule") == [
        "override rule 4 of 201 fired: the call goes to 202"]
    assert answered_by(rules_bed, "79995550004") == "202"


def test_outside_the_schedule_and_on_a_holiday_the_call_ends(rules_bed):
    rules_bed.set_clock("2024-03-12T19:00:00+03:00")  # Tuesday evening
    evening = rules_bed.call("79995550005")
    rules_bed.set_clock("2024-03-08T10:00:00+03:00")  # Friday, Women's Day
    holiday = rules_bed.call("79995550006")
    for call in (evening, holiday):
        assert rules_bed.steps(call, "rule") == ["override rule 5 of 201 fired: the call ends"]
    wait_for(lambda: not rules_bed.asterisk.rx("core show channels concise").strip(), 15,
             what="the calls to end")
    assert not any(rang(rules_bed, n, c) for n in PASSWORDS
                   for c in ("79995550005", "79995550006"))


def test_with_the_server_down_the_number_keeps_its_usual_route(rules_bed):
    rules_bed.server.stop()
    try:
        place_call(rules_bed.asterisk, "201", "w1/h", caller="79990000001", answer_timeout=15)
        # Rule 1 would send this caller to 202; without the server, 201 answers.
        rules_bed.phones["201"].wait_for_calls(
            lambda calls: any(c.caller == "79990000001" and c.answered for c in calls),
            timeout=20, what="201 to answer the caller rule 1 would have sent to 202")
    finally:
        rules_bed.server.start()


def test_phones_dialling_outside_numbers_meet_their_rules(rules_bed, tmp_path):
    provider = start_uas(local_ip=PROVIDER_IP, local_port=rules_bed.provider_port,
                         media_port=rules_bed.provider_media, workdir=tmp_path / "provider")
    try:
        mark = rules_bed.mark()
        forbidden = rules_bed.phones["202"].dial("88001234567", timeout=15)
        assert not forbidden.ok, forbidden.describe()
        assert rules_bed.rule_steps("202", mark) == [
            "override rule 1 of 88001234567 fired: the call ends"]

        mark = rules_bed.mark()
        redirected = rules_bed.phones["202"].dial("84951234567", hang_up_after=1, timeout=20)
        assert redirected.ok, redirected.describe()
        # The redirect meets 201's own rules next (none holds for 202 on a Tuesday morning).
        assert rules_bed.rule_steps("202", mark, count=2) == [
            "override rule 1 of 84951234567 fired: the call goes to 201",
            "no override rule of 201 holds: its usual route"]
        assert any(c.caller == "202" and c.answered for c in rules_bed.phones["201"].calls())

        mark = rules_bed.mark()
        out = rules_bed.phones["201"].dial("84951234567", hang_up_after=1, timeout=20)
        received = provider.wait(timeout=15)
    finally:
        provider.stop()
    assert out.ok and received.ok, out.describe() + received.describe()
    assert rules_bed.rule_steps("201", mark) == [
        "no override rule of 84951234567 holds: its usual route"]
    assert "INVITE sip:84951234567@" in received.messages
    assert "88001234567" not in received.messages
