"""The demo's configuration: the seed's example voice menu, and people with cases to ask about.

``load_demo_configuration`` fills a fresh database so that ``telecenter
demo`` answers 90000 with a working menu at once::

    90000  main menu (TTS)   0 -> 90000 again, 1 -> 91000, 2 -> 92000, 3 -> 93000,
                             15 s of silence -> 92000
    91000  cases (TTS)       1 -> 91100, 2 -> 91200
    91100  "enter the case number" (TTS): the sequence [0-9*]+# -> 91110
           (the seed's "*[0-9]*#" is no valid regex; this is what it means:
           digits, '*' between the parts of a number, '#' to end)
    91110  scenario case_status: says the status of the typed case
    91200  scenario open_cases: reads the caller's open cases
    92000  "operators are busy" (TTS), 3 -> 93000, 5 s of silence hangs up
    93000  scenario callback: orders a callback to the caller's number

In the seed 92000 is the operators' queue.  There are no queues yet, so
92000 is a placeholder menu item that says the operators are busy and
offers a callback; once queues exist, delete this item and give the queue
its number.

The people and their cases (``DEMO_PERSONS``) are loaded only into empty
``persons`` and ``cases`` tables, so demo data never mixes with people
from a host information system.  Everything is inserted in one
transaction with parameters; nothing happens when any menu exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from psycopg import Connection
from psycopg.rows import tuple_row

DEMO_MENU_NAME = "Тестовое меню"
DEMO_CALLER = "79990000001"         # has two open cases and a closed one
DEMO_CASE_NUMBER = "19-03-2044"     # open, status DEMO_CASE_STATUS
DEMO_CASE_STATUS = "готово к выдаче"


@dataclass(frozen=True)
class DemoItem:
    number: str
    kind: str  # tts | scenario
    text: str = ""
    scenario: str = ""
    # (kind, key or seconds or pattern, target), in the order they are tried
    handlers: tuple[tuple[str, str | int, str], ...] = ()


DEMO_ITEMS = (
    DemoItem("90000", "tts",
             "Здравствуйте. Для получения информации о делах нажмите единицу. Для консультации"
             " с оператором нажмите двойку или оставайтесь на линии. Для заказа обратного"
             " звонка нажмите тройку. Для повторного прослушивания нажмите ноль.",
             handlers=(("key", "0", "90000"), ("key", "1", "91000"), ("timeout", 15, "92000"),
                       ("key", "2", "92000"), ("key", "3", "93000"))),
    DemoItem("91000", "tts",
             "Чтобы узнать статус конкретного дела нажмите единицу. Чтобы прослушать список"
             " дел в работе нажмите двойку.",
             handlers=(("key", "1", "91100"), ("key", "2", "91200"))),
    DemoItem("91100", "tts",
             "Введите номер дела. Используйте звёздочку как разделитель. Решётка означает"
             " окончание ввода.",
             handlers=(("sequence", r"[0-9*]+#", "91110"),)),
    DemoItem("91110", "scenario", scenario="case_status"),
    DemoItem("91200", "scenario", scenario="open_cases"),
    DemoItem("92000", "tts",
             "Все операторы сейчас заняты. Чтобы заказать обратный звонок, нажмите тройку.",
             handlers=(("key", "3", "93000"), ("timeout", 5, ""))),
    DemoItem("93000", "scenario", scenario="callback"),
)

# (full name, first name, phone, [(case number, service, status, open, filed on)])
DEMO_PERSONS = (
    ("Иванов Иван Иванович", "Иван", DEMO_CALLER, [
        ("19-03-1756", "Выдача справки об отсутствии судимости", "на рассмотрении в ведомстве",
         True, date(2026, 2, 10)),
        (DEMO_CASE_NUMBER, "Государственная регистрация ИП и ЮЛ", DEMO_CASE_STATUS,
         True, date(2026, 3, 12)),
        ("18-11-0042", "Замена паспорта", "выдано заявителю", False, date(2025, 11, 5)),
    ]),
    ("Петрова Мария Сергеевна", "Мария", "79990000002", [
        ("20-01-0310", "Получение СНИЛС", "принято к рассмотрению", True, date(2026, 1, 20)),
    ]),
    ("Сидоров Пётр Андреевич", "Пётр", "79990000003", []),  # nobody's cases: none open
)


def load_demo_configuration(conn: Connection) -> bool:
    """Insert the demo menu (and, into empty tables, the demo people and cases).

    False, with nothing changed, when the database already has a menu.
    ``conn`` may be in autocommit mode or not; the work is one transaction.
    """
    with conn.transaction(), conn.cursor(row_factory=tuple_row) as cur:
        cur.execute("LOCK TABLE menus IN EXCLUSIVE MODE")  # two loads at once insert once
        if cur.execute("SELECT EXISTS (SELECT 1 FROM menus)").fetchone()[0]:
            return False
        _insert_menu(cur)
        people = cur.execute("SELECT EXISTS (SELECT 1 FROM persons)"
                             " OR EXISTS (SELECT 1 FROM cases)").fetchone()[0]
        if not people:
            _insert_people(cur)
    return True


def _insert_menu(cur) -> None:
    menu_id = cur.execute("INSERT INTO menus (name) VALUES (%s) RETURNING id",
                          (DEMO_MENU_NAME,)).fetchone()[0]
    for item in DEMO_ITEMS:
        item_id = cur.execute(
            "INSERT INTO menu_items (menu_id, number, kind, text, scenario)"
            " VALUES (%s, %s, %s, %s, %s) RETURNING id",
            (menu_id, item.number, item.kind, item.text, item.scenario)).fetchone()[0]
        for position, (kind, value, target) in enumerate(item.handlers):
            cur.execute(
                "INSERT INTO menu_handlers (item_id, kind, key, seconds, pattern, target,"
                " position) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (item_id, kind, value if kind == "key" else "",
                 value if kind == "timeout" else None, value if kind == "sequence" else "",
                 target, position))


def _insert_people(cur) -> None:
    for full_name, first_name, phone, cases in DEMO_PERSONS:
        person_id = cur.execute(
            "INSERT INTO persons (full_name, first_name, phone) VALUES (%s, %s, %s)"
            " RETURNING id", (full_name, first_name, phone)).fetchone()[0]
        for number, service, status, is_open, filed_on in cases:
            cur.execute(
                "INSERT INTO cases (number, person_id, service, status, is_open, filed_on)"
                " VALUES (%s, %s, %s, %s, %s, %s)",
                (number, person_id, service, status, is_open, filed_on))
    cur.execute("INSERT INTO cases (number, service, status, filed_on) VALUES (%s, %s, %s, %s)",
                ("4567", "Регистрация транспортного средства", "ожидает документы от заявителя",
                 date(2026, 3, 2)))
