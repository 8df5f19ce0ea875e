"""Replacing a file on this machine so that a reader sees the old text or the new, never half of one."""

from __future__ import annotations

import os
from pathlib import Path


def replace_atomically(path: Path, text: str) -> None:
    """Write `text` to a partial file beside `path` (created exclusively), then rename it over `path`.

    A refused write (a full disk, a read-only folder) leaves `path` as it was and no partial file.

    Raises:
        OSError: the write or the rename was refused.
    """
    partial = Path(path).with_name(f".{Path(path).name}.{os.getpid()}.partial")
    try:
        with open(partial, "x", encoding="utf-8") as file:
            file.write(text)
        os.replace(partial, path)
    except OSError:
        partial.unlink(missing_ok=True)
        raise
