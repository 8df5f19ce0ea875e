"""Test-session plumbing for every test path, the nbval notebooks included.

- Records go to a temporary folder: $HERMES_OPS_RECORDS is set for the whole session, so every
  deploy a test starts (in this process, a `hermes-ops` subprocess or a notebook kernel) writes
  there unless the test names its own folder. Tests never write into a user's records.
- A guard fails the run if anything in the checkout's `records/` or `notebooks/records/` was
  created, changed or removed while it ran.
- nbval runs the notebooks for real against the sandbox: each is started from the state its stored
  outputs came from (this lives here, not in notebooks/, because notebooks/ ships in the wheel).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
GUARDED = (ROOT / "records", ROOT / "notebooks" / "records")
RECORDS_ENV = "HERMES_OPS_RECORDS"  # hermes_ops.paths.RECORDS_ENV, without importing hermes_ops this early
SHOWN_CHANGES = 10

_saved_environment: dict[str, str | None] = {}
_session: dict = {}
_prepared_notebooks: set[str] = set()


def _listing() -> dict[str, tuple[int, int]]:
    """Every file and folder under the guarded folders: (size, modification time), by path."""
    found = {}
    for folder in GUARDED:
        for parent, folders, files in os.walk(folder):
            for name in folders + files:
                path = Path(parent, name)
                try:
                    stat = path.lstat()
                except FileNotFoundError:
                    continue
                found[str(path.relative_to(ROOT))] = (stat.st_size, stat.st_mtime_ns)
        if folder.exists():
            found[str(folder.relative_to(ROOT))] = (0, 0)
    return found


def _changes(before: dict, after: dict) -> list[str]:
    created = [f"created {path}" for path in sorted(after.keys() - before.keys())]
    removed = [f"removed {path}" for path in sorted(before.keys() - after.keys())]
    changed = [f"changed {path}" for path in sorted(before.keys() & after.keys()) if before[path] != after[path]]
    return created + changed + removed


def pytest_configure(config):
    records = tempfile.mkdtemp(prefix="hermes-ops-test-records-")
    for name, value in ((RECORDS_ENV, records), ("HERMES_RECORDS_DIR", None)):
        _saved_environment[name] = os.environ.get(name)
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    _session.update(records=records, before=_listing(), changes=[])


def pytest_report_header(config):
    return f"records of this run: {_session['records']} (${RECORDS_ENV})"


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    # tryfirst: before pytest sets up the notebook node, which starts its kernel.
    notebook = str(item.fspath)
    if notebook.endswith(".ipynb") and notebook not in _prepared_notebooks:
        from hermes_ops.records.living_docs import KERNEL_ENVIRONMENT, prepare_sandbox

        _prepared_notebooks.add(notebook)
        os.environ.update(KERNEL_ENVIRONMENT)  # nbval starts its kernel from this process's environment
        prepare_sandbox(item.fspath.basename)


def pytest_sessionfinish(session, exitstatus):
    changes = _changes(_session["before"], _listing())
    _session["changes"] = changes
    if changes and exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    _session["passed"] = session.exitstatus == pytest.ExitCode.OK


def pytest_terminal_summary(terminalreporter):
    changes = _session.get("changes")
    if not changes:
        return
    terminalreporter.section("the checkout's records were written to", red=True)
    for line in changes[:SHOWN_CHANGES]:
        terminalreporter.write_line(line, red=True)
    if len(changes) > SHOWN_CHANGES:
        terminalreporter.write_line(f"... and {len(changes) - SHOWN_CHANGES} more", red=True)
    terminalreporter.write_line(
        f"FAILED: tests must write records to a temporary folder (this run's: ${RECORDS_ENV}="
        f"{_session['records']}), never into {', '.join(str(folder) for folder in GUARDED)}. Pass the test's "
        "own records_dir / --records-dir, or leave the default; a deploy run from this checkout by hand while "
        "the tests ran shows up here too.", red=True)


def pytest_unconfigure(config):
    for name, value in _saved_environment.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    if _session.get("passed"):
        shutil.rmtree(_session["records"], ignore_errors=True)
