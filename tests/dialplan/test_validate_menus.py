"""check()/validate() on voice menus and playlists: each rule, with where it is and how bad."""

from dialplan.configuration import (AudioFile, Configuration, Handler, Line, Menu, MenuItem,
                                    Phone, Playlist, PlaylistItem, sip_digest)
from dialplan.messages import Message
from dialplan.validate import ERROR, WARNING, Problem, check, validate

MAIN = Menu(1, "Main")
CASES = Menu(2, "Cases")


def item(number, *handlers, kind="tts", menu=MAIN, **kw):
    if kind == "tts":
        kw.setdefault("text", "Здравствуйте")
    return MenuItem(id=int(number), menu_id=menu.id, number=number, kind=kind,
                    handlers=tuple(handlers), **kw)


def key(k, target):
    return Handler("key", target, key=k)


def timeout(seconds, target):
    return Handler("timeout", target, seconds=seconds)


def sequence(pattern, target):
    return Handler("sequence", target, pattern=pattern)


def config(*items, phones=(), lines=(), playlists=(), audio=(), menus=(MAIN, CASES)):
    return Configuration(
        phones=tuple(Phone(0, n, sip_digest(n, "pw")) for n in phones),
        lines=tuple(lines), audio_files=tuple(audio), playlists=tuple(playlists),
        menus=menus, menu_items=tuple(items))


def found(problems):
    """(severity, where, message) of each problem, to compare with what the admin reads."""
    return [(p.severity, p.where, p.message) for p in problems]


def test_a_working_menu_has_no_problems():
    prov = Line(0, "prov1", "10.0.0.1", outbound_regex=r"^8\d{10}$", inbound_number="90000")
    menu = config(
        item("90000", key("1", "91000"), key("2", "101"), key("9", "89990000001"),
             key("0", ""), timeout(10, "90000")),
        item("91000", sequence(r"[0-9*]+#", "91100"), timeout(5, "90000"), menu=CASES),
        item("91100", kind="scenario", scenario="case_status", menu=CASES),
        item("92000", kind="audio", audio_id=7),
        item("93000", kind="playlist", playlist_id=3),
        phones=["101"], lines=[prov],
        audio=[AudioFile(7, "hello")],
        playlists=[Playlist(3, "wait", items=(PlaylistItem("tts", text="Ждите"),
                                               PlaylistItem("audio", audio_id=7),
                                               PlaylistItem("queue_position")))])
    problems = check(menu, audio_on_disk={7})
    # 92000 and 93000 are reached by nothing but a dialled number: warnings only.
    assert found(problems) == [
        (WARNING, "menu 'Main', item 92000", "nothing leads callers here: it is not the first"
         " item of its menu, no handler's target and no line's inbound number (only dialling"
         " 92000 reaches it)"),
        (WARNING, "menu 'Main', item 93000", "nothing leads callers here: it is not the first"
         " item of its menu, no handler's target and no line's inbound number (only dialling"
         " 93000 reaches it)"),
    ]
    assert validate(menu, audio_on_disk={7}) == []


def test_a_target_must_lead_somewhere():
    prov = Line(0, "prov1", "10.0.0.1", outbound_regex=r"^8\d{10}$")
    menu = config(item("90000", key("1", "91000"), key("2", "102"), key("3", "7999"),
                       key("4", "101"), key("5", "89990000001"), key("6", "12a"),
                       timeout(5, "99999")),
                  phones=["101"], lines=[prov])
    assert found(validate(menu)) == [
        (ERROR, "menu 'Main', item 90000, handler 1 (key 1)",
         "target 91000 leads nowhere: it is not a menu item, a queue, a phone or a number a"
         " line dials out"),
        (ERROR, "menu 'Main', item 90000, handler 2 (key 2)",
         "target 102 leads nowhere: it is not a menu item, a queue, a phone or a number a line"
         " dials out"),
        (ERROR, "menu 'Main', item 90000, handler 3 (key 3)",
         "target 7999 leads nowhere: it is not a menu item, a queue, a phone or a number a"
         " line dials out"),
        (ERROR, "menu 'Main', item 90000, handler 6 (key 6)",
         "target '12a' is not a number (digits, * and #, up to 20, optionally after +)"),
    ]  # 99999 is the self-test, 101 a phone, 8... goes out through prov1


def test_a_line_with_a_broken_regex_dials_nothing_out():
    bad = Line(0, "bad", "10.0.0.1", outbound_regex=r"^\w+")
    problems = found(validate(config(item("90000", key("1", "81234")), lines=[bad])))
    assert (ERROR, "menu 'Main', item 90000, handler 1 (key 1)",
            "target 81234 leads nowhere: it is not a menu item, a queue, a phone or a number"
            " a line dials out") in problems


def test_sequence_regexes_must_compile_and_need_a_key():
    menu = config(item("90000", sequence("[0-9", "90000"), sequence("[0-9]*#?", "90000"),
                       sequence(r"\d+#", "90000"), sequence("(?<=x)1", "90000")))
    problems = found(validate(menu))
    assert problems[0][:2] == (ERROR, "menu 'Main', item 90000, handler 1 (sequence [0-9)")
    assert problems[0][2] == "error in the regex at position 1: unclosed square bracket"
    assert problems[1:] == [
        (ERROR, "menu 'Main', item 90000, handler 2 (sequence [0-9]*#?)",
         "regex '[0-9]*#?' matches the empty sequence: it must need at least one key"),
    ]


def test_keys_must_be_dtmf_and_handled_once_and_one_timeout():
    menu = config(item("90000", key("1", ""), key("a", ""), key("1", "90000"), key("12", ""),
                       timeout(5, ""), timeout(0, "")))
    assert found(validate(menu)) == [
        (ERROR, "menu 'Main', item 90000, handler 2 (key a)", "key 'a' is not one of 0-9, * or #"),
        (ERROR, "menu 'Main', item 90000, handler 3 (key 1)",
         "key 1 is already handled by handler 1"),
        (ERROR, "menu 'Main', item 90000, handler 4 (key 12)",
         "key '12' is not one of 0-9, * or #"),
        (ERROR, "menu 'Main', item 90000, handler 6 (timeout 0 s)",
         "the timeout must be 1 to 600 seconds"),
        (ERROR, "menu 'Main', item 90000, handler 6 (timeout 0 s)",
         "a second timeout handler: handler 5 already is one"),
    ]


def test_items_nothing_leads_to_are_warnings_not_errors():
    menu = config(item("91000", key("1", "91200"), menu=CASES),
                  item("91100", menu=CASES),  # nothing leads here
                  item("91200", menu=CASES),
                  item("90000"),  # first item of Main
                  item("90500"),  # a line's inbound number
                  lines=[Line(0, "prov1", "10.0.0.1", inbound_number="90500")])
    problems = check(menu)
    assert found(problems) == [
        (WARNING, "menu 'Cases', item 91100", "nothing leads callers here: it is not the first"
         " item of its menu, no handler's target and no line's inbound number (only dialling"
         " 91100 reaches it)"),
    ]
    assert validate(menu) == []


def test_the_first_item_of_a_menu_is_its_lowest_number():
    menu = config(item("100"), item("99"))
    assert [p.where for p in check(menu)] == ["menu 'Main', item 100"]


def test_a_circle_of_timeouts_without_keys_is_an_error():
    menu = config(
        item("90000", key("1", "90010"), timeout(5, "90000")),  # keys: the caller can leave
        item("90010", timeout(5, "90030")),
        item("90020", timeout(1, "90010"), kind="scenario", scenario="repeat_digits"),
        item("90030", timeout(5, "90020")),
        item("90040", timeout(5, "90040")),
    )
    assert found(validate(menu)) == [
        (ERROR, "menu 'Main', item 90010", "items 90010 -> 90030 -> 90020 -> 90010 send the call"
         " round in a circle on timeouts, never waiting for a key"),
        (ERROR, "menu 'Main', item 90040", "items 90040 -> 90040 send the call round in a circle"
         " on timeouts, never waiting for a key"),
    ]


def test_two_things_on_one_number():
    menu = config(item("90000"), item("90000", menu=CASES), item("101"), phones=["101"])
    assert found(validate(menu)) == [
        (ERROR, "menu 'Main', item 101", "number 101 is also phone 101"),
        (ERROR, "menu 'Cases', item 90000", "number 90000 is also menu 'Main', item 90000"),
    ]


def test_what_an_item_plays_must_exist():
    menu = config(
        item("90000", key("1", "90001"), key("2", "90002"), key("3", "90003"), key("4", "90004"),
             key("5", "90005")),
        item("90001", kind="audio", audio_id=7),
        item("90002", kind="audio", audio_id=8),
        item("90003", kind="playlist", playlist_id=5),
        item("90004", text="  "),
        item("90005", kind="scenario", scenario="dance"),
        audio=[AudioFile(8, "greeting")])
    assert found(validate(menu, audio_on_disk=set())) == [
        (ERROR, "menu 'Main', item 90001", "audio file 7 is not in the audio library"),
        (ERROR, "menu 'Main', item 90002",
         "audio file 'greeting' (id 8) has no recording on disk: upload it again"),
        (ERROR, "menu 'Main', item 90003", "playlist 5 does not exist"),
        (ERROR, "menu 'Main', item 90004", "the text to speak is empty"),
        (ERROR, "menu 'Main', item 90005", "unknown scenario 'dance'"),
    ]
    # Without knowing what is on disk, only the library is looked at.
    assert len(validate(menu)) == 4


def test_playlists_empty_or_with_missing_parts():
    lists = [Playlist(1, "silence"),
             Playlist(2, "broken", items=(PlaylistItem("tts", text=""),
                                          PlaylistItem("audio", audio_id=9),
                                          PlaylistItem("greeting")))]
    assert found(check(config(playlists=lists))) == [
        (WARNING, "playlist 'silence'", "the playlist is empty: callers hear nothing from it"),
        (ERROR, "playlist 'broken', item 1", "the text to speak is empty"),
        (ERROR, "playlist 'broken', item 2", "audio file 9 is not in the audio library"),
    ]


def test_problems_translate_through_any_gettext():
    problem = validate(config(item("90000", key("1", "555"))))[0]
    russian = {"menu %(menu)s, item %(number)s, handler %(index)s (%(what)s)":
               "меню %(menu)s, пункт %(number)s, обработчик %(index)s (%(what)s)",
               "key %(key)s": "клавиша %(key)s"}
    assert problem.place.render(lambda t: russian.get(t, t)) == (
        "меню 'Main', пункт 90000, обработчик 1 (клавиша 1)")
    assert str(problem) == ("menu 'Main', item 90000, handler 1 (key 1): target 555 leads"
                            " nowhere: it is not a menu item, a queue, a phone or a number"
                            " a line dials out")
    warning = Problem(Message("x"), Message("y"), WARNING)
    assert str(warning) == "warning: x: y" and not warning.is_error
