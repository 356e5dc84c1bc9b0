"""The Apply section: access, CSRF, problems and failures on the page, revisions, diff, rollback.

Asterisk is the recording fake of tests/dialplan/test_apply.py (put in place
of the AMI connection), or an AMI port nobody listens on.
"""

import re
import socket
from pathlib import Path

import pytest

from dialplan import apply as applying
from tests.admin_web.conftest import PASSWORD
from tests.dialplan.test_apply import FakeAsterisk


class ClosableFake(FakeAsterisk):
    def close(self) -> None:
        pass


@pytest.fixture
def admin(auth):
    auth.login()
    return auth


@pytest.fixture
def include(app):
    return Path(app.config["VAR_DIR"]) / "asterisk" / "include"


@pytest.fixture
def asterisk(monkeypatch, include):
    """The fake Asterisk every Apply of this test talks to."""
    fake = ClosableFake(include)
    monkeypatch.setattr(applying, "RELOAD_SETTLE_SECONDS", 0)
    monkeypatch.setattr(applying.AmiAsterisk, "from_settings", classmethod(lambda cls, s: fake))
    return fake


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def add_phone(admin, number):
    return admin.post("/phones/new", {"number": number, "kind": "simple"},
                      form_page="/phones/new")


def run_apply(admin):
    return admin.post("/apply/run", form_page="/apply/")


@pytest.mark.parametrize("login", ["olga", "boss"])
@pytest.mark.parametrize("url", ["/apply/", "/apply/diff?a=1&b=2"])
def test_operators_and_managers_get_403(client, auth, login, url):
    auth.login(login, PASSWORD)
    assert client.get(url).status_code == 403


def test_operators_cannot_apply(client, auth):
    auth.login("olga", PASSWORD)
    assert auth.post("/apply/run").status_code == 403


def test_a_post_without_csrf_token_is_refused(client, admin, asterisk, db_rows):
    assert client.post("/apply/run").status_code == 400
    assert asterisk.calls == [] and not db_rows("SELECT 1 FROM revisions")


def test_apply_refused_lists_the_problems_and_writes_nothing(client, admin, asterisk, include,
                                                            db_rows):
    db_rows("INSERT INTO lines (name, host, inbound_number) VALUES ('prov1', 'h1', '555')"
            " RETURNING id")
    response = run_apply(admin)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Применение отклонено" in page and "входящего номера 555 не существует" in page
    assert not include.exists() and asterisk.calls == []
    assert not db_rows("SELECT 1 FROM revisions")


def test_unreachable_ami_fails_on_the_page_and_writes_nothing(app, client, admin, include,
                                                             db_rows):
    app.config["TELECENTER_SETTINGS"] = app.config["TELECENTER_SETTINGS"].but(
        ami_host="127.0.0.1", ami_port=free_port(), ami_user="nobody", ami_secret="nothing")
    response = run_apply(admin)
    page = response.get_data(as_text=True)
    assert response.status_code == 502
    assert "Применение не удалось" in page and "Asterisk недоступен, ничего не изменено" in page
    assert not include.exists()
    assert not db_rows("SELECT 1 FROM revisions")


def test_apply_then_diff_then_rollback(client, admin, asterisk, include, db_rows):
    add_phone(admin, "101")
    response = run_apply(admin)
    assert response.status_code == 302
    assert "ревизия 1 активна" in client.get("/apply/").get_data(as_text=True)
    add_phone(admin, "102")
    assert run_apply(admin).status_code == 302
    assert "[102]" in (include / "pjsip_telecenter_internal.conf").read_text()

    page = client.get("/apply/").get_data(as_text=True)
    assert re.search(r"<td>2</td>\s*<td>admin</td>", page) and "активна" in page

    page = client.get("/apply/diff?a=1&b=2").get_data(as_text=True)
    assert "revision 1/" in page and "revision 2/" in page and "+[102]" in page
    assert "совпадают" in client.get("/apply/diff?a=2&b=2").get_data(as_text=True)
    assert client.get("/apply/diff?a=1&b=99").status_code == 404

    response = admin.post("/apply/rollback/1", form_page="/apply/")
    assert response.status_code == 302
    revisions = db_rows("SELECT id, created_by, rollback_of, active FROM revisions ORDER BY id")
    assert revisions[-1] == {"id": 3, "created_by": "admin", "rollback_of": 1, "active": True}
    assert "[102]" not in (include / "pjsip_telecenter_internal.conf").read_text()
    assert "откат к 1" in client.get("/apply/").get_data(as_text=True)
    actions = [r["action"] for r in db_rows("SELECT action FROM change_log"
                                            " WHERE object_type = 'revision' ORDER BY id")]
    assert actions == ["apply", "apply", "rollback"]


def test_rollback_to_an_unknown_revision_is_404(admin, asterisk):
    assert admin.post("/apply/rollback/42", form_page="/apply/").status_code == 404
