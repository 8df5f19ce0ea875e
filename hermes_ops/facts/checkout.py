"""Facts about the admin container's git checkout: changes, branch, HEAD, origin's commit, the changelog.

The commands come from `hermes_ops.commands.git`; callers run them in the checkout
(`Deploy.in_admin`).
"""

from __future__ import annotations

import re

from hermes_ops.commands import git
from hermes_ops.facts.fact import Fact, first_line, lines

COMMIT = re.compile(r"[0-9a-f]{7,64}")


def parse_changes(output: str) -> tuple[str, ...]:
    """`git status --porcelain` → one line per changed file (`" M src/server.py"`); () for a clean tree."""
    return lines(output)


def parse_branch(output: str) -> str | None:
    """`git symbolic-ref --short HEAD` → the branch; None for a detached HEAD (it prints nothing, exits 1)."""
    return first_line(output) or None


def parse_commit(output: str) -> str | None:
    """`git rev-parse --verify HEAD` → the commit id; None if the output is not one."""
    word = first_line(output)
    return word if COMMIT.fullmatch(word) else None


def parse_remote_commit(output: str) -> str | None:
    """`git ls-remote` → the commit of the first ref listed (`<id>\\t<ref>`); None if none is."""
    fields = first_line(output).split()
    return fields[0] if fields and COMMIT.fullmatch(fields[0]) else None


def parse_changelog(output: str) -> tuple[str, ...]:
    """`git log --format=…` → one line per commit, newest first, as git printed it."""
    return lines(output)


changes = Fact("checkout changes", git.status_porcelain, parse_changes)
branch = Fact("checkout branch", git.current_branch, parse_branch)
head = Fact("checkout HEAD", git.head_commit, parse_commit)
remote_commit = Fact("origin's commit", git.remote_commit, parse_remote_commit)
changelog = Fact("changelog", git.changelog, parse_changelog, when_failed=())
