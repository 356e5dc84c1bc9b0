"""The operator's header: the queue-calls toggle, the bound phone, the code to bind one."""

from __future__ import annotations

import re

import psycopg
import pytest

from ivr import operators

BAR = re.compile(r'<div id="operator-bar".*?</div>\s*</div>\s*</div>', re.S)


def bar(client, url: str = "/") -> str:
    page = client.get(url).get_data(as_text=True)
    found = BAR.search(page)
    assert found, "no operator bar on the page"
    return found.group(0)


def text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


@pytest.fixture
def olga(pg_url):
    """Olga's id and bind code."""
    with psycopg.connect(pg_url) as conn:
        return conn.execute("SELECT id, bind_code FROM users WHERE login = 'olga'").fetchone()


def bind(pg_url, code: str, phone: str) -> None:
    """What dialling 1*<code> from ``phone`` does."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        operators.bind_phone(conn, code, phone)


def test_an_unbound_operator_is_told_what_to_dial(client, auth, olga):
    auth.login("olga")
    shown = text(bar(client))
    assert "Принимать вызовы из очереди" in shown
    assert f"Привязать Наберите 1*{olga[1]} с вашего телефона" in shown
    assert 'id="accepting" name="accepting"\n               value="1" data-submit-on-change checked' \
        in bar(client)


def test_a_phone_bound_from_the_phone_shows_on_the_next_page(client, auth, olga, pg_url):
    auth.login("olga")
    bind(pg_url, olga[1], "101")
    shown = text(bar(client, "/callbacks/"))
    assert "Телефон: 101. Отвязать" in shown and "Наберите" not in shown


def test_unbinding_from_the_header(client, auth, olga, pg_url):
    auth.login("olga")
    bind(pg_url, olga[1], "101")
    reply = auth.post("/operator/unbind", {"next": "/callbacks/"})
    assert reply.status_code == 302 and reply.location == "/callbacks/"
    assert "Наберите" in text(bar(client))


def test_the_toggle_stops_and_resumes_queue_calls(client, auth, olga, pg_url):
    auth.login("olga")
    auth.post("/operator/accepting", {"next": "/"})  # the box unticked: nothing sent
    with psycopg.connect(pg_url) as conn:
        assert operators.presence(conn, olga[0]).accepting is False
        assert 'data-submit-on-change>' in bar(client)
        auth.post("/operator/accepting", {"accepting": "1", "next": "/"})
        assert operators.presence(conn, olga[0]).accepting is True


def test_changes_need_the_forms_token_and_a_login(client, auth, olga, pg_url):
    assert client.post("/operator/unbind", data={}).status_code in (302, 400, 401)
    auth.login("olga")
    assert client.post("/operator/accepting", data={}).status_code == 400
    assert client.post("/operator/unbind", data={}).status_code == 400
    with psycopg.connect(pg_url) as conn:
        assert operators.presence(conn, olga[0]).accepting is True


def test_going_back_never_leaves_the_site(client, auth):
    auth.login("olga")
    reply = auth.post("/operator/accepting", {"accepting": "1", "next": "https://evil.example/"})
    assert reply.location == "/"


def test_the_fragment_refreshes_only_while_unbound(client, auth, olga, pg_url):
    auth.login("olga")
    fragment = client.get("/operator/bar?next=/callbacks/").get_data(as_text=True)
    assert 'data-refresh-url="/operator/bar?next=/callbacks/"' in fragment
    assert 'name="next" value="/callbacks/"' in fragment
    bind(pg_url, olga[1], "101")
    fragment = client.get("/operator/bar?next=/callbacks/").get_data(as_text=True)
    assert "data-refresh-url" not in fragment and "Телефон: 101." in fragment


def test_visitors_see_no_operator_bar(client):
    assert 'id="operator-bar"' not in client.get("/auth/login").get_data(as_text=True)
