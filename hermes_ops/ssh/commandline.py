"""How a command becomes the string sshd runs. The one place where quoting happens.

`run(argv)` arguments are joined with `shlex.join`; `run_shell(script)` passes the script
to `/bin/sh -c` as one quoted word. Either way the result is wrapped so that the remote
command

1. runs under `/bin/sh` whatever the user's login shell is (sshd hands the string to
   the login shell, which might be fish or zsh);
2. first reports its process id on stderr, in a marker line carrying a per-run nonce
   that the runner strips from the output. sshd makes each session's shell a session
   and process-group leader, and the wrapper `exec`s the command, so that pid is the
   process group of everything the command starts. On timeout the runner kills that
   group over a second channel (`kill_command`) and checks that it is gone; closing the
   channel alone would leave `sleep 600` or a stuck `docker pull` running on the host.

Nothing here does I/O; tests compare exact strings.
"""

from __future__ import annotations

import os
import re
import shlex
from typing import Sequence

from hermes_ops.errors import ConfigError
from hermes_ops.secrets import Secret

MARKER_PREFIX = b"\x1ehermes-ops:"
# How long (in 0.1 s steps) the kill script waits for SIGTERM to work before SIGKILL.
TERM_GRACE_STEPS = 30
KILL_WAIT_STEPS = 30



def _text(argument, *, reveal: bool) -> str:
    if isinstance(argument, Secret):
        return argument.reveal() if reveal else str(argument)
    if isinstance(argument, (str, os.PathLike, int)) and not isinstance(argument, bool):
        return os.fspath(argument) if not isinstance(argument, int) else str(argument)
    raise ConfigError(f"command arguments must be str, path, int or Secret, not {type(argument).__name__}",
                      hint="build commands from strings; wrap passwords and tokens in Secret")


def join_argv(argv: Sequence, *, reveal: bool) -> str:
    """The argument list as one shell-quoted string; Secrets revealed only if `reveal`."""
    if isinstance(argv, (str, bytes)) or not argv:
        raise ConfigError("run() takes a non-empty list of arguments, not a string",
                          hint="pass ['docker', 'ps'], or use run_shell() for a shell script")
    return shlex.join(_text(argument, reveal=reveal) for argument in argv)


def shell_command(script: str) -> str:
    """`/bin/sh -c '<script>'`: how run_shell hands a raw script to a POSIX shell."""
    if not isinstance(script, str) or not script.strip():
        raise ConfigError("run_shell() needs a non-empty script string")
    return f"/bin/sh -c {shlex.quote(script)}"


def wrap(command: str, nonce: str) -> str:
    """Wrap `command` so it reports its pid (= process group) on stderr, then exec it."""
    if not re.fullmatch(r"[0-9a-f]{8,64}", nonce):
        raise ValueError("nonce must be lowercase hex")
    inner = f'printf "\\036hermes-ops:{nonce}:%s\\n" "$$" >&2; exec {command}'
    return f"exec /bin/sh -c {shlex.quote(inner)}"


def marker(nonce: str) -> bytes:
    """The start of the marker line `wrap` prints for `nonce` (the pid and a newline follow)."""
    return MARKER_PREFIX + nonce.encode() + b":"


def kill_command(pid: int) -> str:
    """Stop process group `pid`: SIGTERM, wait up to 3 s, SIGKILL, then print `gone` or `alive`.

    Run over a second channel of the same connection. Zombies are waited for too, since
    `kill -0` still sees a group until sshd has reaped it.
    """
    if not isinstance(pid, int) or pid <= 1:
        raise ValueError(f"refusing to kill process group {pid!r}")
    # `kill -SIG -PID` (no `--`, no `-s`) is the spelling dash, bash and busybox all accept.
    group = f"-{pid}"
    alive = f"kill -0 {group} 2>/dev/null"
    return (f"kill -TERM {group} 2>/dev/null; i=0; "
            f"while {alive} && [ $i -lt {TERM_GRACE_STEPS} ]; do sleep 0.1; i=$((i+1)); done; "
            f"kill -KILL {group} 2>/dev/null; i=0; "
            f"while {alive} && [ $i -lt {KILL_WAIT_STEPS} ]; do sleep 0.1; i=$((i+1)); done; "
            f"if {alive}; then echo alive; else echo gone; fi")
