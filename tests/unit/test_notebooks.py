"""The committed notebooks: valid, parameters in step with the library, no secrets, no machine paths."""

import ast
import dataclasses
import re
from pathlib import Path

import nbformat
import pytest

from hermes_ops.params import DeployParameters

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))
MACHINE_PATHS = re.compile(r"(/work/|/root/|/home/|/tmp/|/Users/|C:\\\\)")
SECRETS = re.compile(r"(-----BEGIN [A-Z ]*PRIVATE KEY-----|\b(password|passphrase|token)\s*[:=]\s*['\"]?\w|"
                     r"AKIA[0-9A-Z]{16}|gh[ps]_[A-Za-z0-9]{20,})")


@pytest.fixture(params=NOTEBOOKS, ids=lambda path: path.name)
def notebook(request):
    return request.param, nbformat.read(request.param, as_version=4)


def test_there_is_a_deploy_notebook():
    assert "deploy.ipynb" in [path.name for path in NOTEBOOKS]


def test_valid_nbformat(notebook):
    nbformat.validate(notebook[1])


def test_no_secrets_and_no_paths_of_this_machine(notebook):
    text = notebook[0].read_text()
    assert not SECRETS.search(text), SECRETS.search(text)
    assert not MACHINE_PATHS.search(text), MACHINE_PATHS.search(text)
    assert "papermill" not in notebook[1].metadata, "a committed notebook is not a papermill output"
    for cell in notebook[1].cells:
        assert "injected-parameters" not in cell.metadata.get("tags", [])


def _parameters_classes() -> dict:
    from hermes_ops.access.parameters import GrantParameters, RequestParameters

    return {"deploy.ipynb": DeployParameters, "access.ipynb": RequestParameters, "grant_access.ipynb": GrantParameters}


@pytest.mark.parametrize("name", ["deploy.ipynb", "access.ipynb", "grant_access.ipynb"])
def test_parameters_cell_matches_the_library_defaults(name):
    runbook = nbformat.read(next(path for path in NOTEBOOKS if path.name == name), as_version=4)
    cells = [cell for cell in runbook.cells if "parameters" in cell.metadata.get("tags", [])]
    assert len(cells) == 1
    tree = ast.parse(cells[0].source)
    values = {node.target.id: ast.literal_eval(node.value) for node in tree.body if isinstance(node, ast.AnnAssign)}
    defaults = {field.name: field.default for field in dataclasses.fields(_parameters_classes()[name])}
    assert values == defaults
    for line in cells[0].source.splitlines():
        assert re.match(r'^\w+: (?:\w+|"Optional\[\w+\]") = .+  # \S', line), f"parameter without type or help: {line}"


@pytest.mark.parametrize("name", ["deploy.ipynb", "rollback.ipynb", "access.ipynb", "grant_access.ipynb"])
def test_papermill_reads_every_name_of_the_parameters_cell(name):
    """papermill's own parser of the cell knows every parameter: one it cannot read (`x: bool | None`) gets a
    "Passed unknown parameter" warning on every run."""
    from papermill.translators import PythonTranslator

    runbook = nbformat.read(next(path for path in NOTEBOOKS if path.name == name), as_version=4)
    cell = next(cell for cell in runbook.cells if "parameters" in cell.metadata.get("tags", []))
    declared = [node.target.id for node in ast.parse(cell.source).body if isinstance(node, ast.AnnAssign)]
    assert [parameter.name for parameter in PythonTranslator.inspect(cell)] == declared


@pytest.mark.parametrize("name, run", [("deploy.ipynb", "deploy"), ("access.ipynb", "access"),
                                       ("grant_access.ipynb", "access")])
def test_every_step_has_narrative_then_one_short_code_cell(name, run):
    runbook = nbformat.read(next(path for path in NOTEBOOKS if path.name == name), as_version=4)
    steps = 0
    for index, cell in enumerate(runbook.cells):
        if cell.cell_type == "markdown" and re.match(r"## \d\. ", cell.source):
            code = runbook.cells[index + 1]
            assert code.cell_type == "code" and len(code.source.splitlines()) == 1
            assert re.fullmatch(rf"\w+ = {run}\.step\d_\w+\(\)", code.source)
            steps += 1
    assert steps >= 4
