"""The git builders: exact argument lists, and hostile values that stay one word on the host. No git here."""

from __future__ import annotations

import pytest

from hermes_ops.commands import git
from hermes_ops.errors import ConfigError
from hermes_ops.params import DeployParameters
from tests.unit.commands.wire import HOSTILE, words_received


def test_read_only_probes():
    assert git.status_porcelain() == ["git", "status", "--porcelain", "--untracked-files=no"]
    assert git.current_branch() == ["git", "symbolic-ref", "--quiet", "--short", "HEAD"]
    assert git.head_commit() == ["git", "rev-parse", "--verify", "HEAD"]
    assert git.remote_commit("main") == ["git", "ls-remote", "--exit-code", "origin", "refs/heads/main"]
    assert git.remote_commit("release/2.1", remote="upstream") == [
        "git", "ls-remote", "--exit-code", "upstream", "refs/heads/release/2.1"]


def test_fetch_and_pull():
    assert git.fetch("main") == ["git", "fetch", "--quiet", "origin", "refs/heads/main"]
    assert git.pull_fast_forward("main") == ["git", "pull", "--ff-only", "--no-rebase", "origin", "main"]
    assert git.pull_fast_forward("feature/x", remote="upstream") == [
        "git", "pull", "--ff-only", "--no-rebase", "upstream", "feature/x"]


def test_changelog():
    assert git.changelog("abc123", "def456") == [
        "git", "log", "--no-decorate", "--max-count=50", "--format=%h %s (%an)", "abc123..def456"]
    assert git.changelog("a", "b", limit=5)[3] == "--max-count=5"


def test_a_branch_is_always_under_refs_heads_where_git_could_read_an_option():
    # fetch and ls-remote name the ref in full, so even a branch beginning with '-' cannot be an option.
    assert git.fetch("--upload-pack=x")[-1] == "refs/heads/--upload-pack=x"
    assert git.remote_commit("-x")[-1] == "refs/heads/-x"


def test_pull_takes_the_branch_as_given_so_the_parameters_refuse_a_leading_dash():
    # `git pull ... origin -x` would read -x as an option: the deploy parameters never let one through.
    assert git.pull_fast_forward("-x")[-1] == "-x"
    with pytest.raises(ConfigError, match="branch"):
        DeployParameters(operator="Ada", branch="--upload-pack=touch PWNED").validate()


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_reach_git_as_one_word(tmp_path, value):
    for argv in (git.fetch(value), git.remote_commit(value), git.pull_fast_forward(value),
                 git.changelog(value, "HEAD")):
        assert words_received(argv, tmp_path) == argv
    assert not (tmp_path / "PWNED").exists()
