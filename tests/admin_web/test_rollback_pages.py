"""The Roll back button: what it asks, what it restores, how it refuses (in Russian).

Asterisk is the recording fake of tests/dialplan/test_apply.py; the real
one, SIPp and a browser are in test_rollback_asterisk.py.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from tests.admin_web.test_apply_pages import add_phone, asterisk, include, run_apply  # noqa: F401


@pytest.fixture
def admin(auth):
    auth.login()
    return auth


def confirmations(page: str) -> dict[int, str]:
    """Revision id -> the question its Roll back button asks."""
    found = re.findall(r'action="/apply/rollback/(\d+)"[^>]*data-confirm="([^"]*)"', page)
    return {int(revision): html.unescape(question) for revision, question in found}


def test_roll_back_says_what_comes_back_restores_it_and_records_it(client, admin, asterisk,
                                                                  db_rows):
    add_phone(admin, "101")
    assert run_apply(admin).status_code == 302
    add_phone(admin, "102")
    db_rows("UPDATE tts_settings SET engine = 'espeak' RETURNING id")
    assert run_apply(admin).status_code == 302

    questions = confirmations(client.get("/apply/").get_data(as_text=True))
    assert set(questions) == {1}  # not the active revision
    assert questions[1].startswith(
        "Откатить к ревизии 1? Её телефоны, линии, меню, очереди, записи,")
    assert "изменений: 2 — удалён телефон 102; изменены настройки синтеза речи" in questions[1]

    response = admin.post("/apply/rollback/1", form_page="/apply/")
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Откат к ревизии 1: её конфигурация восстановлена и применена как ревизия 3." in page
    phones = client.get("/phones/").get_data(as_text=True)
    assert ">101</a>" in phones and ">102</a>" not in phones
    assert db_rows("SELECT engine FROM tts_settings") == [{"engine": "festival"}]
    assert "[102]" not in asterisk.served["pjsip_telecenter_internal.conf"]
    log = db_rows("SELECT user_login, object_type, object_id FROM change_log"
                  " WHERE action = 'rollback' ORDER BY id")
    assert log == [{"user_login": "admin", "object_type": "tts settings", "object_id": ""},
                   {"user_login": "admin", "object_type": "phone", "object_id": "102"},
                   {"user_login": "admin", "object_type": "revision", "object_id": "3"}]
    # Nothing waits for Apply: the configuration is what revision 3 serves.
    assert "Изменений нет: конфигурация совпадает с активной ревизией." in client.get(
        "/apply/").get_data(as_text=True)


def test_a_rollback_whose_recording_is_gone_lists_the_problem_and_changes_nothing(
        app, client, admin, asterisk, db_rows):
    audio = db_rows("INSERT INTO audio_files (name, duration_ms, size_bytes)"
                    " VALUES ('Приветствие', 1000, 4) RETURNING id")[0]["id"]
    audio_dir = Path(app.config["VAR_DIR"]) / "audio"
    audio_dir.mkdir(parents=True)
    (audio_dir / f"{audio}.wav").write_bytes(b"RIFF")
    menu = db_rows("INSERT INTO menus (name) VALUES ('Main') RETURNING id")[0]["id"]
    db_rows("INSERT INTO menu_items (menu_id, number, kind, audio_id) VALUES (%s, '90000',"
            " 'audio', %s) RETURNING id", (menu, audio))
    assert run_apply(admin).status_code == 302
    db_rows("DELETE FROM menus RETURNING id")
    db_rows("DELETE FROM audio_files RETURNING id")
    (audio_dir / f"{audio}.wav").unlink()
    assert run_apply(admin).status_code == 302

    response = admin.post("/apply/rollback/1", form_page="/apply/")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Откат к ревизии 1 отклонён: в её конфигурации есть эти проблемы." in page
    assert "нет записи на диске: загрузите его снова" in page, page
    assert db_rows("SELECT count(*) AS n FROM menus") == [{"n": 0}]
    assert db_rows("SELECT id FROM revisions WHERE active") == [{"id": 2}]
    assert not db_rows("SELECT 1 FROM change_log WHERE action = 'rollback'")


def test_a_revision_that_kept_no_configuration_cannot_be_rolled_back_to(client, admin, asterisk,
                                                                         db_rows):
    add_phone(admin, "101")
    assert run_apply(admin).status_code == 302
    add_phone(admin, "102")
    assert run_apply(admin).status_code == 302
    db_rows("UPDATE revisions SET configuration = NULL WHERE id = 1 RETURNING id")

    page = client.get("/apply/").get_data(as_text=True)
    assert confirmations(page) == {} and "конфигурация не сохранена, откат невозможен" in page
    response = admin.post("/apply/rollback/1", form_page="/apply/")
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert ("Ревизия 1 создана до того, как ревизии стали хранить конфигурацию, поэтому её"
            " нельзя восстановить. Ничего не изменено.") in page
    assert [r["number"] for r in db_rows("SELECT number FROM phones ORDER BY number")] == [
        "101", "102"]
    assert db_rows("SELECT id FROM revisions WHERE active") == [{"id": 2}]
