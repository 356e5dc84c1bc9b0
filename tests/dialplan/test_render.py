"""The generated dialplan, compared as text, and written atomically."""

import os
import re
import subprocess
from dataclasses import replace

import pytest

from dialplan import names
from dialplan.configuration import (AudioFile, Configuration, Line, MenuItem, Phone, Queue,
                                    QueueKey, TransferSettings)
from dialplan.render import ConfigurationError, render_all, write_files
from fastagi.settings import Settings
from tests.testbed.agi_server import TELECENTER


def squash(text: str) -> list[str]:
    """Lines without comments and whitespace noise, as Asterisk reads them."""
    lines = (re.sub(r"\s+", " ", line.split(";", 1)[0]).strip() for line in text.splitlines())
    return [line for line in lines if line]


def contexts(lines: list[str]) -> dict[str, list[str]]:
    """Squashed lines by the context they are in."""
    found: dict[str, list[str]] = {}
    for line in lines:
        if line.startswith("["):
            current = found.setdefault(line.strip("[]"), [])
        else:
            current.append(line)
    return found


# [telecenter-outbound]: one pattern per length of a number, 2 to 32 characters.
OUTBOUND = ["[telecenter-outbound]"] + [
    f"exten => _{'[+*#0-9]' * length},1,Gosub(telecenter-dial-out,s,1(${{EXTEN}}))"
    for length in range(2, 33)]


def number_only(first: bool, read: str, write: str, what: str) -> list[str]:
    """The two lines that keep only a number's characters of one caller-chosen field."""
    differs = (f"$[${{LEN(${{{read}}})}} != ${{LEN(${{FILTER(0-9+*#,${{{read}}})}})}}]")
    kept = f"${{FILTER(0-9+*#,${{{read}}})}}"
    return [f"{'exten => s,1' if first else 'same => n'},ExecIf({differs}?Log(NOTICE,Telecenter"
            f" keeps only {kept} of the {what} ${{URIENCODE(${{{read}}})}}))",
            f"same => n,ExecIf({differs}?Set({write}={kept}))"]


CALLER_NUMBERS = [
    "[telecenter-caller-numbers]",
    *number_only(True, "CALLERID(num)", "CALLERID(num)", "caller number"),
    *number_only(False, "CALLERID(dnid)", "CALLERID(dnid)", "dialled number"),
    *number_only(False, "REDIRECTING(from-num)", "REDIRECTING(from-num,i)",
                 "redirecting number"),
    "same => n,Return()",
]


def agi_subroutine(agi_url: str, sounds: str) -> list[str]:
    return [
        "[telecenter-agi]",
        "exten => s,1,Gosub(telecenter-route,s,1(${ARG1},${ARG2}))",
        'same => n,GotoIf($["${TELECENTER_STATUS}" != "OK"]?fallback,1)',
        "same => n,Return()",
        "exten => fallback,1,Log(WARNING,Telecenter route ${ARG1} failed for ${CALLERID(num)}:"
        " AGISTATUS=${AGISTATUS} TELECENTER_STATUS=${TELECENTER_STATUS})",
        "same => n,Goto(unavailable,1)",
        "exten => unavailable,1,Answer()",
        f"same => n,Playback({sounds}/ru/telecenter-unavailable)",
        "same => n,Hangup()",
        "[telecenter-route]",
        "exten => s,1,Set(CHANNEL(language)=ru)",
        "same => n,Set(TELECENTER_STATUS=)",
        "same => n,Set(TELECENTER_NEXT=)",
        "same => n,Gosub(telecenter-caller-numbers,s,1)",
        "same => n,Set(LOCAL(caller_name)=${CALLERID(name)})",
        "same => n,Set(CALLERID(name)=${URIENCODE(${LOCAL(caller_name)})})",
        f"same => n,AGI({agi_url}/${{ARG1}},${{ARG2}})",
        "same => n,Set(CALLERID(name)=${LOCAL(caller_name)})",
        "same => n,Return()",
        *queue_subroutines(sounds),
        *CALLER_NUMBERS,
        "[telecenter-next]",
        "exten => s,1,GotoIf($[${LEN(${TELECENTER_NEXT})} = 0]?end)",
        'same => n,GotoIf(${REGEX("^[+*#0-9]{1,32}$" ${TELECENTER_NEXT})}?number)',
        "same => n,Log(WARNING,Telecenter: a menu sent the call to"
        " ${URIENCODE(${TELECENTER_NEXT})}: not a number)",
        "same => n,Goto(telecenter-agi,unavailable,1)",
        "same => n(number),Goto(telecenter-phones,${TELECENTER_NEXT},1)",
        "same => n(end),Hangup()",
    ]


def queue_subroutines(sounds: str, transfer_music: bool = False) -> list[str]:
    """The queue's caller, leaving and operator contexts (spec 7)."""
    return [
        "[telecenter-queue]",
        "exten => s,1,Set(LOCAL(retries)=0)",
        "same => n,Set(TELECENTER_QUEUE_JOINED=)",
        "same => n,Set(TRANSFER_CONTEXT=telecenter-phones)",
        *(["same => n,Set(CHANNEL(musicclass)=telecenter-transfer)"] if transfer_music else []),
        "same => n(run),Gosub(telecenter-route,s,1(queue,${ARG1}))",
        'same => n,GotoIf($["${TELECENTER_STATUS}" = "OK"]?done)',
        'same => n,GotoIf($["${TELECENTER_QUEUE_JOINED}" != "1"]?failed)',
        "same => n,GotoIf($[${LOCAL(retries)} >= 30]?failed)",
        "same => n,Set(LOCAL(retries)=$[${LOCAL(retries)} + 1])",
        "same => n,Log(NOTICE,Telecenter queue ${ARG1}: the server did not finish with"
        " ${CALLERID(num)}: AGISTATUS=${AGISTATUS} - asking again: ${LOCAL(retries)} of 30)",
        "same => n,MusicOnHold(,2)",
        "same => n,Goto(run)",
        "same => n(done),Return()",
        "same => n(failed),Gosub(telecenter-agi,fallback,1(queue,${ARG1}))",
        "[telecenter-queue-leave]",
        'exten => s,1,GotoIf($["${TELECENTER_QUEUE_REASON}" = "no-member"]?no-member)',
        'same => n,GotoIf($["${TELECENTER_QUEUE_REASON}" = "max-wait"]?max-wait)',
        "same => n,Goto(next)",
        f"same => n(no-member),Playback({sounds}/ru/telecenter-queue-no-member)",
        "same => n,Goto(next)",
        f"same => n(max-wait),Playback({sounds}/ru/telecenter-queue-max-wait)",
        "same => n(next),Goto(telecenter-next,s,1)",
        "[telecenter-queue-operator]",
        "exten => s,1,Set(TRANSFER_CONTEXT=telecenter-phones)",
        "same => n,Gosub(telecenter-route,s,1(queue-answer,${TELECENTER_QUEUE_CALLER}))",
        'same => n,GotoIf($["${TELECENTER_STATUS}" = "OK"]?end)',
        "same => n,Log(WARNING,Telecenter route queue-answer failed on ${CHANNEL(name)}:"
        " AGISTATUS=${AGISTATUS} TELECENTER_STATUS=${TELECENTER_STATUS})",
        "same => n,Goto(telecenter-agi,unavailable,1)",
        'same => n(end),GotoIf($["${TELECENTER_CALLBACK_CALL}" != ""]?telecenter-callback,citizen,1)',
        "same => n,Hangup()",
    ]


# Callbacks (spec 8): the operator's leg, the citizen dialled as a phone dials out, and
# the hangup handler that records how the call ended.
CALLBACK = [
    "[telecenter-callback]",
    "exten => s,1,Set(CHANNEL(hangup_handler_push)=telecenter-callback,ended,1)",
    "same => n,Gosub(telecenter-route,s,1(callback,${TELECENTER_CALLBACK_CALL}))",
    'same => n,GotoIf($["${TELECENTER_STATUS}" = "OK"]?citizen,dial)',
    "same => n,Log(WARNING,Telecenter route callback failed on ${CHANNEL(name)}:"
    " AGISTATUS=${AGISTATUS} TELECENTER_STATUS=${TELECENTER_STATUS})",
    "same => n,Goto(telecenter-agi,unavailable,1)",
    "exten => citizen,1,Set(CHANNEL(hangup_handler_push)=telecenter-callback,ended,1)",
    "same => n(dial),GotoIf(${DIALPLAN_EXISTS(telecenter-callback-phones,${TELECENTER_NEXT},1)}"
    "?telecenter-callback-phones,${TELECENTER_NEXT},1)",
    "same => n,Gosub(telecenter-dial-out,s,1(${TELECENTER_NEXT}))",
    "same => n,Hangup()",
    "exten => ended,1,Gosub(telecenter-route,s,1(callback-ended,${TELECENTER_CALLBACK_CALL}:"
    "${DIALSTATUS}:${ANSWEREDTIME}:${TELECENTER_QUEUE_CALLER}:${TELECENTER_QUEUE_PHONE}))",
    "same => n,Return()",
    "[telecenter-callback-phones]",
]


# The phones' context: the code that binds a phone to an operator, then every number.
PHONES = [
    "[telecenter-phones]",
    "exten => _1*XXXXX,1,Gosub(telecenter-agi,s,1(bind-phone,${EXTEN:2}))",
    "same => n,Hangup()",
    "include => telecenter",
    "include => telecenter-outbound",
]


DIAL_OUT_CHECK = [
    "[telecenter-dial-out]",
    'exten => s,1,GotoIf(${REGEX("^[+*#0-9]{1,32}$" ${ARG1})}?number)',
    "same => n,Log(WARNING,Telecenter refused to dial ${URIENCODE(${ARG1})}: not a number)",
    "same => n,Hangup(28)",
    "same => n(number),NoOp(Outbound call to ${ARG1})",
]


def test_extensions_route_through_agi_with_fallback(tmp_path):
    settings = Settings(agi_host="10.0.0.5", agi_port=4600, sounds_dir=tmp_path / "snd")
    text = render_all(settings)["extensions_telecenter.conf"]
    assert text.startswith("; Generated by Telecenter")
    assert squash(text) == [
        "[telecenter]",
        "exten => 99999,1,NoOp(Telecenter self-test)",
        "same => n,Gosub(telecenter-agi,s,1(selftest,${EXTEN}))",
        "same => n,Hangup()",
        *agi_subroutine("agi://10.0.0.5:4600", f"{tmp_path}/snd"),
        *PHONES,
        *OUTBOUND,
        *DIAL_OUT_CHECK,
        "same => n,Log(NOTICE,No line for ${ARG1} from ${CALLERID(num)})",
        "same => n,Hangup(1)",
        *CALLBACK,
        "[telecenter-robocall]",
        "exten => s,1,Gosub(telecenter-route,s,1(robocall,${TELECENTER_ROBOCALL_NUMBER}))",
        "same => n,Hangup()",
        "[telecenter-revision]",
        "exten => s,1,NoOp(Telecenter revision none)",
    ]


def test_caller_data_reaches_agi_only_as_numbers_and_an_encoded_name(tmp_path):
    """A line break in a caller's number or name would forge AGI environment lines; calls
    from a line get their numbers checked on arrival too."""
    by_context = contexts(squash(render_all(Settings(sounds_dir=tmp_path), CONFIG)[
        "extensions_telecenter.conf"]))
    route = by_context["telecenter-route"]
    before_agi = route[:next(i for i, line in enumerate(route) if ",AGI(" in line)]
    assert {line for name, lines in by_context.items() for line in lines if ",AGI(" in line} \
        == {line for line in route if ",AGI(" in line}  # every route runs through here
    assert "same => n,Gosub(telecenter-caller-numbers,s,1)" in before_agi
    assert "same => n,Set(CALLERID(name)=${URIENCODE(${LOCAL(caller_name)})})" in before_agi
    assert ["[telecenter-caller-numbers]", *by_context["telecenter-caller-numbers"]] == \
        CALLER_NUMBERS
    assert by_context["telecenter-from-prov1"][0] == \
        "exten => s,1,Gosub(telecenter-caller-numbers,s,1)"


def test_nothing_but_a_number_reaches_dial(tmp_path):
    """No '.' pattern leads to Dial, and the number is checked again right before it."""
    by_context = contexts(squash(render_all(Settings(sounds_dir=tmp_path), CONFIG)[
        "extensions_telecenter.conf"]))
    with_any = {name for name, lines in by_context.items()
                if any(re.match(r"exten => _\S*\.", line) for line in lines)}
    assert with_any == {"telecenter-from-prov1", "telecenter-from-later"}  # Goto s / Hangup only
    assert not [line for name in with_any for line in by_context[name] if "Dial(" in line]
    assert ["[telecenter-outbound]", *by_context["telecenter-outbound"]] == OUTBOUND
    dial_out = by_context["telecenter-dial-out"]
    assert dial_out[:4] == DIAL_OUT_CHECK[1:]


MD5_101 = "0" * 32
MD5_102 = "f" * 32
CONFIG = Configuration(
    phones=(Phone(1, "102", MD5_102), Phone(2, "101", MD5_101, description="Front desk")),
    lines=(
        Line(1, "later", "10.0.0.3", outbound_regex=r"^8\d+$", position=2),
        Line(2, "prov1", "10.0.0.2", port=5080, outbound_regex=r"^(?:8|\+7)\d{10}$",
             position=1, inbound_number="99999", reg_username="u1", reg_password="p@ss",
             reg_domain="sip.example.org"),
    ),
)


def test_phones_dial_each_other_and_lines_route_out_in_order(tmp_path):
    text = render_all(Settings(sounds_dir=tmp_path), CONFIG, revision=12)["extensions_telecenter.conf"]
    assert text.startswith("; Generated by Telecenter from revision 12.")
    lines = squash(text)
    telecenter = lines[lines.index("[telecenter]"):lines.index("[telecenter-agi]")]
    assert telecenter[4:] == [
        "exten => 101,1,Dial(PJSIP/101,30)",
        "same => n,Hangup()",
        "exten => 102,1,Dial(PJSIP/102,30)",
        "same => n,Hangup()",
    ]
    assert "; 101: phone (Front desk)" in text
    assert lines[lines.index("[telecenter-phones]"):] == [
        *PHONES,
        *OUTBOUND,
        *DIAL_OUT_CHECK,
        'same => n,GotoIf(${REGEX("^(8|[+]7)[0-9]{10}$" ${ARG1})}?line-prov1)',
        'same => n,GotoIf(${REGEX("^8[0-9]+$" ${ARG1})}?line-later)',
        "same => n,Log(NOTICE,No line for ${ARG1} from ${CALLERID(num)})",
        "same => n,Hangup(1)",
        "same => n(line-prov1),Dial(PJSIP/${ARG1}@line-prov1,60)",
        "same => n,Hangup()",
        "same => n(line-later),Dial(PJSIP/${ARG1}@line-later,60)",
        "same => n,Hangup()",
        "[telecenter-from-prov1]",
        "exten => s,1,Gosub(telecenter-caller-numbers,s,1)",
        "same => n,Set(__TELECENTER_LINE=prov1)",
        "same => n,Set(__TELECENTER_EXTERNAL=yes)",
        "same => n,Goto(telecenter,99999,1)",
        "exten => _[+*#0-9],1,Goto(s,1)",
        "exten => _[+*#0-9].,1,Goto(s,1)",
        "[telecenter-from-later]",
        "exten => s,1,Hangup(21)",
        "exten => _[+*#0-9],1,Hangup(21)",
        "exten => _[+*#0-9].,1,Hangup(21)",
        *CALLBACK,
        # A citizen who phoned from one of the phones is called back on it, not through a line.
        "exten => 101,1,Dial(PJSIP/101,30)",
        "same => n,Hangup()",
        "exten => 102,1,Dial(PJSIP/102,30)",
        "same => n,Hangup()",
        "[telecenter-robocall]",
        "exten => s,1,Gosub(telecenter-route,s,1(robocall,${TELECENTER_ROBOCALL_NUMBER}))",
        "same => n,Hangup()",
        "[telecenter-revision]",
        "exten => s,1,NoOp(Telecenter revision 12)",
    ]


def test_pjsip_internal_has_md5_auth_per_phone():
    text = render_all(Settings(), CONFIG, revision=3)["pjsip_telecenter_internal.conf"]
    assert text.startswith("; Generated by Telecenter from revision 3.")
    assert squash(text)[:22] == [
        "[101]", "type = endpoint", "context = telecenter-phones", "disallow = all",
        "allow = ulaw,alaw", "dtmf_mode = rfc4733", "direct_media = no", "rtp_symmetric = yes",
        "force_rport = yes", "rewrite_contact = yes", "callerid = <101>", "auth = 101-auth",
        "aors = 101",
        "[101-auth]", "type = auth", "auth_type = md5", "realm = telecenter", "username = 101",
        f"md5_cred = {MD5_101}",
        "[101]", "type = aor", "max_contacts = 1",
    ]
    assert squash(text)[22:24] == ["remove_existing = yes", "qualify_frequency = 60"]
    assert squash(text)[24] == "[102]"


def test_pjsip_external_identifies_by_address_and_registers():
    text = render_all(Settings(), CONFIG, revision=3)["pjsip_telecenter_external.conf"]
    assert squash(text) == [
        "[line-prov1]", "type = endpoint", "context = telecenter-from-prov1", "disallow = all",
        "allow = ulaw,alaw", "dtmf_mode = rfc4733", "direct_media = no", "rtp_symmetric = yes",
        "aors = line-prov1", "outbound_auth = line-prov1-auth", "from_user = u1",
        "from_domain = sip.example.org",
        "[line-prov1]", "type = aor", "contact = sip:10.0.0.2:5080",
        "[line-prov1]", "type = identify", "endpoint = line-prov1", "match = 10.0.0.2",
        "[line-prov1-auth]", "type = auth", "auth_type = userpass", "username = u1",
        "password = p@ss",
        "[line-prov1]", "type = registration", "outbound_auth = line-prov1-auth",
        "server_uri = sip:sip.example.org:5080", "client_uri = sip:u1@sip.example.org",
        "contact_user = u1", "retry_interval = 60",
        "[line-later]", "type = endpoint", "context = telecenter-from-later", "disallow = all",
        "allow = ulaw,alaw", "dtmf_mode = rfc4733", "direct_media = no", "rtp_symmetric = yes",
        "aors = line-later",
        "[line-later]", "type = aor", "contact = sip:10.0.0.3:5060",
        "[line-later]", "type = identify", "endpoint = line-later", "match = 10.0.0.3",
    ]


def test_without_phones_or_lines_the_pjsip_files_still_exist():
    files = render_all(Settings())
    assert sorted(files) == ["extensions_telecenter.conf", "features_telecenter.conf",
                             "musiconhold_telecenter.conf", "pjsip_telecenter_external.conf",
                             "pjsip_telecenter_internal.conf", "telecenter_ivr.json"]
    assert squash(files["pjsip_telecenter_internal.conf"]) == []
    assert squash(files["pjsip_telecenter_external.conf"]) == []


def test_render_refuses_a_configuration_with_problems():
    bad = Configuration(lines=(Line(1, "x", "10.0.0.1", outbound_regex='^1"),Hangup('),))
    with pytest.raises(ConfigurationError) as caught:
        render_all(Settings(), bad)
    assert [p.where for p in caught.value.problems] == ["line 'x'"]


@pytest.mark.parametrize("fallback", ["101", "89991234567"])
def test_a_configured_fallback_number_is_reached_by_plain_dialplan(tmp_path, fallback):
    """A phone, or a number a line dials out: no AGI() between the caller and it."""
    settings = Settings(sounds_dir=tmp_path, fallback_number=fallback)
    agi = contexts(squash(render_all(settings, CONFIG)["extensions_telecenter.conf"]))[
        "telecenter-agi"]
    fallback_steps = agi[agi.index(next(s for s in agi if s.startswith("exten => fallback,1"))):]
    assert fallback_steps[1] == f"same => n,Goto(telecenter-phones,{fallback},1)"


@pytest.mark.parametrize("fallback", ["90000", "5555", "12a"])
def test_a_fallback_number_that_needs_the_server_or_leads_nowhere_is_refused(fallback):
    config = replace(CONFIG, menu_items=(MenuItem(id=1, menu_id=1, number="90000", kind="tts",
                                                  text="Добрый день."),))
    with pytest.raises(ConfigurationError) as caught:
        render_all(Settings(fallback_number=fallback), config)
    [problem] = caught.value.problems
    assert "TELECENTER_FALLBACK_NUMBER" in str(problem.where)


def test_write_files_replaces_whole_files(tmp_path):
    write_files(tmp_path, {"a.conf": "old\n"})
    written = write_files(tmp_path, {"a.conf": "new\n", "b.conf": "b\n"})
    assert [p.name for p in written] == ["a.conf", "b.conf"]
    assert (tmp_path / "a.conf").read_text() == "new\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.conf", "b.conf"]


@pytest.mark.asterisk
def test_render_reloads_the_running_asterisk(testbed, fresh_database):
    """`telecenter render` rewrites the files and Asterisk serves the new dialplan."""
    def render(port: int) -> str:
        done = subprocess.run(
            [str(TELECENTER), "render", "--out", str(testbed.asterisk.include_dir),
             "--agi-port", str(port)],
            capture_output=True, text=True, timeout=60,
            env={**os.environ, **testbed.ami_env(), "DATABASE_URL": fresh_database})
        assert done.returncode == 0, done.stderr
        return done.stdout

    def agi_line() -> str:
        return testbed.asterisk.rx(f"dialplan show s@{names.CONTEXT_ROUTE}")

    assert "Asterisk reloaded" in render(4999)
    assert "agi://127.0.0.1:4999/" in agi_line()
    render(testbed.server.port)
    assert f"agi://127.0.0.1:{testbed.server.port}/" in agi_line()


QUEUES_CONFIG = Configuration(
    phones=(Phone(1, "201", MD5_101), Phone(2, "202", MD5_102)),
    menu_items=(MenuItem(1, 1, "93000", "tts", text="Перезвоним"),),
    audio_files=(AudioFile(7, "Моцарт"),),
    queues=(Queue(1, "Операторы", "92000", members=("201", "202"),
                  keys=(QueueKey("3", "93000"),)),),
)


def test_a_queue_number_holds_the_caller_in_the_queue_route_then_goes_where_the_server_says(
        tmp_path):
    text = render_all(Settings(sounds_dir=tmp_path), QUEUES_CONFIG)["extensions_telecenter.conf"]
    by_context = contexts(squash(text))
    entry = by_context["telecenter"]
    start = entry.index("exten => 92000,1,Gosub(telecenter-queue,s,1(${EXTEN}))")
    assert entry[start + 1] == "same => n,Goto(telecenter-next,s,1)"
    assert "; 92000: queue Операторы. Callers wait while the server rings its members\n" \
           "; (201, 202); a key they press (3) sends them on." in text
    queue = ["[telecenter-queue]", *by_context["telecenter-queue"]]
    # Without transfer music the caller keeps the default music class.
    assert queue == queue_subroutines(str(tmp_path))[:len(queue)]
    assert ["[telecenter-phones]", *by_context["telecenter-phones"]] == PHONES


def test_chosen_transfer_music_is_the_queue_callers_music_class_and_its_folder(tmp_path):
    settings = Settings(sounds_dir=tmp_path, var_dir=tmp_path / "var")
    config = replace(QUEUES_CONFIG, transfer=TransferSettings(music_audio_id=7))
    files = render_all(settings, config)
    queue = contexts(squash(files["extensions_telecenter.conf"]))["telecenter-queue"]
    assert ["[telecenter-queue]", *queue] == queue_subroutines(str(tmp_path), True)[:len(queue) + 1]
    assert squash(files["musiconhold_telecenter.conf"]) == [
        "[telecenter-transfer]", "mode = files",
        f"directory = {settings.include_dir}/moh/transfer-7"]
    music = files["musiconhold_telecenter.conf"]
    assert "audio\n; file 7 (Моцарт), copied here by Apply" in music
    assert squash(files["features_telecenter.conf"]) == ["[featuremap]", "atxfer => *2",
                                                          "blindxfer =>"]


def test_without_transfer_music_the_class_plays_asterisks_own_music():
    files = render_all(Settings())
    assert squash(files["musiconhold_telecenter.conf"]) == [
        "[telecenter-transfer]", "mode = files", "directory = moh"]
    assert f'#include "{Settings().include_dir}/musiconhold_telecenter.conf"' in \
        files["musiconhold_telecenter.conf"]
