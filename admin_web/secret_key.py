"""The key that signs session cookies: given, or made once and kept on disk.

A key made anew at each start would log everybody out at every restart, so
it is generated on the first start and kept, readable by its owner only, in
the var/ folder (never in the repository).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

FILE_NAME = "admin_secret_key"


def load_or_create(var_dir: Path) -> str:
    """The key kept in `var_dir`, created (mode 0600) when absent."""
    path = Path(var_dir) / FILE_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_text().strip()
        if key:
            return key
        raise RuntimeError(f"{path} is empty: delete it to have a new key made") from None
    with os.fdopen(fd, "w") as out:
        key = secrets.token_urlsafe(48)
        out.write(key + "\n")
    return key
