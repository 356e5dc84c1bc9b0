"""Shared by the test-bed smoke tests: private Asterisk instances and probes into them.

``make_instance`` starts a real ``dialplan.instance.AsteriskInstance`` per
call, on free ports under the test's ``tmp_path``; ``global_var`` and
``active_channels`` read its state through the CLI.
"""

from __future__ import annotations

import re

import pytest

from dialplan.instance import AsteriskInstance
from tests.conftest import require
from tests.testbed.ports import free_ports


@pytest.fixture
def make_instance(tmp_path):
    """Factory: a configured, started instance on free ports; stopped after the test.

    Its files go to ``tmp_path/<name>`` and its include directory is
    ``tmp_path/<name>-include`` (created if the test has not made it).
    """
    require("asterisk")
    started: list[AsteriskInstance] = []

    def make(name: str = "pbx", **kwargs) -> AsteriskInstance:
        sip_port, ami_port = free_ports(2)
        instance = AsteriskInstance(
            root=tmp_path / name,
            include_dir=tmp_path / f"{name}-include",
            sip_port=sip_port,
            ami_port=ami_port,
            **kwargs,
        )
        instance.include_dir.mkdir(parents=True, exist_ok=True)
        instance.write_config()
        instance.start()
        started.append(instance)
        return instance

    yield make
    for instance in started:
        instance.stop()


def global_var(instance: AsteriskInstance, name: str) -> str | None:
    """A dialplan global variable's value, or None while it is unset."""
    match = re.search(rf"^\s*{name}=(.*)$", instance.rx("dialplan show globals"), re.M)
    return match.group(1) if match else None


def active_channels(instance: AsteriskInstance) -> int:
    """How many channels the instance has up now."""
    output = instance.rx("core show channels count")
    return int(re.search(r"(\d+) active channels?", output).group(1))
