"""The History section: newest first, filters, pages."""

from datetime import datetime, timedelta, timezone

import psycopg
import pytest

from admin_web.audit import record_change


@pytest.fixture
def changes(pg_url):
    """Seven changes by two people on two object types, one a day for a week."""
    now = datetime.now(timezone.utc)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        for day in range(7):
            who, kind = ("admin", "phone") if day % 2 else ("boss", "line")
            record_change(conn, who, "update", kind, f"{kind}-{day}", {"n": day}, {"n": day + 1})
            conn.execute("UPDATE change_log SET at = %s WHERE object_id = %s",
                         (now - timedelta(days=day), f"{kind}-{day}"))
    return now


def shown(client, query=""):
    page = client.get(f"/history/{query}").get_data(as_text=True)
    return [f"{k}-{d}" for d in range(7) for k in ("phone", "line") if f"{k} {k}-{d}" in page], page


def test_newest_first(client, auth, changes):
    auth.login("boss")
    ids, page = shown(client)
    assert ids == sorted(ids, key=lambda i: int(i.split("-")[1]))
    assert page.index("line line-0") < page.index("phone phone-1") < page.index("line line-2")


def test_filter_by_user_and_object_type(client, auth, changes):
    auth.login("boss")
    assert shown(client, "?user=admin")[0] == ["phone-1", "phone-3", "phone-5"]
    assert shown(client, "?object_type=line&user=boss")[0] == ["line-0", "line-2", "line-4",
                                                                 "line-6"]


def test_filter_by_period(client, auth, changes):
    auth.login("boss")
    since = (changes - timedelta(days=3)).date().isoformat()
    until = (changes - timedelta(days=2)).date().isoformat()
    assert shown(client, f"?since={since}&until={until}")[0] == ["line-2", "phone-3"]


def test_a_period_ending_before_it_starts_is_explained(client, auth, changes):
    auth.login("boss")
    ids, page = shown(client, "?since=2026-05-02&until=2026-05-01")
    assert ids == [] and "Конец периода раньше его начала." in page


def test_pages(app, client, auth, changes):
    app.config["HISTORY_PAGE_SIZE"] = 3
    auth.login("boss")
    first, page = shown(client)
    assert first == ["line-0", "phone-1", "line-2"] and "1 / 3" in page
    assert shown(client, "?page=3")[0] == ["line-6"]
    assert shown(client, "?user=boss&page=2")[0] == ["line-6"]


def test_a_page_past_the_end_shows_the_last_page(app, client, auth, changes):
    app.config["HISTORY_PAGE_SIZE"] = 3
    auth.login("boss")
    for far in ("4", "99999999999999999999"):
        rows, page = shown(client, f"?page={far}")
        assert rows == ["line-6"] and "3 / 3" in page



def test_rows_show_who_what_and_the_values(client, auth, changes):
    auth.login("boss")
    page = client.get("/history/?user=admin&object_type=phone").get_data(as_text=True)
    assert "phone phone-1" in page and "изменён" in page
    assert "{&#34;n&#34;: 1}" in page and "{&#34;n&#34;: 2}" in page
