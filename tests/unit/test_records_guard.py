"""The session plumbing in the root conftest.py: records go to a session folder, and a run that writes
into the checkout's records fails."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

NESTED_TESTS = '''
import os
from pathlib import Path


def test_records_go_to_the_sessions_own_folder():
    folder = Path(os.environ["HERMES_OPS_RECORDS"])
    assert folder.is_dir() and not folder.is_relative_to(Path.cwd())
    assert "HERMES_RECORDS_DIR" not in os.environ
    (folder / "20261127T000000Z_texasca2_abc_success.json").write_text("{}")


def test_writes_a_record_into_the_checkout():
    Path("records/20261127T000000Z_texasca2_abc_success.json").write_text("{}")


def test_makes_a_records_folder_beside_the_runbooks():
    Path("notebooks/records").mkdir(parents=True)
'''


def test_a_run_that_writes_into_the_checkouts_records_fails(tmp_path):
    # tmp_path plays the checkout: the root conftest guards the folder it sits in.
    shutil.copy(ROOT / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_nested.py").write_text(NESTED_TESTS)
    (tmp_path / "records").mkdir()

    run = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", str(tmp_path)],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)

    assert run.returncode == 1, run.stdout + run.stderr
    assert "3 passed" in run.stdout
    assert "created records/20261127T000000Z_texasca2_abc_success.json" in run.stdout
    assert "created notebooks/records" in run.stdout
    assert "tests must write records to a temporary folder" in run.stdout
