"""The demo's configuration: the seed's example voice menu, the operators' queue, and people
with cases to ask about.

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
    92000  queue "Операторы": phones 201 and 202 ring at once; the caller
           hears the hold playlist (what to press, their position, the
           estimated wait); 3 orders a callback that keeps the caller's
           place (a free operator's phone rings first, then the caller's);
           with no operator online the caller is told so and the call ends
    93000  scenario callback: orders a callback to the caller's number

The demo phones' SIP passwords are the caller's (``telecenter demo``
makes them, keeps them beside its data and prints them at start, so a
newcomer can register two softphones and answer the queue); the database
keeps only their digests.  A phone number that already exists is kept as
it is, with its own password.

The people and their cases (``DEMO_PERSONS``) are loaded only into empty
``persons`` and ``cases`` tables, so demo data never mixes with people
from a host information system.  Everything is inserted in one
transaction with parameters; nothing happens when any menu exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from collections.abc import Mapping

from psycopg import Connection
from psycopg.rows import tuple_row

from dialplan.configuration import generate_password, sip_digest

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
    DemoItem("93000", "scenario", scenario="callback"),
)

# The operators' queue, its member phones and what callers hear while they wait.
DEMO_QUEUE_NUMBER = "92000"
DEMO_QUEUE_NAME = "Операторы"
DEMO_PHONES = ("201", "202")
DEMO_PLAYLIST_NAME = "Ожидание оператора"
# (kind, text) in the order they are said, looping.
DEMO_PLAYLIST_ITEMS = (
    ("tts", "Пожалуйста, оставайтесь на линии, вам ответит первый освободившийся оператор."
            " Чтобы заказать обратный звонок, нажмите тройку: ваше место в очереди сохранится."),
    ("queue_position", ""),
    ("estimated_wait", ""),
)
# The key that orders a callback keeping the caller's place (spec 8).
DEMO_QUEUE_CALLBACK_KEY = "3"

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


def load_demo_configuration(conn: Connection,
                            phone_passwords: Mapping[str, str] | None = None) -> bool:
    """Insert the demo menu, the operators' queue with its phones and hold playlist (and,
    into empty tables, the demo people and cases).

    ``phone_passwords``: the SIP password of each of DEMO_PHONES (a missing one gets a
    password nobody knows: the admin sets one).  False, with nothing changed, when the
    database already has a menu.  ``conn`` may be in autocommit mode or not; the work is
    one transaction.
    """
    with conn.transaction(), conn.cursor(row_factory=tuple_row) as cur:
        cur.execute("LOCK TABLE menus IN EXCLUSIVE MODE")  # two loads at once insert once
        if cur.execute("SELECT EXISTS (SELECT 1 FROM menus)").fetchone()[0]:
            return False
        _insert_menu(cur)
        _insert_queue(cur, phone_passwords or {})
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


def _insert_queue(cur, phone_passwords: Mapping[str, str]) -> None:
    for number in DEMO_PHONES:
        password = phone_passwords.get(number) or generate_password()
        cur.execute("INSERT INTO phones (number, md5_cred, description) VALUES (%s, %s, %s)"
                    " ON CONFLICT (number) DO NOTHING",
                    (number, sip_digest(number, password), "Оператор (демо)"))
    playlist_id = cur.execute(
        "INSERT INTO playlists (name) VALUES (%s) ON CONFLICT (name) DO UPDATE"
        " SET name = EXCLUDED.name RETURNING id", (DEMO_PLAYLIST_NAME,)).fetchone()[0]
    if not cur.execute("SELECT EXISTS (SELECT 1 FROM playlist_items WHERE playlist_id = %s)",
                       (playlist_id,)).fetchone()[0]:
        for position, (kind, text) in enumerate(DEMO_PLAYLIST_ITEMS):
            cur.execute("INSERT INTO playlist_items (playlist_id, position, kind, text)"
                        " VALUES (%s, %s, %s, %s)", (playlist_id, position, kind, text))
    queue_id = cur.execute(
        "INSERT INTO queues (name, number, ring_at_once, stop_when_empty, playlist_id, callback_key)"
        " VALUES (%s, %s, NULL, true, %s, %s) ON CONFLICT DO NOTHING RETURNING id",
        (DEMO_QUEUE_NAME, DEMO_QUEUE_NUMBER, playlist_id, DEMO_QUEUE_CALLBACK_KEY)).fetchone()
    if queue_id is None:
        return  # the office has a queue of that name or number: its own
    for position, number in enumerate(DEMO_PHONES):
        cur.execute("INSERT INTO queue_members (queue_id, phone_id, position)"
                    " SELECT %s, id, %s FROM phones WHERE number = %s",
                    (queue_id[0], position, number))


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
