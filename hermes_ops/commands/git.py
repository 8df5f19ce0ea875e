"""Argument lists for git, run inside the admin container's checkout. No I/O here."""

from __future__ import annotations


def status_porcelain() -> list[str]:
    """Tracked changes only: untracked build output must not make the tree 'dirty'."""
    return ["git", "status", "--porcelain", "--untracked-files=no"]


def current_branch() -> list[str]:
    return ["git", "symbolic-ref", "--quiet", "--short", "HEAD"]


def head_commit() -> list[str]:
    return ["git", "rev-parse", "--verify", "HEAD"]


def fetch(branch: str, remote: str = "origin") -> list[str]:
    return ["git", "fetch", "--quiet", remote, f"refs/heads/{branch}"]


def remote_commit(branch: str, remote: str = "origin") -> list[str]:
    """What the remote's branch points at (read-only: no fetch, nothing written)."""
    return ["git", "ls-remote", "--exit-code", remote, f"refs/heads/{branch}"]


def pull_fast_forward(branch: str, remote: str = "origin") -> list[str]:
    return ["git", "pull", "--ff-only", "--no-rebase", remote, branch]


def changelog(before: str, after: str, limit: int = 50) -> list[str]:
    return ["git", "log", "--no-decorate", f"--max-count={limit}", "--format=%h %s (%an)", f"{before}..{after}"]
