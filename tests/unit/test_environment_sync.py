"""environment.yml (conda users) must ask for exactly what pyproject.toml asks for."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _normalise(requirement: str) -> tuple[str, str]:
    name, spec = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", requirement).groups()
    return name.lower().replace("_", "-"), spec.replace(" ", "")


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = [entry for entry in environment["dependencies"] if isinstance(entry, str)]
    pip_section = next(entry["pip"] for entry in environment["dependencies"] if isinstance(entry, dict))

    assert "python=3.11" in conda
    assert "-e ." in pip_section, "the package itself is installed editable through the pip section"
    conda_requirements = dict(_normalise(entry) for entry in conda if entry not in ("python=3.11", "pip"))
    pyproject_requirements = dict(_normalise(entry) for entry in project["dependencies"])
    assert conda_requirements == pyproject_requirements
    assert project["requires-python"].startswith(">=3.11")
