"""hermes-ops as an ops tool: the built wheel, installed into a fresh venv, deploys from any directory.

Built from this tree, installed with its declared dependencies only (no test extra), run from a
scratch directory with a parameters file that names everything a production one would: nothing
comes from the checkout, no sandbox default does the work.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.sandbox

ROOT = Path(__file__).resolve().parents[2]
# What a build reads (what the sdist holds): copied, so the build writes nothing into the checkout.
BUILD_INPUTS = ("pyproject.toml", "README.md", "hermes_ops", "notebooks")
HIDDEN_ENVIRONMENT = ("PYTHONPATH", "VIRTUAL_ENV", "HERMES_OPS_RECORDS", "HERMES_RECORDS_DIR", "HERMES_SANDBOX_DIR",
                      "HERMES_SANDBOX_SSH_PORT", "HERMES_SANDBOX_APP_PORT", "HERMES_OPS_OPERATOR")


def _run(argv, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=600, **kwargs)


def _checked(argv, **kwargs) -> subprocess.CompletedProcess:
    result = _run(argv, **kwargs)
    assert result.returncode == 0, f"{argv} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh venv holding the wheel built from this tree and its runtime dependencies; returns the venv."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    source.mkdir()
    for name in BUILD_INPUTS:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(ROOT / name, source / name)
    _checked([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
              "--check-build-dependencies", "--wheel-dir", str(work / "dist"), str(source)])
    (wheel,) = (work / "dist").glob("hermes_ops-*.whl")
    venv = work / "venv"
    _checked([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    _checked([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--quiet", str(wheel)])
    return venv


@pytest.fixture
def operator_environment(tmp_path) -> dict[str, str]:
    """The operator's shell: no hint of the checkout or the sandbox; per-user state in an empty folder."""
    environment = {name: value for name, value in os.environ.items() if name not in HIDDEN_ENVIRONMENT}
    environment["XDG_STATE_HOME"] = str(tmp_path / "state")
    return environment


def test_the_installed_package_is_the_wheel_alone(installed, tmp_path, operator_environment):
    probe = ("import hermes_ops, json, sys; from hermes_ops import paths; "
             "print(json.dumps({'file': hermes_ops.__file__, 'path': sys.path, 'version': hermes_ops.__version__, "
             "'runbooks': str(paths.runbooks_dir()), 'sandbox': str(paths.sandbox_state_dir())}))")
    found = json.loads(_checked([str(installed / "bin" / "python"), "-c", probe], cwd=tmp_path,
                                env=operator_environment).stdout)

    assert Path(found["file"]).is_relative_to(installed)
    assert not [entry for entry in found["path"] if entry and Path(entry).resolve().is_relative_to(ROOT)]
    assert found["version"] == tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert Path(found["runbooks"]).is_relative_to(installed)
    assert sorted(path.name for path in Path(found["runbooks"]).iterdir()) == ["access.ipynb", "deploy.ipynb", "grant_access.ipynb", "rollback.ipynb"]
    assert found["sandbox"] == str(tmp_path / "state" / "hermes-ops" / "sandbox")
    (direct_url,) = installed.glob("lib/python*/site-packages/hermes_ops-*.dist-info/direct_url.json")
    assert "dir_info" not in json.loads(direct_url.read_text()), "installed from the wheel, not a source folder"
    sandbox_data = Path(found["file"]).parent / "sandbox"
    assert (sandbox_data / "service_template" / "Makefile").is_file()
    assert (sandbox_data / "droplet_files" / "supervisor.sh").is_file()

    usage = _checked([str(installed / "bin" / "python"), "-m", "hermes_ops", "--help"], cwd=tmp_path,
                     env=operator_environment)
    assert usage.stdout.startswith("usage: hermes-ops")


def test_the_installed_command_deploys_from_a_scratch_directory(installed, deployable, sandbox, tmp_path,
                                                                  operator_environment):
    deployable.commit("Packaging test: a visible change")
    scratch = tmp_path / "ops"
    scratch.mkdir()
    # As a production parameters file: every connection detail named, the key and known_hosts included.
    parameters = {name: getattr(sandbox, name) for name in (
        "host", "port", "user", "key_path", "known_hosts", "expected_hostname", "admin_container",
        "app_container", "image", "repo_dir", "branch", "build_command", "health_url", "version_url")}
    parameters.update(operator="Packaging Test", reason="deploy from an installed wheel")
    assert Path(parameters["key_path"]).is_absolute() and Path(parameters["known_hosts"]).is_absolute()
    (scratch / "params.yaml").write_text(yaml.safe_dump(parameters))

    run = _run([str(installed / "bin" / "hermes-ops"), "deploy", "-f", "params.yaml"], cwd=scratch,
               env=operator_environment)

    assert run.returncode == 0, f"exit {run.returncode}:\n{run.stdout[-4000:]}\n{run.stderr[-4000:]}"
    record = Path(run.stdout.strip().splitlines()[-1])
    assert record.parent == scratch / "records"
    for suffix in (".ipynb", ".json", ".html"):
        assert record.with_suffix(suffix).is_file(), suffix
    journal = json.loads(record.with_suffix(".json").read_text())
    assert journal["outcome"] == "success"
    assert journal["parameters"]["key_path"] == parameters["key_path"]
    assert journal["parameters"]["records_dir"] == str(scratch / "records")
