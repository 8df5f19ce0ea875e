"""Free disk space, from POSIX `df -Pk`: the available 1K blocks of the filesystem holding a path."""

from __future__ import annotations

import re

from hermes_ops.commands import host as host_commands
from hermes_ops.facts.fact import Fact, lines

# Filesystem, 1024-blocks, Used, Available, Capacity, Mounted on. The filesystem's name and the mount
# point may contain blanks, so the numbers are found between them, not by counting columns.
_ROW = re.compile(r"^(?P<filesystem>\S.*?)\s+(?P<size>\d+)\s+(?P<used>\d+)\s+(?P<available>-?\d+)\s+"
                  r"(?P<capacity>\d+%|-)\s+(?P<mount>\S.*)$")


def parse_available_kilobytes(output: str) -> int | None:
    """The Available column of `df -Pk PATH`'s row, in KiB; None if the output holds no such row.

    Takes the last row (the one for PATH); a row that an old `df` wrapped after a long
    filesystem name is joined back first.
    """
    rows = [line for line in lines(output) if not line.startswith("Filesystem")]
    candidates = [rows[-1]] if rows else []
    if len(rows) >= 2:
        candidates.append(f"{rows[-2]} {rows[-1].strip()}")
    for row in candidates:
        match = _ROW.match(row.strip())
        if match:
            return int(match["available"])
    return None


free_kilobytes = Fact("free disk (KiB)", host_commands.disk_free_kilobytes, parse_available_kilobytes)
