"""environment.yml (conda users) must ask for exactly what pyproject.toml asks for, test extra included."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _normalise(requirement: str) -> tuple[str, str]:
    name, spec = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", requirement).groups()
    return name.lower().replace("_", "-"), spec.replace(" ", "")


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _conda() -> tuple[list[str], list[str]]:
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = [entry for entry in environment["dependencies"] if isinstance(entry, str)]
    pip_section = next(entry["pip"] for entry in environment["dependencies"] if isinstance(entry, dict))
    return conda, pip_section


def test_environment_yml_matches_pyproject():
    project = _project()
    conda, pip_section = _conda()
    assert "-e ." in pip_section, "the package itself is installed editable through the pip section"
    conda_requirements = dict(_normalise(entry) for entry in conda if not entry.startswith(("python", "pip")))
    pyproject_requirements = dict(_normalise(entry) for entry in
                                  project["dependencies"] + project["optional-dependencies"]["test"])
    assert conda_requirements == pyproject_requirements


def test_environment_yml_asks_for_the_python_versions_pyproject_supports():
    project = _project()
    conda, _ = _conda()
    python = next(entry for entry in conda if entry.startswith("python"))
    assert python.removeprefix("python") == project["requires-python"] == ">=3.11,<3.14"
    supported = [value.rsplit(" :: ", 1)[1] for value in project["classifiers"]
                 if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", value)]
    assert supported == ["3.11", "3.12", "3.13"]


def test_the_test_dependencies_are_not_runtime_dependencies():
    project = _project()
    runtime = {_normalise(entry)[0] for entry in project["dependencies"]}
    assert not runtime & {"pytest", "pytest-timeout", "playwright", "nbval", "setuptools"}
    assert {_normalise(entry)[0] for entry in project["optional-dependencies"]["test"]} >= {
        "pytest", "pytest-timeout", "playwright", "nbval"}
