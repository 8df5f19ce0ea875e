"""Checkout facts: changes (`git status --porcelain`), branch, HEAD, origin's commit, changelog."""

from __future__ import annotations

import pytest

from hermes_ops.facts import checkout

COMMIT = "412353f2b94e6425dbcf582145595d61a3d29f51"
OTHER = "7bf0b5ff53a43242bf566f55b81b290b918e9f6b"


def test_commands_are_the_git_builders():
    assert checkout.changes.command() == ["git", "status", "--porcelain", "--untracked-files=no"]
    assert checkout.branch.command() == ["git", "symbolic-ref", "--quiet", "--short", "HEAD"]
    assert checkout.head.command() == ["git", "rev-parse", "--verify", "HEAD"]
    assert checkout.remote_commit.command("main") == ["git", "ls-remote", "--exit-code", "origin", "refs/heads/main"]
    assert checkout.changelog.command(COMMIT, OTHER) == [
        "git", "log", "--no-decorate", "--max-count=50", "--format=%h %s (%an)", f"{COMMIT}..{OTHER}"]


@pytest.mark.parametrize("output, expected", [
    ("", ()),
    ("\n", ()),
    (" M src/server.py\n", (" M src/server.py",)),                   # the leading blank is the status
    (" M src/server.py\nM  Makefile\r\n", (" M src/server.py", "M  Makefile")),
    ('R  old.txt -> "new name.txt"\n', ('R  old.txt -> "new name.txt"',)),
])
def test_changes(output, expected):
    assert checkout.changes.value(output) == expected


@pytest.mark.parametrize("output, ok, expected", [
    ("main\n", True, "main"),
    ("release/2024-05\r\n", True, "release/2024-05"),
    ("", False, None),                        # detached HEAD: prints nothing, exits 1
    ("", True, None),
    ("fatal: not a git repository (or any of the parent directories): .git\n", False, None),
])
def test_branch(output, ok, expected):
    assert checkout.branch.value(output, ok=ok) == expected


@pytest.mark.parametrize("output, ok, expected", [
    (f"{COMMIT}\n", True, COMMIT),
    (f"{COMMIT}\r\n", True, COMMIT),
    ("a" * 64 + "\n", True, "a" * 64),        # sha256 repositories
    ("HEAD\n", True, None),
    ("", True, None),
    ("fatal: Needed a single revision\n", False, None),
    ('Error response from daemon: container abc is not running\n', False, None),
])
def test_head(output, ok, expected):
    assert checkout.head.value(output, ok=ok) == expected


@pytest.mark.parametrize("output, ok, expected", [
    (f"{COMMIT}\trefs/heads/main\n", True, COMMIT),
    (f"{COMMIT}\trefs/heads/main\r\n", True, COMMIT),
    (f"{COMMIT}    refs/heads/main\n", True, COMMIT),
    (f"{COMMIT}\trefs/heads/main\n{OTHER}\trefs/remotes/x/refs/heads/main\n", True, COMMIT),
    ("", False, None),                         # --exit-code: no such branch exits 2
    ("fatal: 'origin' does not appear to be a git repository\n", False, None),
    ("warning: redirecting to https://example.invalid/\n", True, None),
    ("", True, None),
])
def test_remote_commit(output, ok, expected):
    assert checkout.remote_commit.value(output, ok=ok) == expected


@pytest.mark.parametrize("output, ok, expected", [
    ("7bf0b5f Say hello (Ana B)\n412353f Initial (Bo C)\n", True,
     ("7bf0b5f Say hello (Ana B)", "412353f Initial (Bo C)")),
    ("7bf0b5f Say hello (Ana B)\r\n", True, ("7bf0b5f Say hello (Ana B)",)),
    ("7bf0b5f \x1b[31mred\x1b[0m (Eve)\n", True, ("7bf0b5f \x1b[31mred\x1b[0m (Eve)",)),  # shown escaped later
    ("", True, ()),
    ("fatal: bad revision 'abc..def'\n", False, ()),
])
def test_changelog(output, ok, expected):
    assert checkout.changelog.value(output, ok=ok) == expected
