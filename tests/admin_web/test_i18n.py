"""Russian by default, English on request; the catalogs are complete and compiled."""

from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from tests.admin_web.conftest import csrf_token

TRANSLATIONS = Path(__file__).resolve().parents[2] / "admin_web" / "translations"


def test_switch_to_english_and_back(client, auth):
    auth.login()
    assert "Пользователи" in client.get("/users/").get_data(as_text=True)
    response = client.post("/language/en", data={"next": "/users/",
                                                 "csrf_token": csrf_token(client, "/")})
    assert response.headers["Location"] == "/users/"
    page = client.get("/users/").get_data(as_text=True)
    assert "Users" in page and "Пользователи" not in page and 'lang="en"' in page
    client.post("/language/ru", data={"csrf_token": csrf_token(client, "/")})
    assert "Пользователи" in client.get("/users/").get_data(as_text=True)


def test_the_switch_works_before_login(client):
    client.post("/language/en", data={"csrf_token": csrf_token(client)})
    assert "Log in" in client.get("/auth/login").get_data(as_text=True)


def test_unknown_language_is_404(client):
    assert client.post("/language/xx", data={"csrf_token": csrf_token(client)}).status_code == 404


def test_every_catalog_is_translated_and_its_mo_is_current():
    for po_path in TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"):
        with po_path.open("rb") as f:
            po = read_po(f)
        with po_path.with_suffix(".mo").open("rb") as f:
            mo = read_mo(f)
        untranslated = [m.id for m in po if m.id and not m.string]
        assert not untranslated, f"{po_path}: not translated: {untranslated}"
        assert {m.id: m.string for m in po if m.id} == {m.id: m.string for m in mo if m.id}, \
            f"{po_path.with_suffix('.mo')} is out of date: run pybabel compile"


@pytest.mark.parametrize("language, size, shown", [
    ("ru", 0, "0 Б"), ("ru", 16044, "15,7 КБ"), ("ru", 3 * 1024 * 1024, "3 МБ"),
    ("en", 1023, "1,023 B"), ("en", 16044, "15.7 KB"), ("en", 5 * 1024 ** 4, "5,120 GB")])
def test_file_sizes_are_shown_in_the_admins_language(app, language, size, shown):
    from admin_web.i18n import file_size

    with app.test_request_context():
        from flask import session
        session["language"] = language
        assert file_size(size).replace("\xa0", " ") == shown
