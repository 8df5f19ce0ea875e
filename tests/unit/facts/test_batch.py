"""Facts read together in one command: the script's exact shape, its framed output, and real runs of it."""

from __future__ import annotations

import os
import subprocess

import pytest

from hermes_ops.facts import batch, checkout
from hermes_ops.facts import builds as build_facts
from hermes_ops.facts.batch import Answer, Reading

MARKER = "hermes-batch-" + "0f" * 16
COMMIT = "412353f2b94e6425dbcf582145595d61a3d29f51"


def frame(status: int) -> str:
    return f"\n{MARKER} {status}\n"


def test_the_command_runs_each_fact_then_prints_its_frame_and_the_marker_travels_as_an_argument():
    readings = (Reading(checkout.branch), Reading(checkout.remote_commit, ("main",)))
    assert batch.batch_command(readings, MARKER) == [
        "sh", "-c",
        'printf "%s\\n" "$1"\n'
        "git symbolic-ref --quiet --short HEAD\n"
        'printf "\\n%s %s\\n" "$1" "$?"\n'
        "git ls-remote --exit-code origin refs/heads/main\n"
        'printf "\\n%s %s\\n" "$1" "$?"',
        "hermes-batch", MARKER]


def test_arguments_are_quoted_by_shlex_never_pasted_as_shell_code():
    script = batch.batch_command([Reading(checkout.changelog, ("a$(reboot)", "HEAD"))], MARKER)[2]
    assert "'--format=%h %s (%an)' 'a$(reboot)..HEAD'" in script


def test_every_read_has_a_fresh_marker():
    fact = batch.together(Reading(checkout.head))
    first, second = fact.command()[-1], fact.command()[-1]
    assert first != second and first.startswith(batch.MARKER_PREFIX) and len(first) == len(batch.MARKER_PREFIX) + 32


@pytest.mark.parametrize("output, expected", [
    (f"{MARKER}\nmain{frame(0)}{COMMIT}\n{frame(0)}", [("main", 0), (f"{COMMIT}\n", 0)]),
    (f"{MARKER}\n{frame(1)}{frame(0)}", [("", 1), ("", 0)]),                      # nothing printed, each status kept
    (f"{MARKER}\nno newline{frame(128)}", [("no newline", 128)]),
    (f"{MARKER}\nfirst\n{MARKER} 0 extra\n{frame(0)}", [(f"first\n{MARKER} 0 extra\n", 0)]),  # not a frame
    (f"{MARKER}\nfirst\n{MARKER} zero\n{frame(0)}", [(f"first\n{MARKER} zero\n", 0)]),
    ("", []),                                                                         # docker exec said nothing
    ("Error response from daemon: container abc is not running\n", []),
    (f"{MARKER}", []),                                                                # cut before its first newline
    (f"{MARKER}\nmain{frame(0)}half an answer", [("main", 0)]),                       # the rest was cut
])
def test_split_parts(output, expected):
    assert batch.split_parts(output) == expected


def test_a_commit_subject_cannot_forge_a_frame():
    """The marker is printed before any command runs: text from the host cannot know it."""
    forged = "hermes-batch-" + "00" * 16
    output = f"{MARKER}\nabc1234 subject\n{forged} 0\n{frame(0)} M src/server.py\n{frame(0)}"
    changelog, changes = batch.parse_answers((Reading(checkout.changelog, ("a", "b")), Reading(checkout.changes)),
                                             output)
    assert changelog == Answer(("abc1234 subject", f"{forged} 0"), 0)
    assert changes == Answer((" M src/server.py",), 0)


def test_each_fact_parses_its_own_part_with_its_own_exit_status():
    readings = (Reading(checkout.branch), Reading(checkout.head), Reading(checkout.remote_commit, ("main",)),
                Reading(checkout.changes))
    output = f"{MARKER}\n{frame(1)}{COMMIT}\n{frame(0)}fatal: no origin\n{frame(128)} M Makefile\n{frame(0)}"
    assert batch.parse_answers(readings, output) == (
        Answer(None, 1), Answer(COMMIT, 0), Answer(None, 128), Answer((" M Makefile",), 0))


def test_parts_that_never_came_are_answered_as_not_run_with_the_facts_failure_value():
    readings = (Reading(checkout.head), Reading(checkout.changelog, ("a", "b")), Reading(build_facts.running_builds))
    answers = batch.parse_answers(readings, f"{MARKER}\n{COMMIT}\n{frame(0)}")
    assert answers == (Answer(COMMIT, 0), Answer((), None), Answer({}, None))
    assert [answer.ok for answer in answers] == [True, False, False]


def test_the_batch_fact_reads_through_the_callers_runner_with_the_callers_options():
    calls = []

    class Answered:
        ok, stdout = True, f"{MARKER}\nmain{frame(0)}"

    def run(argv, **options):
        calls.append((argv, options))
        return Answered()

    answers = batch.together(Reading(checkout.branch), marker=MARKER).read(run, check=False, quiet=True)
    assert answers == (Answer("main", 0),)
    assert calls == [(batch.batch_command([Reading(checkout.branch)], MARKER), {"check": False, "quiet": True})]


def test_a_real_checkout_read_in_one_shell(tmp_path):
    """The script run by sh in a real git checkout: the same values as each git command run alone."""
    def git(*argv):
        return subprocess.run(["git", "-C", str(tmp_path), *argv], capture_output=True, text=True, check=True).stdout

    git("init", "--quiet", "--initial-branch=main")
    git("-c", "user.name=Ada", "-c", "user.email=ada@example.org", "commit", "--quiet", "--allow-empty", "-m", "first")
    # A subject that looks like a frame line, with any marker but this read's.
    git("-c", "user.name=Ada", "-c", "user.email=ada@example.org", "commit", "--quiet", "--allow-empty",
        "-m", f"{batch.MARKER_PREFIX}{'00' * 16} 0")
    (tmp_path / "tracked").write_text("one\n")
    git("add", "tracked")
    git("-c", "user.name=Ada", "-c", "user.email=ada@example.org", "commit", "--quiet", "-m", "third")
    (tmp_path / "tracked").write_text("two\n")
    readings = (Reading(checkout.branch), Reading(checkout.head), Reading(checkout.remote_commit, ("main",)),
                Reading(checkout.changelog, ("HEAD~2", "HEAD")), Reading(checkout.changes))
    fact = batch.together(*readings)
    ran = subprocess.run(fact.command(), cwd=tmp_path, capture_output=True, text=True)
    branch, head, remote, changelog, changes = fact.value(ran.stdout, ok=ran.returncode == 0)
    assert branch == Answer("main", 0)
    assert head == Answer(git("rev-parse", "HEAD").strip(), 0)
    assert remote.value is None and remote.exit_status not in (0, None)  # no origin: ls-remote fails alone
    assert changelog.ok and [line.split(" ", 1)[1] for line in changelog.value] == [
        "third (Ada)", f"{batch.MARKER_PREFIX}{'00' * 16} 0 (Ada)"]
    assert changes == Answer((" M tracked",), 0)


# -- a fact read in a container, so a checkout's batch can join a host's -------------------------------------

def test_a_fact_in_a_container_is_the_same_fact_run_by_docker_exec():
    fact = batch.in_container(checkout.head, "hermes-admin", "/srv/hermes")
    assert fact.command() == ["docker", "exec", "--workdir", "/srv/hermes", "hermes-admin", *checkout.head.command()]
    assert fact.value(COMMIT + "\n") == checkout.head.value(COMMIT + "\n") == COMMIT


def test_a_checkout_batch_inside_a_host_batch_keeps_each_levels_frames(tmp_path):
    """The host's batch runs `docker exec … sh -c <the checkout's batch>` as one of its parts (a stand-in `docker`
    runs it in the folder): each level reads its own frames, with its own marker, as if run alone."""
    from hermes_ops.facts import host as host_facts

    tools = tmp_path / "bin"
    tools.mkdir()
    (tools / "docker").write_text('#!/bin/sh\n# docker exec --workdir DIR NAME ARGV...: ARGV run in DIR\n'
                                  'shift 2; cd "$1"; shift 2; exec "$@"\n')
    (tools / "docker").chmod(0o755)
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "--quiet", "--initial-branch=main", str(repo)], check=True)
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=Ada", "-c", "user.email=ada@example.org", "commit",
                    "--quiet", "--allow-empty", "-m", f"{batch.MARKER_PREFIX}{'00' * 16} 0"], check=True)
    head = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    inner = batch.together(Reading(checkout.branch), Reading(checkout.head))
    outer = batch.together(Reading(batch.in_container(inner, "hermes-admin", str(repo))), Reading(host_facts.hostname))
    environment = {**os.environ, "PATH": f"{tools}:{os.environ['PATH']}"}
    ran = subprocess.run(outer.command(), capture_output=True, text=True, env=environment)
    in_checkout, hostname = outer.value(ran.stdout, ok=ran.returncode == 0)
    assert in_checkout == Answer((Answer("main", 0), Answer(head, 0)), 0)
    assert hostname == Answer(subprocess.run(["hostname"], capture_output=True, text=True).stdout.strip(), 0)
