"""validate(): every problem with where it is; outbound regexes Asterisk can read."""

import pytest

from dialplan.configuration import Configuration, Line, Phone, sip_digest
from dialplan.validate import (Problem, RegexError, dialplan_regex, lines_on_phone_addresses,
                               validate)


def phone(number, **kw):
    return Phone(id=0, number=number, md5_cred=sip_digest(number, "pw"), **kw)


def line(name, **kw):
    kw.setdefault("host", "127.0.0.2")
    return Line(id=0, name=name, **kw)


def test_a_good_configuration_has_no_problems():
    config = Configuration(
        phones=(phone("101"), phone("102", description="Reception")),
        lines=(line("prov1", outbound_regex=r"^8\d{10}$", inbound_number="99999",
                    reg_username="u1", reg_password="p@ss!", reg_domain="sip.example.org"),
               line("pbx", host="10.0.0.9", outbound_regex=r"^9\d+$", inbound_number="101")),
    )
    assert validate(config) == []


def test_every_problem_is_reported_with_its_place():
    config = Configuration(
        phones=(phone("99999"), phone("1"), Phone(0, "103", "not-md5"),
                phone("104", description="two\nlines")),
        lines=(line("Bad name"), line("prov1", host="bad host!", port=0, transport="tls"),
               line("half", host="10.0.0.3", reg_username="u"),
               line("half2", host="10.0.0.4", reg_domain="x.org"),
               line("secret", host="10.0.0.5", reg_username="u", reg_password="a;b"),
               line("nowhere", host="10.0.0.6", inbound_number="555"),
               line("twin", host="10.0.0.6"),
               line("regex", host="10.0.0.7", outbound_regex="^8*$"),
               line("anything", host="10.0.0.8", outbound_regex="^9.+$")),
    )
    assert [str(p) for p in validate(config)] == [
        "phone '1': the number must be 2 to 15 digits",
        "phone 103: the stored password digest is not an md5 hex digest",
        "phone 104: the description has line breaks or control characters",
        "phone 99999: number 99999 is also self-test",
        "line 'Bad name': the name must be a lower-case letter, then up to 31 lower-case"
        " letters, digits, '_' or '-'",
        "line 'prov1': 'bad host!' is not a host name or IPv4 address",
        "line 'prov1': port 0 is not between 1 and 65535",
        "line 'prov1': transport must be one of udp, tcp",
        "line 'half': registration needs both a username and a password (or leave username,"
        " domain and password empty)",
        "line 'half2': registration needs both a username and a password (or leave username,"
        " domain and password empty)",
        "line 'secret': the registration password must be up to 64 printable characters without"
        " blanks, ';' or '\\'",
        "line 'nowhere': inbound number 555 does not exist",
        "line 'twin': host 10.0.0.6 is also line 'nowhere''s: calls from it could not be told"
        " apart",
        "line 'regex': outbound regex '^8*$' matches the empty number, so every call would leave"
        " through this line",
        "line 'anything': outbound regex '^9.+$' '.' at position 3 takes any character, ',' and"
        " '&' too: use \\d or [0-9] (a number has digits, +, * and # only)",
    ]
    assert all(isinstance(p, Problem) for p in validate(config))


def test_two_phones_on_one_number():
    problems = validate(Configuration(phones=(phone("101"), phone("101"))))
    assert [str(p) for p in problems] == ["phone 101: number 101 is also phone 101"]


@pytest.mark.parametrize("regex, dialplan", [
    (r"^8\d{10}$", "^8[0-9]{10}$"),
    (r"^(?:8|\+7)[0-9]{10}$", "^(8|[+]7)[0-9]{10}$"),
    (r"^9[0-9]+$", "^9[0-9]+$"),
    (r"^\+7\d{10}$", "^[+]7[0-9]{10}$"),
    (r"^[0-35-9]+$|^\*1#$", "^[0-35-9]+$|^[*]1#$"),
    (r"^[*#]\d{2,}$", "^[*#][0-9]{2,}$"),
    (r"^1(2|3)?4$", "^1(2|3)?4$"),
])
def test_regexes_become_backslash_free_posix(regex, dialplan):
    assert dialplan_regex(regex) == dialplan


@pytest.mark.parametrize("regex, message", [
    ("", "matches the empty number"),
    ("^8*$", "matches the empty number"),
    ("^(1|)$", "empty alternative"),
    ("(", "error in the regex at position 1: unclosed parenthesis"),
    ("^1**", "error in the regex at position 4: a repeat of a repeat"),
    ("^1{3,1}", "error in the regex at position 4: the least number of repeats is greater"),
    ("^1{99999999999}$", "error in the regex: too many repeats"),
    (r"^\w+", "'\\\\' at position 2 is not supported"),
    ("^1+?", "repeats nothing (or repeats a repeat)"),
    ("^(?=1)", "'?' at position 3 repeats nothing"),
    ("^1$2", "'$' before position 4 is only allowed at the end"),
    ("^1^2", "'^' at position 3 is only allowed at the start"),
    ('^1"', "'\"' at position 3 is not supported"),
    ("^1;", "';' at position 3 is not supported"),
    ("^1,2", "',' at position 3 is not supported"),
    ("^1{1", "'{' at position 3 is not supported"),
    ("^1{2,300}$", "repeat counts above 255 are not portable"),
])
def test_regexes_asterisk_cannot_read_are_refused(regex, message):
    with pytest.raises(RegexError, match=None) as caught:
        dialplan_regex(regex)
    assert message in str(caught.value)


@pytest.mark.parametrize("regex, message", [
    ("^9.+$", "'.' at position 3 takes any character, ',' and '&' too"),
    ("^1.?2$", "'.' at position 3 takes any character"),
    (r"^1\.2$", "'\\\\' at position 3 is not supported"),
    ("9.*", "must match whole numbers: start it"),
    ("^9", "must match whole numbers: end it"),
    ("9$", "must match whole numbers: start it"),
    ("^9$|8", "must match whole numbers: start it, and every alternative after a top-level '|'"),
    ("^9|^8$", "must match whole numbers: end it, and every alternative before a top-level '|'"),
    ("(^9$)", "must match whole numbers: start it"),
    ("[^0-9]", "'[^0-9]' at position 1 takes every character it does not list"),
    (r"^[^0]\d{2,}$", "'[^0]' at position 2 takes every character it does not list"),
    ("^9[0-9&,]+$", "'[0-9&,]' at position 3 lists characters a number cannot have"),
    ("^[(]$", "'[(]' at position 2 lists characters a number cannot have"),
])
def test_regexes_that_could_pass_more_than_a_number_are_refused(regex, message):
    """Dial reads ',' '&' '(' as syntax: only whole numbers of 0-9 + * # may match."""
    with pytest.raises(RegexError) as caught:
        dialplan_regex(regex)
    assert message in str(caught.value)


def test_a_line_whose_regex_could_pass_more_than_a_number_is_refused_by_name():
    problems = validate(Configuration(lines=(line("pbx", host="10.0.0.9", outbound_regex="^9"),)))
    assert [str(p) for p in problems] == [
        "line 'pbx': outbound regex '^9' must match whole numbers: end it, and every alternative"
        " before a top-level '|', with '$'"]


def test_a_line_on_an_address_phones_register_from_is_a_warning_with_its_place():
    config = Configuration(phones=(phone("101"),),
                           lines=(line("office", host="192.168.1.20"),
                                  line("prov1", host="10.0.0.9")))
    problems = lines_on_phone_addresses(config, {"192.168.1.20", "192.168.1.21"})
    assert [(p.severity, str(p)) for p in problems] == [
        ("warning", "warning: line 'office': host 192.168.1.20 is an address phones register"
                    " from: Asterisk would take their calls for calls arriving on this line (it"
                    " recognises a line by the address first)")]
    assert lines_on_phone_addresses(config, set()) == []
    assert validate(config) == []  # not a refusal
