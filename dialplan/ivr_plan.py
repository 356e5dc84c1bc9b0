"""The voice menus as the FastAGI server runs them: one JSON file per revision.

Apply renders ``telecenter_ivr.json`` next to the Asterisk files, so the
menus a caller walks always belong to the same revision as the dialplan
Asterisk serves (a rollback brings both back together).  The server reads
the file from the include dir and reloads it when it changes
(``ivr.plan_store``).  Only what calls need is in it: no phone digest, no
line password.  The queues (by number) and the transfer settings are in it
too, so the queue a caller waits in is the one the dialplan sent them to.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace

from dialplan.configuration import (Configuration, Handler, MenuItem, NumberOwner, Playlist,
                                    PlaylistItem, Queue, QueueKey, TransferSettings,
                                    TtsSettings, audio_file_path, numbering_plan)
from dialplan.override_rules import Rule
from dialplan.schedules import Schedule, Span, SpecialDate
from fastagi.settings import Settings

IVR_PLAN_FILE = "telecenter_ivr.json"


@dataclass(frozen=True)
class OutboundLine:
    """A line as the dialer needs it to dial out: no address, no password."""

    name: str
    endpoint: str  # the pjsip endpoint: PJSIP/<number>@<endpoint>
    outbound_regex: str


@dataclass(frozen=True)
class IvrPlan:
    """Menu items and queues by number, playlists by id, audio paths, and every number
    that exists."""

    revision: int | None = None
    items: dict[str, MenuItem] = field(default_factory=dict)
    playlists: dict[int, Playlist] = field(default_factory=dict)
    audio: dict[int, str] = field(default_factory=dict)  # id -> path without extension
    numbers: dict[str, NumberOwner] = field(default_factory=dict)  # number -> its first owner
    tts: TtsSettings = TtsSettings()
    language: str = "ru"
    queues: dict[str, Queue] = field(default_factory=dict)
    transfer: TransferSettings = TransferSettings()
    # Override rules by called number, in the order they are tried; schedules by id,
    # read on the office's clock (``Schedule.timezone``).
    rules: dict[str, tuple[Rule, ...]] = field(default_factory=dict)
    schedules: dict[int, Schedule] = field(default_factory=dict)
    # The dialer's lines, in the order [telecenter-dial-out] tries them.
    lines: tuple[OutboundLine, ...] = ()

    def audio_path(self, audio_id: int) -> str:
        """What STREAM FILE plays for an audio file of the library."""
        return self.audio[audio_id]


def build_plan(config: Configuration, settings: Settings, revision: int | None = None) -> IvrPlan:
    """The plan of a validated configuration."""
    return IvrPlan(
        revision=revision,
        items={item.number: item for item in config.menu_items},
        playlists={playlist.id: playlist for playlist in config.playlists},
        audio={audio.id: str(audio_file_path(settings.audio_dir, audio.id).with_suffix(""))
               for audio in config.audio_files},
        numbers={number: owners[0] for number, owners in numbering_plan(config).items()},
        tts=config.tts,
        language=settings.language,
        queues={queue.number: queue for queue in config.queues},
        transfer=config.transfer,
        rules=_rules_by_number(config.rules),
        schedules={schedule.id: replace(schedule, timezone=settings.timezone)
                   for schedule in config.schedules},
        lines=tuple(OutboundLine(line.name, line.endpoint, line.outbound_regex)
                    for line in sorted(config.lines, key=lambda line: (line.position, line.name))
                    if line.outbound_regex),
    )


def _rules_by_number(rules) -> dict[str, tuple[Rule, ...]]:
    grouped: dict[str, list[Rule]] = {}
    for rule in sorted(rules, key=lambda rule: (rule.called_number, rule.position, rule.id)):
        grouped.setdefault(rule.called_number, []).append(rule)
    return {number: tuple(found) for number, found in grouped.items()}


def plan_to_json(plan: IvrPlan, header: str) -> str:
    """The file's text: the generated-file header, then the plan."""
    data = {"generated": header, **asdict(plan),
            "numbers": {number: str(owner) for number, owner in plan.numbers.items()}}
    return json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True) + "\n"


def plan_from_json(text: str) -> IvrPlan:
    """Read a plan written by ``plan_to_json``; ValueError when it is not one."""
    try:
        data = json.loads(text)
        items = {
            number: MenuItem(**{**item, "handlers": tuple(Handler(**h) for h in item["handlers"])})
            for number, item in data["items"].items()
        }
        playlists = {
            int(pid): Playlist(**{**playlist,
                                  "items": tuple(PlaylistItem(**i) for i in playlist["items"])})
            for pid, playlist in data["playlists"].items()
        }
        return IvrPlan(
            revision=data["revision"],
            items=items,
            playlists=playlists,
            audio={int(aid): path for aid, path in data["audio"].items()},
            numbers={number: NumberOwner.parse(owner, number)
                     for number, owner in data["numbers"].items()},
            tts=TtsSettings(**data["tts"]),
            language=data["language"],
            # A file written before queues existed has none.
            queues={number: _queue(queue) for number, queue in data.get("queues", {}).items()},
            transfer=TransferSettings(**data.get("transfer", {})),
            # A file written before rules existed has none.
            rules={number: tuple(_rule(rule) for rule in found)
                   for number, found in data.get("rules", {}).items()},
            schedules={int(sid): _schedule(schedule)
                       for sid, schedule in data.get("schedules", {}).items()},
            lines=tuple(OutboundLine(**line) for line in data.get("lines", ())),
        )
    except (KeyError, TypeError, AttributeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not a Telecenter menu plan: {exc}") from None


def _queue(data: dict) -> Queue:
    """A queue as ``plan_to_json`` wrote it (members and keys as lists)."""
    return Queue(**{**data, "members": tuple(data["members"]),
                    "keys": tuple(QueueKey(**key) for key in data["keys"])})


def _rule(data: dict) -> Rule:
    """A rule as ``plan_to_json`` wrote it (lists for tuples)."""
    return Rule(**{**data, **{name: tuple(data[name]) for name in
                              ("caller_numbers", "caller_regexes", "time_ranges", "weekdays")}})


def _schedule(data: dict) -> Schedule:
    """A schedule as ``plan_to_json`` wrote it."""
    return Schedule(**{**data, "hours": tuple(Span(**span) for span in data["hours"]),
                       "dates": tuple(SpecialDate(**entry) for entry in data["dates"])})
