"""What the wheel ships, read from pyproject.toml without building it: packages, runbooks, sandbox data."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SETUPTOOLS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_every_package_of_the_source_tree_is_listed():
    on_disk = {".".join(path.parent.relative_to(ROOT).parts) for path in (ROOT / "hermes_ops").rglob("__init__.py")}
    listed = set(SETUPTOOLS["packages"])
    assert on_disk - listed == set(), "add them to [tool.setuptools] packages in pyproject.toml: the wheel lacks them"
    assert listed - on_disk == {"hermes_ops.notebooks"}, "listed packages that no longer exist"


def test_the_runbooks_ship_from_the_top_level_notebooks_folder():
    assert SETUPTOOLS["package-dir"] == {"hermes_ops.notebooks": "notebooks"}
    assert SETUPTOOLS["package-data"]["hermes_ops.notebooks"] == ["*.ipynb"]
    assert SETUPTOOLS["include-package-data"] is False, "only the package data listed ships (no conftest, no configs)"
    runbooks = sorted(path.name for path in (ROOT / "notebooks").glob("*.ipynb"))
    assert runbooks == ["access.ipynb", "deploy.ipynb", "grant_access.ipynb", "rollback.ipynb"]
    assert not list((ROOT / "notebooks").glob("*.py")), "a module in notebooks/ would ship as hermes_ops.notebooks.*"


def test_the_sandbox_data_is_package_data():
    patterns = SETUPTOOLS["package-data"]["hermes_ops.sandbox"]
    sandbox = ROOT / "hermes_ops" / "sandbox"
    data = {path.relative_to(sandbox) for folder in ("service_template", "droplet_files")
            for path in (sandbox / folder).rglob("*") if path.is_file() and "__pycache__" not in path.parts}
    covered = {path for path in data if any(path.match(pattern) and len(path.parts) == len(Path(pattern).parts)
                                            for pattern in patterns)}
    assert data and covered == data
