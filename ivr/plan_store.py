"""The menus the server runs: the applied plan, read from the include dir.

Apply writes ``telecenter_ivr.json`` beside the dialplan it belongs to, so
the server always walks the menus of the revision Asterisk serves.  The file
is read again only when it changed (one ``stat`` per call); a file that is
missing or broken leaves the last good plan in place and is logged once.
"""

from __future__ import annotations

import logging
from pathlib import Path

from dialplan.ivr_plan import IVR_PLAN_FILE, IvrPlan, plan_from_json

log = logging.getLogger(__name__)


class PlanStore:
    """Hands out the current plan; reloads it when Apply has written a new one."""

    def __init__(self, include_dir: Path):
        self.path = Path(include_dir) / IVR_PLAN_FILE
        self._plan = IvrPlan()
        self._seen: tuple[int, int] | None = None

    def current(self) -> IvrPlan:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return self._plan
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp != self._seen:
            self._seen = stamp
            try:
                self._plan = plan_from_json(self.path.read_text(encoding="utf-8"))
                log.info("menus of revision %s loaded (%d items)", self._plan.revision,
                         len(self._plan.items))
            except (OSError, ValueError) as exc:
                log.error("%s is not readable, keeping the menus of revision %s: %s",
                          self.path, self._plan.revision, exc)
        return self._plan
