"""Robocalls with real parts: real Asterisk, the real server, SIPp as the provider.

One bed for the module: an Asterisk with Telecenter's rendered files (two
external lines: ``prov`` to the SIPp provider on 127.0.0.2, ``down`` to a
port there nothing listens on), ``telecenter serve`` with a short poll and
lease, a database of its own.  The provider answers by the number dialled
(tests/testbed/provider.py).  Each test starts with the dialer off and no
tasks, sets what it needs, and switches it on.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import dict_row

from dialplan.configuration import Configuration, TtsSettings
from dialplan.instance import AsteriskInstance
from dialplan.render import render_all, write_files
from fastagi.settings import Settings
from ivr.tts import ESPEAK, cached_by_any
from tests.conftest import new_database, require
from tests.testbed.agi_server import AgiServer
from tests.testbed.callers import ami_session, wait_for
from tests.testbed.ports import free_port
from tests.testbed.provider import ANSWER, BUSY, LATE, RING, Provider, number

pytestmark = [pytest.mark.asterisk, pytest.mark.sipp]

DOWN = "7800"  # numbers the line to the provider that is not running takes
TTS = TtsSettings(engine=ESPEAK)
SERVER_NAME = "dialer-test"


@dataclass
class DialerBed:
    asterisk: AsteriskInstance
    server: AgiServer
    provider: Provider
    db_url: str
    tts_cache: Path

    @contextmanager
    def db(self):
        with psycopg.connect(self.db_url, autocommit=True, row_factory=dict_row) as conn:
            yield conn

    def settings(self, **values) -> None:
        with self.db() as conn:
            for column, value in values.items():
                conn.execute(f"UPDATE dialer_settings SET {column} = %s", (value,))

    def add(self, phone: str, text: str = "Ваше дело готово", priority: int = 100,
            not_before: datetime | None = None, call_now: bool = False) -> int:
        with self.db() as conn:
            return conn.execute(
                "INSERT INTO robocall_tasks (phone, text, priority, not_before, next_try_at,"
                " call_now) VALUES (%s, %s, %s, %s, coalesce(%s, now()), %s) RETURNING id",
                (phone, text, priority, not_before, not_before, call_now)).fetchone()["id"]

    def task(self, task_id: int) -> dict:
        with self.db() as conn:
            return conn.execute("SELECT * FROM robocall_tasks WHERE id = %s",
                                (task_id,)).fetchone()

    def attempts(self, task_id: int) -> list[dict]:
        with self.db() as conn:
            return conn.execute("SELECT * FROM robocall_attempts WHERE task_id = %s ORDER BY id",
                                (task_id,)).fetchall()

    def attempts_when(self, task_id: int, predicate, timeout: float = 30, what: str = ""
                      ) -> list[dict]:
        def check():
            rows = self.attempts(task_id)
            return rows if predicate(rows) else None
        try:
            return wait_for(check, timeout, what=what or f"the attempts of task {task_id}")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.attempts(task_id)}\n"
                                 f"{self.server.log_text()[-3000:]}") from None

    def ended(self, task_id: int, count: int = 1, timeout: float = 30) -> list[dict]:
        """The task's attempts once ``count`` of them have an outcome."""
        return self.attempts_when(
            task_id, lambda rows: len(rows) >= count and all(r["outcome"] for r in rows[:count]),
            timeout, f"{count} finished attempts of task {task_id}")

    def task_when(self, task_id: int, predicate, timeout: float = 30, what: str = "") -> dict:
        return wait_for(lambda: (lambda row: row if predicate(row) else None)(self.task(task_id)),
                        timeout, what=what or f"task {task_id}")

    def said(self, call_id: int) -> list[str]:
        with self.db() as conn:
            return [r["detail"] for r in conn.execute(
                "SELECT detail FROM call_events WHERE call_id = %s AND kind = 'say' ORDER BY seq",
                (call_id,))]

    def line_channels(self) -> list[str]:
        """The robocalls' channels Asterisk has now."""
        out = self.asterisk.rx("core show channels concise")
        return [line.split("!")[0] for line in out.splitlines() if line.startswith("PJSIP/line-")]

    def idle(self) -> None:
        self.settings(enabled=False)
        self.asterisk.rx("channel request hangup all")
        wait_for(lambda: not self.line_channels(), 15, what="every robocall to end")
        with self.db() as conn:
            wait_for(lambda: conn.execute("SELECT count(*) AS n FROM robocall_tasks"
                                          " WHERE attempt_started_at IS NOT NULL"
                                          ).fetchone()["n"] == 0, 15,
                     what="every attempt to be logged")
            conn.execute("DELETE FROM robocall_attempts")
            conn.execute("DELETE FROM robocall_tasks")


def sample_channels(asterisk: AsteriskInstance, stop: threading.Event, seen: list[int]) -> None:
    """Count the robocalls' channels in AMI's CoreShowChannels list until ``stop``."""
    listed: list[str] = []
    complete = threading.Event()

    def on_channel(event, _manager):
        listed.append(event.get_header("Channel", ""))

    def on_complete(_event, _manager):
        complete.set()

    with ami_session(asterisk) as manager:
        manager.register_event("CoreShowChannel", on_channel)
        manager.register_event("CoreShowChannelsComplete", on_complete)
        while not stop.is_set():
            listed.clear()
            complete.clear()
            manager.send_action({"Action": "CoreShowChannels"})
            if complete.wait(5):
                seen.append(len([c for c in listed if c.startswith("PJSIP/line-")]))
            stop.wait(0.05)


@contextmanager
def channel_counts(asterisk: AsteriskInstance):
    """The robocalls' channel counts AMI listed while the block ran, sample by sample."""
    seen: list[int] = []
    stop = threading.Event()
    sampler = threading.Thread(target=sample_channels, args=(asterisk, stop, seen))
    sampler.start()
    try:
        yield seen
    finally:
        stop.set()
        sampler.join(10)


@pytest.fixture(scope="module")
def bed(tmp_path_factory, pg_url):
    require("asterisk", "sipp", "espeak-ng")
    root = tmp_path_factory.mktemp("dialer-bed")
    provider = Provider(root / "provider")
    agi_port = free_port()
    instance = AsteriskInstance(root=root / "asterisk", include_dir=root / "include",
                                sip_port=free_port(), ami_port=free_port(),
                                rtp_start=free_port())
    instance.rtp_end = instance.rtp_start + 200
    settings = Settings(var_dir=root / "var", agi_port=agi_port,
                        include_dir_override=instance.include_dir)
    config = Configuration(lines=(
        provider.line("prov", r"^790[1-5][0-9]{7}$", position=0, line_id=1),
        Provider.down_line("down", r"^7800[0-9]{7}$", position=1, line_id=2),
    ), tts=TTS)
    write_files(Path(instance.include_dir), render_all(settings, config, revision=1))
    provider.start()
    try:
        with new_database(pg_url, "telecenter_dialer_e2e") as url:
            instance.write_config()
            instance.start()
            server = AgiServer(agi_port, root / "var", {
                "DATABASE_URL": url, "TELECENTER_INCLUDE_DIR": str(instance.include_dir),
                "TELECENTER_SIP_TRUSTED": "127.0.0.0/8", "TELECENTER_SHUTDOWN_GRACE": "1",
                "TELECENTER_AMI_PORT": str(instance.ami_port),
                "TELECENTER_AMI_USER": instance.ami_user,
                "TELECENTER_AMI_SECRET": instance.ami_secret,
                "TELECENTER_SERVER_NAME": SERVER_NAME,
                "TELECENTER_DIALER_POLL": "0.5", "TELECENTER_DIALER_LEASE": "20"})
            dialer_bed = DialerBed(instance, server, provider, url, settings.tts_cache_dir)
            dialer_bed.settings(enabled=False)
            server.start()
            try:
                yield dialer_bed
            finally:
                server.stop()
                instance.stop()
    finally:
        provider.stop()


@pytest.fixture
def dialer(bed):
    """The bed with the dialer's usual test settings (still off), emptied afterwards."""
    bed.settings(enabled=False, max_lines=2, retry_minutes=30, give_up_no_answers=3,
                 give_up_failures=3, ring_seconds=5, window_start="00:00",
                 window_end="23:59:59", schedule_id=None)
    yield bed
    if bed.server.process is None or bed.server.process.poll() is not None:
        bed.server.start()
    bed.idle()


def test_an_answered_robocall_says_the_text_made_before_dialling(dialer):
    text = "Ваше дело номер 17 готово"
    phone = number(ANSWER, 1)
    task = dialer.add(phone, text)
    dialer.settings(enabled=True)

    attempt, = dialer.ended(task)
    assert attempt["outcome"] == "answered" and attempt["line"] == "prov"
    assert attempt["started_at"] <= attempt["dialed_at"] <= attempt["answered_at"] \
        <= attempt["ended_at"]
    row = dialer.task(task)
    assert row["done_at"] is not None and row["outcome"] == "answered"
    assert (row["attempts"], row["answered"]) == (1, 1)
    # The call record shows the text said.
    assert attempt["call_id"] is not None and dialer.said(attempt["call_id"]) == [text]
    call, = dialer.provider.calls(phone)
    assert call.answered_at and call.ended_by == "bye"
    # The speech was made before the number was dialled, not while the callee listened.
    speech = cached_by_any(text, TTS, dialer.tts_cache)
    assert speech is not None and speech.stat().st_mtime < call.arrived


def test_no_answer_is_logged_and_tried_again_later(dialer):
    phone = number(RING, 1)
    task = dialer.add(phone)
    dialer.settings(enabled=True)

    attempt, = dialer.ended(task, timeout=20)
    assert attempt["outcome"] == "no_answer" and attempt["answered_at"] is None
    call, = dialer.provider.calls(phone)
    assert call.ended_by == "cancel" and 4 <= call.ended_at - call.arrived <= 8
    row = dialer.task(task)
    assert row["done_at"] is None and (row["no_answers"], row["failures"]) == (1, 0)
    assert row["next_try_at"] > datetime.now(timezone.utc) + timedelta(minutes=29)


def test_busy_counts_as_a_no_answer(dialer):
    task = dialer.add(number(BUSY, 1))
    dialer.settings(enabled=True)
    attempt, = dialer.ended(task)
    assert attempt["outcome"] == "busy"
    assert dialer.task(task)["no_answers"] == 1


def test_a_provider_that_is_not_running_is_a_technical_failure(dialer):
    task = dialer.add(f"{DOWN}0000001")
    dialer.settings(enabled=True)
    attempt, = dialer.ended(task, timeout=45)
    assert attempt["outcome"] in ("unreachable", "failed", "congestion"), attempt
    assert attempt["line"] == "down" and attempt["answered_at"] is None
    row = dialer.task(task)
    assert (row["failures"], row["no_answers"], row["done_at"]) == (1, 0, None)


def test_with_the_window_closed_only_a_call_now_task_is_dialled(dialer):
    now = datetime.now(timezone.utc)
    closed_from = (now + timedelta(hours=2)).time().replace(microsecond=0)
    opens = min(closed_from, (now - timedelta(hours=3)).time().replace(microsecond=0))
    shut = max(closed_from, (now - timedelta(hours=3)).time().replace(microsecond=0))
    if opens <= now.time() < shut:  # around midnight: a window that ends before now
        opens, shut = (now + timedelta(hours=1)).time(), (now + timedelta(hours=2)).time()
    dialer.settings(window_start=opens, window_end=shut)
    waiting = dialer.add(number(BUSY, 2), priority=0)
    asked = dialer.add(number(BUSY, 3), priority=900, call_now=True)
    dialer.settings(enabled=True)

    dialer.ended(asked)
    assert dialer.attempts(waiting) == [] and dialer.provider.calls(number(BUSY, 2)) == []
    dialer.settings(window_start="00:00", window_end="23:59:59")
    assert dialer.ended(waiting)[0]["outcome"] == "busy"


def test_a_task_is_not_dialled_before_its_not_before(dialer):
    not_before = datetime.now(timezone.utc) + timedelta(seconds=3)
    task = dialer.add(number(BUSY, 4), not_before=not_before)
    dialer.settings(enabled=True)
    attempt, = dialer.ended(task)
    assert attempt["started_at"] >= not_before
    call, = dialer.provider.calls(number(BUSY, 4))
    assert call.arrived >= not_before.timestamp()


def test_tasks_are_dialled_in_priority_order(dialer):
    dialer.settings(max_lines=1)
    by_priority = {5: number(BUSY, 15), 0: number(BUSY, 10), 3: number(BUSY, 13)}
    tasks = {dialer.add(phone, priority=p): phone for p, phone in by_priority.items()}
    dialer.settings(enabled=True)
    for task in tasks:
        dialer.ended(task)
    calls = dialer.provider.calls(BUSY + "00000")
    assert [c.number for c in calls if c.number in tasks.values()] == \
        [by_priority[0], by_priority[3], by_priority[5]]


def test_five_due_tasks_on_two_lines_never_make_more_than_two_calls_at_once(dialer):
    dialer.settings(max_lines=2)
    phones = [number(ANSWER, 20 + i) for i in range(5)]
    tasks = [dialer.add(phone, "Проверка связи, до свидания") for phone in phones]
    with channel_counts(dialer.asterisk) as seen:
        dialer.settings(enabled=True)
        for task in tasks:
            dialer.task_when(task, lambda row: row["done_at"] is not None, timeout=60,
                             what=f"task {task} to be answered")
    assert all(dialer.task(t)["outcome"] == "answered" for t in tasks)
    assert max(seen) == 2, f"AMI samples: {seen}"
    calls = [c for c in dialer.provider.calls() if c.number in phones]
    assert len(calls) == 5
    for call in calls:  # the provider too never had three calls at once
        overlapping = [o for o in calls if o.arrived <= call.arrived < (o.ended_at or 1e12)]
        assert len(overlapping) <= 2, calls


def test_give_up_counts_are_honoured(dialer):
    dialer.settings(give_up_no_answers=2, give_up_failures=1)
    busy = dialer.add(number(BUSY, 30))
    down = dialer.add(f"{DOWN}0000030")
    dialer.settings(enabled=True)
    dialer.ended(busy)
    with dialer.db() as conn:  # the retry interval is over
        conn.execute("UPDATE robocall_tasks SET next_try_at = now() WHERE id = %s", (busy,))
    row = dialer.task_when(busy, lambda r: r["done_at"] is not None)
    assert (row["outcome"], row["no_answers"], row["attempts"]) == ("gave_up_no_answer", 2, 2)
    assert len(dialer.provider.calls(number(BUSY, 30))) == 2
    row = dialer.task_when(down, lambda r: r["done_at"] is not None, timeout=45)
    assert (row["outcome"], row["failures"], row["attempts"]) == ("gave_up_failures", 1, 1)


def test_a_server_killed_mid_attempt_is_retried_once_never_twice_at_once(dialer):
    phone = number(LATE, 1)
    task = dialer.add(phone)
    dialer.settings(enabled=True)
    dialer.provider.wait_for_calls(lambda calls: calls, number_prefix=phone,
                                   what="the provider to ring")
    dialer.server.process.kill()  # SIGKILL: no goodbye, the claim stays in the database
    dialer.server.process.wait()
    dialer.server.start()

    row = dialer.task_when(task, lambda r: r["done_at"] is not None, timeout=40)
    assert row["outcome"] == "answered" and row["attempts"] == 2
    attempts = dialer.attempts(task)
    assert [a["outcome"] for a in attempts] == ["interrupted", "answered"]
    first, second = dialer.provider.calls(phone)
    assert first.ended_at is not None and first.ended_at <= second.arrived


def test_two_servers_on_one_database_share_the_lines_without_exceeding_them(dialer, tmp_path):
    second = AgiServer(free_port(), tmp_path / "second", {
        **dialer.server.env, "TELECENTER_SERVER_NAME": SERVER_NAME + "-2"})
    second.start()
    try:
        dialer.settings(max_lines=2)
        phones = [number(ANSWER, 40 + i) for i in range(6)]
        tasks = [dialer.add(phone, "Проверка связи") for phone in phones]
        with channel_counts(dialer.asterisk) as seen:
            dialer.settings(enabled=True)
            for task in tasks:
                dialer.task_when(task, lambda row: row["done_at"] is not None, timeout=60,
                                 what=f"task {task} to be answered")
        assert max(seen) == 2, f"AMI samples: {seen}"
        calls = [c for c in dialer.provider.calls() if c.number in phones]
        assert len(calls) == 6  # each task dialled once
        # Which server wins each claim is a race (the first may take them all); with the
        # first one gone, the second dials from the same database too.
        dialer.server.stop()
        last = dialer.add(number(ANSWER, 46), "Проверка связи")
        dialer.task_when(last, lambda row: row["done_at"] is not None, timeout=60,
                         what="the second server to dial the task added after the first stopped")
        with dialer.db() as conn:
            servers = {r["server"] for r in conn.execute(
                "SELECT server FROM robocall_attempts WHERE task_id = ANY(%s)", (tasks,))}
            [last_server] = [r["server"] for r in conn.execute(
                "SELECT server FROM robocall_attempts WHERE task_id = %s", (last,))]
        assert servers <= {SERVER_NAME, SERVER_NAME + "-2"}, servers
        assert last_server == SERVER_NAME + "-2"
    finally:
        second.stop()
