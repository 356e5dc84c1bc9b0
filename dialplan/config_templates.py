"""The Jinja2 settings every generated Asterisk file shares.

Strict (a missing value is an error, not an empty string), no HTML escaping,
and the template's lines kept as written, so what a sysadmin reads in the
file is what the template shows.
"""

from __future__ import annotations

from pathlib import Path

import jinja2

TEMPLATE_DIR = Path(__file__).parent / "templates"


def asterisk_templates(folder: str = "") -> jinja2.Environment:
    """An environment loading the templates under dialplan/templates/`folder`."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR / folder),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
