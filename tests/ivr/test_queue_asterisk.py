"""Queues with real parts: real Asterisk, the real server, SIPp phones as operators.

A bed of its own (its own Asterisk, server and database), because the queue
state is one per database and each test writes the plan the server reads:
queues, members, playlists.  The queue dialplan here is the minimal one the
design names (a queue number runs the ``queue`` route and runs it again while
the caller holds a place; the member's leg runs ``queue-answer``; leaving
goes to the leave context).  Operators are SIPp phones that register and then
answer, or ring until cancelled; callers are Local channels with scripts
(tests/testbed/callers.py).
"""

from __future__ import annotations

import re
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import dict_row

from dialplan import names
from dialplan.configuration import Playlist, PlaylistItem, Queue, QueueKey
from dialplan.instance import AsteriskInstance
from dialplan.ivr_plan import IVR_PLAN_FILE, IvrPlan, plan_to_json
from tests.conftest import new_database, require
from tests.testbed.agi_server import AgiServer
from tests.testbed.callers import CALLER_CONTEXT, CALLER_DIALPLAN, VAR_SCRIPT, ami_session, \
    check_script, wait_for
from tests.testbed.ports import free_port, sipp_ports, udp_free
from tests.testbed.sipp import LOCAL_IP, PJSIP_TEST_ENDPOINT, SCENARIO_DIR, SippProcess, \
    register, sipp_binary

pytestmark = pytest.mark.asterisk

QUEUE_CALLERS = "telecenter-test-queue"
LEFT = "TQ_LEFT_"  # a global per caller number: why the caller left the queue
NEXT = "TQ_NEXT_"  # a global per caller number: where the route sent the call
PHONES = {f"20{i}": f"Operator-20{i}-secret" for i in range(1, 7)}


def queue_dialplan(agi_port: int) -> str:
    """The queue contexts as the design describes them, without the rest of Telecenter."""
    agi = f"agi://127.0.0.1:{agi_port}"
    return f"""
[{QUEUE_CALLERS}]
exten => _X.,1,Set(TQ_TRIES=0)
 same => n,Set(CHANNEL(musicclass)={names.MOH_TRANSFER_CLASS})
 same => n(run),Set({names.VAR_STATUS}=)
 same => n,AGI({agi}/{names.ROUTE_QUEUE},${{EXTEN}})
 same => n,GotoIf($["${{{names.VAR_STATUS}}}" = "{names.STATUS_OK}"]?done)
 same => n,GotoIf($["${{{names.VAR_QUEUE_JOINED}}}" != "1"]?done)
 same => n,Set(TQ_TRIES=$[${{TQ_TRIES}} + 1])
 same => n,GotoIf($[${{TQ_TRIES}} > {names.QUEUE_RETRIES}]?done)
 same => n,Wait({names.QUEUE_RETRY_SECONDS})
 same => n,Goto(run)
 same => n(done),Set(GLOBAL({NEXT}${{CALLERID(num)}})=${{{names.VAR_NEXT}}})
 same => n,Hangup()

[{names.CONTEXT_QUEUE_OPERATOR}]
exten => s,1,Set(TRANSFER_CONTEXT={names.CONTEXT_PHONES})
 same => n,AGI({agi}/{names.ROUTE_QUEUE_ANSWER},${{{names.VAR_QUEUE_CALLER}}})
 same => n,Hangup()

[{names.CONTEXT_PHONES}]
exten => _20X,1,Dial(PJSIP/${{EXTEN}},30)
 same => n,Hangup()

[{names.CONTEXT_QUEUE_LEAVE}]
exten => s,1,Set(GLOBAL({LEFT}${{CALLERID(num)}})=${{{names.VAR_QUEUE_REASON}}}:${{{names.VAR_NEXT}}})
 same => n,Hangup()
"""


@dataclass
class QueueBed:
    asterisk: AsteriskInstance
    server: AgiServer
    db_url: str

    def write_plan(self, *queues: Queue, playlists: tuple[Playlist, ...] = ()) -> None:
        plan = IvrPlan(revision=int(time.time() * 1000), queues={q.number: q for q in queues},
                       playlists={p.id: p for p in playlists})
        path = Path(self.asterisk.include_dir) / IVR_PLAN_FILE
        path.write_text(plan_to_json(plan, "test"), encoding="utf-8")

    def call(self, number: str, script: str, caller: str) -> None:
        """A caller (Local channel running ``script``) dials the queue ``number``."""
        check_script(script)
        with ami_session(self.asterisk) as manager:
            reply = manager.originate(
                channel=f"Local/{number}@{QUEUE_CALLERS}", context=CALLER_CONTEXT, exten="s",
                priority="1", timeout="30000", caller_id=caller, variables={VAR_SCRIPT: script},
                run_async=True)
        assert reply.get_header("Response") == "Success", reply.get_header("Message")

    def record(self, caller: str) -> dict | None:
        """The queue call record of the caller's number (the newest)."""
        with psycopg.connect(self.db_url, row_factory=dict_row) as conn:
            return conn.execute("SELECT * FROM queue_calls WHERE number = %s"
                                " ORDER BY joined_at DESC LIMIT 1", (caller,)).fetchone()

    def record_when(self, caller: str, predicate, timeout: float = 30, what: str = "") -> dict:
        def check():
            row = self.record(caller)
            return row if row is not None and predicate(row) else None

        return wait_for(check, timeout, what=what or f"the queue record of {caller}")

    def waiting_callers(self) -> list[str]:
        with psycopg.connect(self.db_url) as conn:
            state = conn.execute("SELECT state FROM queue_state").fetchone()[0]
        return [c["number"] for c in sorted(state["callers"], key=lambda c: c["order"])]

    def server_state(self) -> str:
        """The stored queue state as JSON text."""
        with psycopg.connect(self.db_url) as conn:
            return conn.execute("SELECT state::text FROM queue_state").fetchone()[0]

    def said(self, caller: str) -> list[str]:
        with psycopg.connect(self.db_url) as conn:
            return [d for d, in conn.execute(
                "SELECT e.detail FROM call_events e JOIN calls c ON c.id = e.call_id"
                " WHERE c.caller = %s AND c.route = %s AND e.kind = 'say'"
                " ORDER BY c.id, e.seq", (caller, names.ROUTE_QUEUE))]

    def channels(self, prefix: str) -> list[str]:
        out = self.asterisk.rx("core show channels concise")
        return [line.split("!")[0] for line in out.splitlines() if line.startswith(prefix)]

    def end_talk(self, phone: str) -> None:
        """The operator hangs up."""
        for channel in self.channels(f"PJSIP/{phone}-"):
            self.asterisk.rx(f"channel request hangup {channel}")

    def bridges(self) -> list[list[str]]:
        """The channels of each bridge Asterisk has now."""
        found = []
        for bridge_id in re.findall(r"^([0-9a-f-]{36})\s", self.asterisk.rx("bridge show all"),
                                    re.M):
            shown = self.asterisk.rx(f"bridge show {bridge_id}")
            found.append(re.findall(r"Channel: (\S+)", shown))
        return found

    def left_reason(self, caller: str) -> str | None:
        """'<reason>:<next number>' once the caller was sent to the leave context."""
        return self._global(f"{LEFT}{caller}")

    def next_number(self, caller: str) -> str | None:
        """The number the queue route sent the caller to, once it ended ('' for none)."""
        return self._global(f"{NEXT}{caller}")

    def _global(self, name: str) -> str | None:
        match = re.search(rf"^\s*{name}=(.*)$", self.asterisk.rx("dialplan show globals"), re.M)
        return match.group(1) if match else None

    def idle(self) -> None:
        """Hang up every call and wait until no caller waits: the next test starts clean."""
        self.asterisk.rx("channel request hangup all")
        wait_for(lambda: not self.waiting_callers() and not self.channels(""), 20,
                 what="every queue caller to be gone")


class OperatorPhone:
    """A SIPp phone registered as ``number``; answers or rings on its registered port."""

    def __init__(self, bed: QueueBed, number: str, workdir: Path):
        self.bed, self.number, self.workdir = bed, number, workdir
        self.port, self.media_port = sipp_ports()
        self.process: SippProcess | None = None

    def register(self, expires: int = 3600) -> None:
        result = register(target_host=LOCAL_IP, target_port=self.bed.asterisk.sip_port,
                          user=self.number, password=PHONES[self.number], local_port=self.port,
                          expires=expires, workdir=self.workdir / f"register-{time.time()}")
        assert result.ok, result.describe()

    def start(self, scenario: str, calls: int = 1) -> SippProcess:
        """Run ``scenario`` (uas_answer: answer each call; uas_ring_only: ring until
        cancelled) for ``calls`` calls on the registered port."""
        workdir = self.workdir / f"{scenario}-{time.time()}"
        workdir.mkdir(parents=True)
        path = SCENARIO_DIR / f"{scenario}.xml"
        self.process = SippProcess([
            sipp_binary(), "-sf", str(path), "-m", str(calls), "-aa", "-nostdin",
            "-i", LOCAL_IP, "-mi", LOCAL_IP, "-p", str(self.port), "-mp", str(self.media_port),
        ], workdir, path)
        # An INVITE sent before SIPp listens would be refused at once (a failed ring).
        wait_for(lambda: not udp_free(LOCAL_IP, self.port), 10,
                 what=f"phone {self.number} to listen")
        return self.process

    def invites(self) -> int:
        """How many INVITEs the phone has received so far."""
        if self.process is None:
            return 0
        return len(re.findall(r"^INVITE sip:", self.process.messages(), re.M))

    def cancels(self) -> int:
        return 0 if self.process is None else len(
            re.findall(r"^CANCEL sip:", self.process.messages(), re.M))

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()


def write_transfer_config(instance: AsteriskInstance, moh_dir: Path) -> None:
    """The attended transfer key and the transfer music class, as Apply renders them."""
    moh_dir.mkdir()
    music = sorted(Path("/usr/share/asterisk/moh").glob("*.wav"))[:1]
    for track in music:
        (moh_dir / track.name).write_bytes(track.read_bytes())
    etc = Path(instance.etc_dir)
    (etc / "features.conf").write_text(
        f"[featuremap]\natxfer => {names.ATTENDED_TRANSFER_CODE}\n", encoding="utf-8")
    (etc / "musiconhold.conf").write_text(
        f"[{names.MOH_TRANSFER_CLASS}]\nmode = files\ndirectory = {moh_dir}\n", encoding="utf-8")


@pytest.fixture(scope="module")
def bed(tmp_path_factory, pg_url):
    require("asterisk", "sipp")
    root = tmp_path_factory.mktemp("queue-bed")
    agi_port = free_port()
    instance = AsteriskInstance(
        root=root / "asterisk", include_dir=root / "include", sip_port=free_port(),
        ami_port=free_port(), rtp_start=free_port(),
        extra_extensions=CALLER_DIALPLAN + queue_dialplan(agi_port),
        extra_pjsip="".join(PJSIP_TEST_ENDPOINT(p, pw) for p, pw in PHONES.items()))
    instance.rtp_end = instance.rtp_start + 200
    Path(instance.include_dir).mkdir(parents=True)
    with new_database(pg_url, "telecenter_queues") as url:
        instance.write_config()
        write_transfer_config(instance, root / "moh")
        instance.start()
        server = AgiServer(agi_port, root / "var", {
            "DATABASE_URL": url, "TELECENTER_INCLUDE_DIR": str(instance.include_dir),
            "TELECENTER_SIP_TRUSTED": "127.0.0.0/8", "TELECENTER_SHUTDOWN_GRACE": "1",
            "TELECENTER_AMI_PORT": str(instance.ami_port),
            "TELECENTER_AMI_USER": instance.ami_user,
            "TELECENTER_AMI_SECRET": instance.ami_secret})
        queue_bed = QueueBed(instance, server, url)
        queue_bed.write_plan()
        server.start()
        try:
            yield queue_bed
        finally:
            server.stop()
            instance.stop()


@pytest.fixture
def phones(bed, tmp_path):
    """Factory of registered operator phones; stopped and the bed idle after the test."""
    made: list[OperatorPhone] = []

    def make(number: str) -> OperatorPhone:
        phone = OperatorPhone(bed, number, tmp_path / number)
        phone.register()
        made.append(phone)
        return phone

    yield make
    try:
        bed.idle()
    finally:
        for phone in made:
            phone.stop()
            phone.register(expires=0)


def online(bed: QueueBed, *numbers: str) -> None:
    """Wait until Asterisk lists the phones' contacts (the server hears the same events)."""
    wait_for(lambda: all(f"{n}/sip:{n}@" in bed.asterisk.rx("pjsip show contacts")
                         for n in numbers), 10, what=f"phones {numbers} to register")


def test_one_free_operator_answers_and_both_legs_are_in_one_bridge(bed, phones):
    phone = phones("201")
    online(bed, "201")
    bed.write_plan(Queue(id=1, name="Справки", number="92000", members=("201",)))
    answering = phone.start("uas_answer")
    bed.call("92000", "w60/h", caller="79990000101")

    row = bed.record_when("79990000101", lambda r: r["outcome"] == "answered",
                          what="the operator to answer")
    bridge = wait_for(lambda: next((b for b in bed.bridges() if len(b) == 2), None), 10,
                      what="a bridge of two channels")
    assert any(c.startswith("PJSIP/201-") for c in bridge), bridge
    assert any(c.startswith(f"Local/92000@{QUEUE_CALLERS}") for c in bridge), bridge
    assert row["answered_phone"] == "201" and row["offered_to"] == ["201"]
    assert row["positions"] == [1]
    assert 0 < row["wait_seconds"] < 10

    bed.end_talk("201")
    ended = bed.record_when("79990000101", lambda r: r["talk_seconds"] is not None,
                            what="the talk to be recorded")
    assert ended["talk_seconds"] > 0
    assert answering.wait(10).ok


def test_a_caller_who_hangs_up_while_the_member_rings_stops_the_ringing(bed, phones):
    phone = phones("202")
    online(bed, "202")
    bed.write_plan(Queue(id=1, name="Справки", number="92000", ring_seconds=60,
                         members=("202",)))
    ringing = phone.start("uas_ring_only")
    bed.call("92000", "w3/h", caller="79990000102")
    wait_for(lambda: phone.invites() == 1, 10, what="the phone to ring")
    result = ringing.wait(15)  # it ends only after a CANCEL
    assert result.ok and phone.cancels() == 1, result.describe()
    row = bed.record_when("79990000102", lambda r: r["outcome"] != "waiting")
    assert row["outcome"] == "gave_up" and row["offered_to"] == ["202"]
    assert row["answered_phone"] is None


def test_two_of_three_members_ring_at_once_and_the_third_after_their_ring_time(bed, phones):
    made = [phones(n) for n in ("203", "204", "205")]
    online(bed, "203", "204", "205")
    bed.write_plan(Queue(id=1, name="Справки", number="92000", ring_seconds=5, ring_at_once=2,
                         members=("203", "204", "205")))
    for phone in made:
        phone.start("uas_ring_only")
    bed.call("92000", "w60/h", caller="79990000103")
    wait_for(lambda: made[0].invites() and made[1].invites(), 10, what="two phones to ring")
    first = time.monotonic()
    assert made[2].invites() == 0
    wait_for(lambda: made[2].invites(), 10, what="the third phone to ring")
    later = time.monotonic() - first
    assert 3.5 < later < 7.5, later
    wait_for(lambda: made[0].cancels() and made[1].cancels(), 5,
             what="the first two to stop ringing")
    row = bed.record("79990000103")
    assert row["offered_to"][:2] == ["203", "204"] and row["offered_to"][2] == "205"


def test_no_member_online_in_a_stop_when_empty_queue_sends_the_caller_on(bed, phones):
    bed.write_plan(Queue(id=1, name="Справки", number="92000", stop_when_empty=True,
                         when_empty_number="93000", members=("206",)))
    bed.call("92000", "w30/h", caller="79990000104")
    row = bed.record_when("79990000104", lambda r: r["outcome"] != "waiting")
    assert row["outcome"] == "no_member"
    assert wait_for(lambda: bed.left_reason("79990000104"), 10) == \
        f"{names.QUEUE_REASON_NO_MEMBER}:93000"


def test_wrap_up_delays_the_next_offer(bed, phones):
    phone = phones("201")
    online(bed, "201")
    bed.write_plan(Queue(id=1, name="Справки", number="92000", wrap_up_seconds=5,
                         members=("201",)))
    phone.start("uas_answer", calls=2)
    bed.call("92000", "w60/h", caller="79990000105")
    bed.record_when("79990000105", lambda r: r["outcome"] == "answered")
    bed.call("92000", "w60/h", caller="79990000106")
    bed.record_when("79990000106", lambda r: r["positions"] == [1])
    bed.end_talk("201")
    first = bed.record_when("79990000105", lambda r: r["ended_at"] is not None)
    second = bed.record_when("79990000106", lambda r: r["outcome"] == "answered", timeout=20)
    gap = (second["answered_at"] - first["ended_at"]).total_seconds()
    assert 5 <= gap < 8, gap


def test_the_position_is_said_again_after_the_caller_ahead_hangs_up(bed, phones):
    playlist = Playlist(id=1, name="Ожидание", items=(
        PlaylistItem("queue_position"), PlaylistItem("tts", text="Пожалуйста, оставайтесь на линии.")))
    bed.write_plan(Queue(id=1, name="Справки", number="92000", playlist_id=1, members=("206",)),
                   playlists=(playlist,))
    bed.call("92000", "w8/h", caller="79990000107")
    bed.record_when("79990000107", lambda r: r["positions"] == [1])
    bed.call("92000", "w60/h", caller="79990000108")
    bed.record_when("79990000108", lambda r: r["positions"] == [2, 1], timeout=20,
                    what="the second caller to move up")
    wait_for(lambda: any("один" in s for s in bed.said("79990000108")), 20,
             what="the new position to be said")
    said = bed.said("79990000108")
    assert "два" in said[0], said
    assert any("очереди: один" in s for s in said), said


def test_callers_keep_their_order_across_a_server_restart_and_are_served(bed, phones):
    bed.write_plan(Queue(id=1, name="Справки", number="92000", members=("201",)))
    callers = ["79990000111", "79990000112", "79990000113"]
    for caller in callers:
        bed.call("92000", "w120/h", caller=caller)
        bed.record_when(caller, lambda r: r["outcome"] == "waiting")
    assert bed.waiting_callers() == callers
    bed.server.stop()
    bed.server.start()
    phone = phones("201")
    phone.start("uas_answer", calls=3)
    for caller in callers:
        bed.record_when(caller, lambda r: r["outcome"] == "answered", timeout=40,
                        what=f"{caller} to be answered")
        bed.end_talk("201")
    answered = [bed.record(c)["answered_at"] for c in callers]
    assert answered == sorted(answered)
    assert all(bed.record(c)["positions"][0] == i for i, c in enumerate(callers, 1))


def test_a_key_while_waiting_leaves_the_queue_for_the_keys_number(bed, phones):
    bed.write_plan(Queue(id=1, name="Справки", number="92000", members=("206",),
                         keys=(QueueKey("3", "93000"),)))
    bed.call("92000", "w3/d5/w1/d3/w10/h", caller="79990000121")
    row = bed.record_when("79990000121", lambda r: r["outcome"] != "waiting")
    assert row["outcome"] == "key"
    assert wait_for(lambda: bed.next_number("79990000121") is not None, 10) and \
        bed.next_number("79990000121") == "93000"


def test_the_maximum_wait_sends_the_caller_on(bed, phones):
    bed.write_plan(Queue(id=1, name="Справки", number="92000", members=("206",),
                         max_wait_seconds=10, after_max_wait_number="93001"))
    bed.call("92000", "w60/h", caller="79990000122")
    row = bed.record_when("79990000122", lambda r: r["outcome"] != "waiting", timeout=20)
    assert row["outcome"] == "max_wait" and 10 <= row["wait_seconds"] < 12
    assert wait_for(lambda: bed.left_reason("79990000122"), 10) == \
        f"{names.QUEUE_REASON_MAX_WAIT}:93001"


@pytest.mark.parametrize("frees_first", ["the sticky operator", "another operator"])
def test_a_returning_caller_is_offered_to_todays_operator_without_losing_their_place(
        bed, phones, frees_first):
    """Caller X talked to operator S earlier today; now Y waits longer than X.  When S
    frees first, X gets S before Y; when the other operator frees first, Y (first in
    line) takes them and X keeps waiting for their turn."""
    made = {n: phones(n) for n in ("201", "202")}
    online(bed, "201", "202")
    bed.write_plan(Queue(id=1, name="Справки", number="92000", sticky=True,
                         members=("201", "202")))
    x, y, busy, busy_again = (
        ("79990000131", "79990000132", "79990000130", "79990000135")
        if frees_first == "the sticky operator" else
        ("79990000141", "79990000142", "79990000140", "79990000145"))
    for phone in made.values():
        phone.start("uas_answer", calls=3)
    # X's earlier call today, answered by S while the other operator O talks to someone.
    bed.call("92000", "w90/h", caller=busy)
    other = bed.record_when(busy, lambda r: r["outcome"] == "answered")["answered_phone"]
    bed.call("92000", "w90/h", caller=x)
    sticky = bed.record_when(x, lambda r: r["outcome"] == "answered")["answered_phone"]
    assert {sticky, other} == {"201", "202"}
    bed.end_talk(sticky)
    bed.record_when(x, lambda r: r["ended_at"] is not None)
    # S talks again; Y joins, then X calls again and waits behind Y.
    bed.call("92000", "w90/h", caller=busy_again)
    bed.record_when(busy_again, lambda r: r["answered_phone"] == sticky)
    bed.call("92000", "w90/h", caller=y)
    bed.record_when(y, lambda r: r["positions"] == [1])
    bed.call("92000", "w90/h", caller=x)
    bed.record_when(x, lambda r: r["positions"] == [2] and r["outcome"] == "waiting")
    if frees_first == "the sticky operator":
        bed.end_talk(sticky)
        assert bed.record_when(x, lambda r: r["outcome"] == "answered")["answered_phone"] \
            == sticky
        assert bed.record(y)["outcome"] == "waiting"
    else:
        bed.end_talk(other)
        assert bed.record_when(y, lambda r: r["outcome"] == "answered")["answered_phone"] \
            == other
        assert bed.record(x)["outcome"] == "waiting"


@contextmanager
def operators(bed: QueueBed, **bindings: tuple[str, bool]):
    """Bind each login to (phone, accepting) and tell the server, as the admin does; the
    bindings go again afterwards.  The operators' tables are made as the design names them
    where their migration has not run."""
    with psycopg.connect(bed.db_url, autocommit=True) as conn:
        conn.execute("ALTER TABLE users ADD COLUMN IF NOT EXISTS accepting_queue_calls"
                     " boolean NOT NULL DEFAULT true")
        conn.execute("CREATE TABLE IF NOT EXISTS phone_bindings (user_id integer PRIMARY KEY"
                     " REFERENCES users ON DELETE CASCADE, phone_number text UNIQUE,"
                     " bound_at timestamptz NOT NULL DEFAULT now())")
        for login, (phone, accepting) in bindings.items():
            user, = conn.execute(
                "INSERT INTO users (login, password_hash, role, accepting_queue_calls)"
                " VALUES (%s, 'x', 'operator', %s) RETURNING id", (login, accepting)).fetchone()
            conn.execute("INSERT INTO phone_bindings (user_id, phone_number) VALUES (%s, %s)",
                         (user, phone))
        conn.execute("NOTIFY telecenter_operators")
        try:
            yield conn
        finally:
            conn.execute("DELETE FROM users WHERE login = ANY(%s)", (list(bindings),))
            conn.execute("NOTIFY telecenter_operators")


def test_an_operator_who_pauses_gets_no_offers_and_the_record_names_who_answered(bed, phones):
    made = {n: phones(n) for n in ("201", "202")}
    online(bed, "201", "202")
    bed.write_plan(Queue(id=1, name="Справки", number="92000", members=("201", "202")))
    for phone in made.values():
        phone.start("uas_answer")
    with operators(bed, anna=("201", False), boris=("202", True)) as conn:
        wait_for(lambda: '"accepting": false' in bed.server_state(), 10,
                 what="the server to read the operators")
        bed.call("92000", "w60/h", caller="79990000151")
        row = bed.record_when("79990000151", lambda r: r["outcome"] == "answered")
        assert (row["answered_phone"], row["answered_operator"]) == ("202", "boris")
        assert made["201"].invites() == 0
        conn.execute("UPDATE users SET accepting_queue_calls = true WHERE login = 'anna'")
        conn.execute("NOTIFY telecenter_operators")
        bed.call("92000", "w60/h", caller="79990000152")
        row = bed.record_when("79990000152", lambda r: r["outcome"] == "answered")
        assert (row["answered_phone"], row["answered_operator"]) == ("201", "anna")


def test_an_attended_transfer_plays_the_transfer_music_to_the_caller(bed, phones):
    made = {n: phones(n) for n in ("201", "202")}
    online(bed, "201", "202")
    bed.write_plan(Queue(id=1, name="Справки", number="92000", members=("201",)))
    for phone in made.values():
        phone.start("uas_answer")
    bed.call("92000", "w120/h", caller="79990000161")
    bed.record_when("79990000161", lambda r: r["outcome"] == "answered")
    wait_for(lambda: any(len(b) == 2 for b in bed.bridges()), 10, what="the talk's bridge")
    music: list[dict] = []
    with ami_session(bed.asterisk) as manager:
        manager.register_event("MusicOnHoldStart",
                               lambda event, _m: music.append(dict(event.headers)))
        operator = bed.channels("PJSIP/201-")[0]
        # What pressing *2 and dialling 202 does (the digits go to the transfer context).
        reply = manager.send_action({"Action": "Atxfer", "Channel": operator, "Exten": "202"})
        assert reply.get_header("Response") == "Success", reply.get_header("Message")
        heard = wait_for(lambda: [m for m in music if m.get("Channel", "").startswith(
            f"Local/92000@{QUEUE_CALLERS}")], 10, what="the caller to hear music")
    assert heard[0]["Class"] == names.MOH_TRANSFER_CLASS
    wait_for(lambda: bed.channels("PJSIP/202-"), 10, what="the transfer target to ring")
    wait_for(lambda: made["202"].process.messages().count("ACK sip:") >= 1, 10,
             what="the transfer target to answer")
    bed.end_talk("201")  # the operator hangs up: the caller and 202 talk
    # The transfer's call to 202 is a Local channel (its ";2" dials 202's phone).
    target = f"Local/202@{names.CONTEXT_PHONES}-"
    wait_for(lambda: any(any(c.startswith(target) for c in b) and any(
        c.startswith(f"Local/92000@{QUEUE_CALLERS}") for c in b) for b in bed.bridges()), 10,
        what="the caller and the transfer target in one bridge")
    assert any(any(c.startswith("PJSIP/202-") for c in b) for b in bed.bridges())
    assert not bed.channels("PJSIP/201-")


def test_an_operator_in_a_call_outside_the_queue_is_offered_only_once_it_ends(bed, phones):
    phone = phones("203")
    online(bed, "203")
    bed.write_plan(Queue(id=1, name="Справки", number="92000", members=("203",)))
    phone.start("uas_answer", calls=2)
    bed.asterisk.rx("channel originate PJSIP/203 application Wait 60")  # a private call
    wait_for(lambda: phone.invites() == 1 and bed.channels("PJSIP/203-"), 10,
             what="the operator's private call")
    bed.call("92000", "w60/h", caller="79990000171")
    bed.record_when("79990000171", lambda r: r["positions"] == [1])
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:  # what must not happen: a queue call on top
        assert phone.invites() == 1 and bed.record("79990000171")["offered_to"] == []
        time.sleep(0.2)
    bed.end_talk("203")
    row = bed.record_when("79990000171", lambda r: r["outcome"] == "answered")
    assert row["answered_phone"] == "203" and phone.invites() == 2
