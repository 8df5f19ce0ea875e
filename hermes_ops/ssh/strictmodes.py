"""Refusing a trust file that someone else could have written (OpenSSH's StrictModes, for our files).

A known_hosts file decides which host we send our key's signature to and run a
production deploy on. If another user can write it, or its directory (and so replace
it), its pins prove nothing. So, like sshd with its own files, before a known_hosts
file is read it must be owned by the current user or root and not be writable by
group or others, and the same goes for the directory that holds it. A symlink is
followed and the file it resolves to is checked (with its directory).

The file is opened once and checked on the open descriptor, so the text read is the
text checked. OpenSSH also walks every directory up to $HOME; only the holding
directory is checked here.
"""

from __future__ import annotations

import os
import pwd
import shlex
import stat

from hermes_ops.errors import ConfigError


def _owner_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def _refuse_if_unsafe(status: os.stat_result, path: str, what: str, shown: str, trusted: str) -> None:
    """ConfigError if `path` (file or directory) is not owned by us or root, or others may write it."""
    me = os.getuid()
    if status.st_uid not in (me, 0):
        raise ConfigError(
            f"{what} {shown} is owned by {_owner_name(status.st_uid)}, not by you ({_owner_name(me)}) or root: "
            f"refusing to trust {trusted}",
            hint=f"use a file you own in a directory you own, or have it checked and then "
                 f"`chown {_owner_name(me)} {shlex.quote(path)}`")
    if status.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise ConfigError(
            f"{what} {shown} is writable by group or others (mode {stat.S_IMODE(status.st_mode):04o}): "
            f"refusing to trust {trusted}",
            hint=f"check that {trusted} is what you expect, then `chmod go-w {shlex.quote(path)}`")


def read_trusted_text(path: str, *, what: str = "known_hosts file",
                      trusted: str = "the host keys pinned in it") -> str | None:
    """The text of the file at `path` if it is safe to trust; None if it does not exist.

    Raises what `read_trusted_bytes` raises.
    """
    data = read_trusted_bytes(path, what=what, trusted=trusted)
    return None if data is None else data.decode("utf-8", errors="replace")


def read_trusted_bytes(path: str, *, what: str = "known_hosts file",
                       trusted: str = "the host keys pinned in it") -> bytes | None:
    """The bytes of the file at `path` if it is safe to trust; None if it does not exist.

    Raises:
        ConfigError: the file or its directory is writable by group or others, or owned by
            someone other than the current user or root; it is not a regular file; it
            cannot be read.
    """
    shown = os.path.expanduser(path)
    resolved = os.path.realpath(shown)
    if resolved != os.path.abspath(shown):
        shown = f"{shown} (a link to {resolved})"
    try:
        descriptor = os.open(resolved, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise ConfigError(f"cannot open {what} {shown}: {error.strerror}",
                          hint="check the path and its permissions") from None
    try:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):
            raise ConfigError(f"{what} {shown} is not a regular file", hint=f"give the path of a {what}")
        _refuse_if_unsafe(status, resolved, what, shown, trusted)
        directory = os.path.dirname(resolved)
        _refuse_if_unsafe(os.stat(directory), directory, f"the directory holding {what}", directory, trusted)
        with os.fdopen(descriptor, "rb") as handle:
            descriptor = None
            return handle.read()
    finally:
        if descriptor is not None:
            os.close(descriptor)
