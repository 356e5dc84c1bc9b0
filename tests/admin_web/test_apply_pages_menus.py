"""The Apply page with voice menus: problems and warnings in the admin's language.

Asterisk is the recording fake of test_apply_pages.py.
"""

from tests.admin_web.test_apply_pages import admin, asterisk, include, run_apply  # noqa: F401


def add_menu(db_rows, *items):
    """items: (number, scenario, [(key, target), ...]); the menu is called 'Main'."""
    menu = db_rows("INSERT INTO menus (name) VALUES ('Main') RETURNING id")[0]["id"]
    for number, scenario, keys in items:
        item = db_rows("INSERT INTO menu_items (menu_id, number, kind, scenario)"
                       " VALUES (%s, %s, 'scenario', %s) RETURNING id",
                       (menu, number, scenario))[0]["id"]
        for key, target in keys:
            db_rows("INSERT INTO menu_handlers (item_id, kind, key, target)"
                    " VALUES (%s, 'key', %s, %s) RETURNING id", (item, key, target))


def test_menu_errors_are_listed_in_russian_and_nothing_is_applied(client, admin, asterisk,
                                                                  include, db_rows):
    add_menu(db_rows, ("90000", "repeat_digits", [("1", "55555")]))
    response = run_apply(admin)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert ("меню «Main», пункт 90000, обработчик 1 (клавиша 1)</a>: назначение"
            " 55555 никуда не ведёт") in page
    assert not include.exists() and not db_rows("SELECT 1 FROM revisions")


def test_warnings_do_not_stop_the_apply_and_are_shown(client, admin, asterisk, include, db_rows):
    add_menu(db_rows, ("90000", "repeat_digits", []), ("90001", "callback", []))
    response = run_apply(admin)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "ревизия 1 активна" in page and "Применено с предупреждениями" in page
    assert "меню «Main», пункт 90001</a>: сюда ничто не ведёт звонящих" in page
    assert db_rows("SELECT id FROM revisions WHERE active") == [{"id": 1}]
    assert '"90001"' in (include / "telecenter_ivr.json").read_text()
