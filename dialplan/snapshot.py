"""A configuration as JSON and back: what a revision keeps of what it was made from.

The admin compares the configuration being edited with the active
revision's (pending changes, in words) and a rollback restores an earlier
revision's.  The JSON is the dataclasses of ``dialplan.configuration`` field
by field (cattrs), so a field added there is kept without code here.
"""

from __future__ import annotations

from typing import Any

import cattrs

from dialplan.configuration import Configuration

_converter = cattrs.Converter()


def configuration_to_json(config: Configuration) -> dict[str, Any]:
    """The configuration as plain JSON values (lists, dicts, strings, numbers)."""
    return _converter.unstructure(config)


def configuration_from_json(data: dict[str, Any]) -> Configuration:
    """The configuration ``configuration_to_json`` gave; a field missing from older JSON
    takes its default."""
    return _converter.structure(data, Configuration)
