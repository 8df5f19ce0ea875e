"""The layers stay layers: no import cycle in hermes_ops, and the deploy parameters know nothing of the sandbox.

The import graph is read from the source with `ast`, not by importing anything. An import counts
where it runs: at module level (including under `if`/`try` there), and, in a second graph, inside
functions too: a cycle closed by an import deferred into a function is still a cycle (the issue's
errors ↔ secrets and hostkeys ↔ transport were). Imports under `if TYPE_CHECKING:` never run and
are left out: a step annotated `deploy: Deploy` may name the class that calls it.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "hermes_ops"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    """Every module of the package (the sandbox's service template is Hermes's code, not ours)."""
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))
            if "service_template" not in path.parts}


def _known(name: str) -> str | None:
    """`name`, or the nearest enclosing module of the package (`hermes_ops.ssh.SSHTarget` → `hermes_ops.ssh`)."""
    while name and name not in modules():
        name = name.rpartition(".")[0]
    return name or None


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> list[str]:
    """The package modules one import statement loads."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            package = module if modules()[module].name == "__init__.py" else module.rpartition(".")[0]
            for _ in range(node.level - 1):
                package = package.rpartition(".")[0]
            base = f"{package}.{base}".rstrip(".")
        # `from package import submodule` loads the submodule; `from module import name` loads the module.
        names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules() else base for alias in node.names]
    return [known for known in map(_known, names) if known and known.startswith("hermes_ops")]


def _is_type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


@cache
def imports(module: str, *, deferred: bool) -> frozenset[str]:
    """The package modules `module` imports when it is loaded (`deferred`: or when its functions run)."""
    found: set[str] = set()

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if _is_type_checking(child):
                continue
            inside = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, (ast.Import, ast.ImportFrom)) and (deferred or not inside):
                found.update(_targets(module, child))
            visit(child, inside)

    visit(ast.parse(modules()[module].read_text(), filename=str(modules()[module])), False)
    found.discard(module)
    return frozenset(found)


def find_cycle(graph: dict[str, frozenset[str]]) -> list[str] | None:
    """One import cycle as `[a, b, ..., a]`, or None (depth-first search, in a stable order)."""
    state: dict[str, str] = {}  # "open" while on the current path, "done" once fully explored
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                return path[path.index(target):] + [target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        path.pop()
        state[node] = "done"
        return None

    for start in sorted(graph):
        if start not in state:
            cycle = visit(start)
            if cycle:
                return cycle
    return None


def import_graph(*, deferred: bool) -> dict[str, frozenset[str]]:
    return {module: imports(module, deferred=deferred) for module in modules()}


def reachable(module: str, *, packages: bool = True) -> set[str]:
    """Every module that loading and using `module` can load, deferred imports included.

    `packages`: count that importing `a.b.c` runs `a/__init__.py` and `a/b/__init__.py` first.
    """
    seen: set[str] = set()
    todo = [module]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        todo.extend(imports(current, deferred=True))
        if packages:
            parents = (".".join(current.split(".")[:index]) for index in range(1, current.count(".") + 1))
            todo.extend(parent for parent in parents if parent in modules())
    return seen


def test_the_graph_is_read_from_the_source():
    assert {"hermes_ops.errors", "hermes_ops.ssh", "hermes_ops.ssh.runner", "hermes_ops.params"} <= set(modules())
    runner = imports("hermes_ops.ssh.runner", deferred=False)
    assert {"hermes_ops.result", "hermes_ops.ssh.commandline", "hermes_ops.ssh.transport"} <= runner
    assert "hermes_ops.ssh" in imports("hermes_ops.params", deferred=True)  # `from hermes_ops.ssh import SSHTarget`
    assert "hermes_ops.ssh" not in imports("hermes_ops.params", deferred=False)  # ... inside a method


def test_find_cycle_reports_the_cycle():
    graph = {"a": frozenset({"b"}), "b": frozenset({"c"}), "c": frozenset({"a"}), "d": frozenset({"a"})}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": frozenset({"b"}), "b": frozenset()}) is None


@pytest.mark.parametrize("deferred", [False, True], ids=["module-level", "with-deferred-imports"])
def test_no_import_cycle(deferred):
    cycle = find_cycle(import_graph(deferred=deferred))
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_lowest_layer_imports_nothing_that_imports_it_back():
    for module in ("hermes_ops.terminal_text", "hermes_ops.secrets", "hermes_ops.paths"):
        assert imports(module, deferred=True) == frozenset(), module
    assert imports("hermes_ops.result", deferred=True) == {"hermes_ops.terminal_text"}
    assert imports("hermes_ops.errors", deferred=True) <= {"hermes_ops.secrets", "hermes_ops.terminal_text"}


def test_host_key_verification_needs_no_network_code():
    # Its own code, that is: the package `hermes_ops.ssh` re-exports everything, the network code included.
    assert not reachable("hermes_ops.ssh.hostkeys", packages=False) & {
        "hermes_ops.ssh.transport", "hermes_ops.ssh.auth", "hermes_ops.ssh.sockets", "hermes_ops.ssh.hostkey_pinning"}


def test_the_deploy_parameters_import_nothing_of_the_sandbox():
    sandbox = sorted(module for module in reachable("hermes_ops.params") if module.startswith("hermes_ops.sandbox"))
    assert sandbox == [], f"hermes_ops.params loads {sandbox}"
