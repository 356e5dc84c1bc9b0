"""The live Queues page: who waits (position, time waited, number) and the members' statuses."""

from __future__ import annotations

import datetime
import json
import re
import time

import psycopg
import pytest
from flask_babel import force_locale

from admin_web.queue_live import queues_now, wait_text
from ivr import queue_engine as engine

TODAY = datetime.date(2026, 12, 2)


def office_state(queue_ids: tuple[int, int], now: float) -> engine.QueueState:
    """Queue one: two callers (waiting 2 min 05 s and 40 s), members 101 ringing for the
    first, 102 paused, 103 offline; queue two: 201 talking to someone served before."""
    first, second = queue_ids
    state = engine.QueueState(
        queues=(engine.QueueSettings(first, ring_seconds=300),
                engine.QueueSettings(second, wrap_up_seconds=30)),
        members=(engine.Member("101", frozenset({first}), operator="olga"),
                 engine.Member("102", frozenset({first}), accepting=False, operator="boss"),
                 engine.Member("103", frozenset({first}), registered=False),
                 engine.Member("201", frozenset({second}))))
    state = engine.join(state, "c0", second, "79990000009", now - 600, TODAY).state
    state = engine.answered(state, "c0", "201", now - 590, TODAY).state
    state = engine.join(state, "c1", first, "79990000001", now - 125, TODAY).state
    state = engine.join(state, "c2", first, "", now - 40, TODAY).state
    return state


# The state row as sql/011_queue_state.sql leaves it.
RESET_QUEUE_STATE = "DELETE FROM queue_state; INSERT INTO queue_state (id) VALUES (1)"

@pytest.fixture
def queue_state_table(pg_url):
    """The server's state row, empty before the test (the test writes its own) and put
    back as a fresh database has it afterwards (a server needs the row)."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DELETE FROM queue_state")
    yield
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(RESET_QUEUE_STATE)


@pytest.fixture
def stored(pg_url, queue_state_table, people):
    """Two configured queues and the server's state of them, stored as the server stores it."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        ids = tuple(conn.execute("INSERT INTO queues (name, number) VALUES (%s, %s) RETURNING id",
                                 values).fetchone()[0]
                    for values in (("Приёмная", "92000"), ("Справочная", "92001")))
        state = office_state(ids, time.time())
        conn.execute("INSERT INTO queue_state (id, version, state) VALUES (1, 7, %s)",
                     (json.dumps(engine.to_rows(state)),))
    return ids


def text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_waiting_callers_in_order_and_members_with_their_status(client, auth, stored):
    auth.login("olga")
    page = client.get("/queues/live/").get_data(as_text=True)
    first, second = (text(part.split(">", 1)[1]) for part in page.split("<section ")[1:])
    assert first.startswith("Приёмная 92000 Ждут: 2")
    assert re.search(r"1 2 мин 0[5-7] с 79990000001 101 2 4[0-2] с номер скрыт", first), first
    assert "101 olga звонит 102 boss пауза 103 — не в сети" in first
    assert "Справочная 92001 Ждут: 0" in second and "Никто не ждёт." in second
    assert "201 — разговаривает" in second


def test_the_live_part_refreshes_itself(client, auth, stored):
    auth.login("olga")
    page = client.get("/queues/live/").get_data(as_text=True)
    assert 'data-refresh-url="/queues/live/state" data-refresh-seconds="3"' in page
    part = client.get("/queues/live/state").get_data(as_text=True)
    assert part.lstrip().startswith('<div id="queues-live"')
    assert "<html" not in part and "79990000001" in part


def test_before_the_server_reported_the_configured_queues_show_empty(client, auth,
                                                                      queue_state_table, people,
                                                                      pg_url):
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("INSERT INTO queues (name, number) VALUES ('Приёмная', '92000')")
    auth.login("olga")
    shown = text(client.get("/queues/live/").get_data(as_text=True))
    assert "Сервер ещё не сообщил о состоянии очередей." in shown
    assert "Приёмная 92000 Ждут: 0" in shown


def test_an_operator_finds_the_page_in_the_contact_center(client, auth):
    auth.login("olga")
    page = client.get("/").get_data(as_text=True).split("<main", 1)[0]
    assert 'href="/queues/live/">Очереди сейчас</a>' in page


@pytest.mark.parametrize("seconds, said", [
    (0, "0 с"), (59, "59 с"), (60, "1 мин 00 с"), (125, "2 мин 05 с"), (3599, "59 мин 59 с"),
    (3600, "1 ч 00 мин"), (3 * 3600 + 7 * 60 + 5, "3 ч 07 мин"),
])
def test_waiting_times_read_in_russian(app, seconds, said):
    with app.test_request_context(), force_locale("ru"):
        assert wait_text(seconds) == said


def test_a_queue_the_configuration_lost_is_still_shown(app):
    state = office_state((5, 6), 1000.0)
    with app.test_request_context(), force_locale("ru"):
        shown = queues_now(state, {6: ("Справочная", "92001")}, 1000.0)
    assert [(q.id, q.name) for q in shown] == [(6, "Справочная"), (5, "Очередь № 5")]
    assert [c.position for c in shown[1].waiting] == [1, 2]


def test_a_callback_entry_is_shown_in_its_place(client, auth, queue_state_table, people,
                                                 pg_url):
    """A caller who pressed the callback key and hung up still holds their place."""
    now = time.time()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        queue_id = conn.execute("INSERT INTO queues (name, number) VALUES ('Приёмная', '92000')"
                                " RETURNING id").fetchone()[0]
        state = engine.QueueState(queues=(engine.QueueSettings(queue_id),), members=(
            engine.Member("101", frozenset({queue_id}), in_call=True),))
        state = engine.join(state, "c1", queue_id, "79990000001", now - 60, TODAY).state
        state = engine.join(state, "c2", queue_id, "79990000002", now - 30, TODAY).state
        state = engine.keep_for_callback(state, "c1", 5, now - 20).state
        state = engine.hung_up(state, "c1", now - 19).state
        conn.execute("INSERT INTO queue_state (id, version, state) VALUES (1, 7, %s)",
                     (json.dumps(engine.to_rows(state)),))
    auth.login("olga")
    auth.post("/language/en")
    shown = text(client.get("/queues/live/").get_data(as_text=True))
    assert re.search(r"1 1 min 0\d s 79990000001 callback 2 3\d s 79990000002", shown), shown
