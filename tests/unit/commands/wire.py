"""Run a builder's argument list the way the host does: quoted by the runner, then read by a real `sh`."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from hermes_ops.ssh.commandline import join_argv


def words_received(argv: list, tmp_path: Path) -> list[str]:
    """The words the program receives when `argv` goes over the wire: a stand-in for it, first on PATH,
    writes its name and arguments, NUL-separated, so any word the shell split, expanded or dropped shows."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    program = bin_dir / argv[0]
    program.write_text('#!/bin/sh\nprintf \'%s\\0\' "$0" "$@"\n')
    program.chmod(0o755)
    completed = subprocess.run(["sh", "-c", join_argv(argv, reveal=True)], capture_output=True, check=True,
                               cwd=tmp_path, env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"})
    name, *words = completed.stdout.decode().split("\0")[:-1]
    return [Path(name).name, *words]


HOSTILE = [
    "-x",
    "--upload-pack=touch PWNED",
    "$(touch PWNED)",
    "`touch PWNED`",
    "a b; touch PWNED",
    "it's \"quoted\" \\ back",
    "*",
    "~",
    "",
]
