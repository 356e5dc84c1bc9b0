"""What Apply writes to the log when it is refused: one WARNING line each time.

Asterisk is the recording fake of test_apply.py; the server-level story (no
traceback from the AMI connection) is tests/admin_web/test_apply_logs.py.
"""

from __future__ import annotations

import logging

import pytest

from dialplan.apply import ApplyFailed, ApplyRefused, apply_now
from ivr.speaker import presynthesize_for_calls
from tests.dialplan.conftest import add_line, add_phone
from tests.dialplan.test_apply import setup  # noqa: F401


def run_apply(setup):
    conn, asterisk, settings, include = setup
    return apply_now(conn, settings, "chief", presynthesize=presynthesize_for_calls,
                     include_dir=include, asterisk=asterisk)


def logged(caplog) -> list[tuple[int, str]]:
    return [(record.levelno, record.getMessage()) for record in caplog.records
            if record.levelno >= logging.WARNING]


def test_an_apply_refused_for_its_problems_is_one_warning(setup, caplog):
    conn, _asterisk, _settings, _include = setup
    add_line(conn, "prov1", "10.0.0.1", inbound_number="555")
    with pytest.raises(ApplyRefused):
        run_apply(setup)
    assert logged(caplog) == [(logging.WARNING, "Apply by chief refused, nothing changed:"
                               " line 'prov1': inbound number 555 does not exist")]
    assert not any(record.exc_info for record in caplog.records)


def test_a_reload_asterisk_refuses_is_one_warning(setup, caplog):
    conn, asterisk, _settings, _include = setup
    add_phone(conn, "101", "pw")
    asterisk.reject_next = 1
    with pytest.raises(ApplyFailed):
        run_apply(setup)
    assert logged(caplog) == [(logging.WARNING, "Apply by chief failed: Asterisk did not take"
                               " the new configuration: reload refused: Reload refused: An"
                               " unknown error occurred; the previous files are back")]
    assert not any(record.exc_info for record in caplog.records)
