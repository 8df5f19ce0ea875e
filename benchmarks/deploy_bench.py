"""Benchmark a deploy's overhead against the same remote work done by hand, and where the difference goes.

    .venv/bin/python benchmarks/deploy_bench.py --params /path/to/sandbox/params.yaml [--quick]

Interleaved, each deploy with a fresh commit on the sandbox's origin:
(a) `hermes-ops deploy` end to end, as a subprocess (wall time to exit);
(b) the same remote work as ONE raw OpenSSH script (`ssh ... sh -s < script`): pull, make, docker commit,
    tag previous/latest, remove the app, poll until health answers and /version is the new commit;
(c) a python3 kernel started (until ready) and stopped with jupyter_client, as papermill does;
(d) `hermes-ops deploy` again, in a process that times its events where the code does them (heavy imports,
    papermill, the kernel's start, readiness and shutdown, the record's writing): the breakdown;
(e) the floor: the architecture's fixed cost with no work in it, in a fresh process (`--floor-child NOTEBOOK
    OUTPUT PARAMETERS`): `import hermes_ops`, the kernel started as a deploy starts it, papermill on a notebook
    with as many code cells as the deploy's (its parameters cell, then `pass`), the kernel stopped;
(f) the deploy's own commands: the durations of every command in the records of (a) and (d), summed.
Goal (issue 14): (a) <= 1.2 x (b) + (c), and no step spending more than 100 ms beyond its commands; the slack
it leaves, 0.2 x (b), is set against the floor's own overhead (e) - (c).
Also: the record's cost (time and bytes of each file), and import times (`python -X importtime`).

Prints the report (markdown) and writes it with its JSON to benchmarks/results/. Measures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import _common as common  # noqa: E402  (standard library only: see --timed-child)

STEP_OVERHEAD_LIMIT = 0.100  # seconds a step may add beyond its own commands (issue 14)
RAW_POLL_SECONDS = 0.1  # the raw script's wait loop: what a person would type


# -- (b) the same remote work as one OpenSSH script ----------------------------------------------------------
def raw_deploy_script(params: dict, commit: str, poll: float = RAW_POLL_SECONDS, timeout: float = 90) -> str:
    """What an expert would type to deploy `commit`: the deploy's remote commands, from the same builders."""
    from hermes_ops.commands import docker, git
    from hermes_ops.commands import host as host_commands
    from hermes_ops.facts.images import COMMIT_LABEL

    admin, repo, image = params["admin_container"], params["repo_dir"], params["image"]
    repository = image.rsplit(":", 1)[0]
    tagged = f"{repository}:{commit[:12]}"
    in_checkout = lambda argv: docker.exec_in(admin, argv, workdir=repo)  # noqa: E731
    health = shlex.join(host_commands.http_body(params["health_url"], timeout_seconds=1))
    version = shlex.join(host_commands.http_body(params["version_url"], timeout_seconds=1))
    tries = max(1, int(timeout / poll))
    return "\n".join([
        "set -e",
        shlex.join(in_checkout(git.pull_fast_forward(params["branch"]))),
        shlex.join(in_checkout(shlex.split(params["build_command"]))),
        shlex.join(docker.commit(admin, tagged, labels={COMMIT_LABEL: commit})),
        shlex.join(docker.tag(image, f"{repository}:previous")),
        shlex.join(docker.tag(tagged, image)),
        shlex.join(docker.remove_container(params["app_container"])) + " >/dev/null",
        "tries=0",
        f"until {health} >/dev/null 2>&1 && [ \"$({version} 2>/dev/null)\" = {shlex.quote(commit)} ]; do",
        f"  tries=$((tries + 1)); [ \"$tries\" -lt {tries} ] || {{ echo 'not serving {commit[:12]}' >&2; exit 1; }}",
        f"  sleep {poll}",
        "done",
        "",
    ])


def raw_deploy(sandbox: common.Sandbox, poll: float = RAW_POLL_SECONDS) -> dict:
    commit = sandbox.commit()
    completed, wall = sandbox.ssh_script(raw_deploy_script(sandbox.params, commit, poll))
    return {"wall": wall, "ok": completed.returncode == 0, "commit": commit,
            "error": completed.stderr.strip()[-500:] if completed.returncode else None}


# -- (c) a kernel, started and stopped as papermill does -----------------------------------------------------
def kernel_start() -> dict:
    """A python3 kernel over IPC sockets (as hermes-ops configures papermill's): start until ready, then stop."""
    from jupyter_client.manager import KernelManager

    from hermes_ops import paths
    from hermes_ops.records import kernels

    with kernels.socket_folder() as folder:
        manager = KernelManager(kernel_name="python3", config=kernels.kernel_config(folder))
        started = time.perf_counter()
        # As nbclient starts papermill's: history in memory, in the runbooks' folder.
        manager.start_kernel(extra_arguments=["--HistoryManager.hist_file=:memory:"], cwd=str(paths.runbooks_dir()))
        client = manager.client()
        client.start_channels()
        try:
            client.wait_for_ready(timeout=60)
            ready = time.perf_counter() - started
        finally:
            stopping = time.perf_counter()
            client.stop_channels()
            manager.shutdown_kernel()
            stopped = time.perf_counter() - stopping
    return {"wall": ready, "shutdown": stopped, "ok": True}


# -- (e) the floor: the architecture's fixed cost, with no work in it -------------------------------------------
FLOOR_MARK = "floor-phases: "  # the line the floor child prints its phases on


def floor_files(folder: Path) -> tuple[Path, Path, Path]:
    """The floor's notebook, its output and its parameters (JSON), written once into `folder`.

    As many code cells as the deploy's runbook, the first its parameters cell (the deploy's, verbatim), the rest
    `pass`; the parameters: a deploy's names with their defaults (papermill injects a cell of the same size).
    """
    import dataclasses
    import json

    import nbformat

    from hermes_ops import paths
    from hermes_ops.params import DeployParameters

    deploy = nbformat.read(paths.runbooks_dir() / "deploy.ipynb", as_version=4)
    code = [cell for cell in deploy.cells if cell.cell_type == "code"]
    first = next(cell for cell in code if "parameters" in cell.metadata.get("tags", []))
    floor = nbformat.v4.new_notebook(metadata={"kernelspec": deploy.metadata.kernelspec})
    floor.cells = [nbformat.v4.new_code_cell(first.source, metadata={"tags": ["parameters"]})]
    floor.cells += [nbformat.v4.new_code_cell("pass") for _ in code[1:]]
    notebook, output, parameters = folder / "floor.ipynb", folder / "floor-output.ipynb", folder / "floor.json"
    nbformat.write(floor, notebook)
    values = {field.name: field.default for field in dataclasses.fields(DeployParameters)}
    values.update(records_dir=str(folder), run_id="20260101T000000Z_floor_000000000000")
    parameters.write_text(json.dumps(values))
    return notebook, output, parameters


def floor_run(files: tuple[Path, Path, Path]) -> dict:
    """(e): `floor_child` in a fresh interpreter, as (a) runs the CLI: wall time to exit, and its phases."""
    run = common.run_process([common.PYTHON, __file__, "--floor-child", *map(str, files)])
    return {"wall": run.wall, "ok": run.ok, "exit_code": run.exit_code, "phases": floor_phases(run.output_tail),
            "error": None if run.ok else run.output_tail[-1500:]}


def floor_phases(output: str) -> dict:
    import json

    for line in reversed(output.splitlines()):
        if line.startswith(FLOOR_MARK):
            return json.loads(line[len(FLOOR_MARK):])
    return {}


def floor_child(notebook: str, output: str, parameters_file: str) -> int:
    """What `headless.run_runbook` does minus everything of ours: the kernel started as it starts it (booting
    while papermill loads), papermill on `notebook`, the idle kernel stopped. Prints its phases' seconds.

    `hermes_ops.records.headless` is imported only for `RunbookKernel`; its import is timed apart.
    """
    phases: dict[str, float] = {}
    lap = [time.perf_counter()]

    def done(phase: str) -> None:
        now = time.perf_counter()
        phases[phase], lap[0] = now - lap[0], now

    import hermes_ops  # noqa: F401  (its speedups, as in every run)
    done("import hermes_ops")
    from hermes_ops.records import headless, kernels
    done("import hermes_ops.records.headless (ours)")
    import json

    parameters = json.loads(Path(parameters_file).read_text())
    folder = Path(notebook).parent
    with kernels.socket_folder() as sockets:
        kernel = headless.RunbookKernel(kernels.kernel_config(sockets), cwd=folder)
        done("kernel start (launch)")
        try:
            import papermill
            done("import papermill")
            papermill.execute_notebook(notebook, output, parameters=parameters, cwd=str(folder),
                                       kernel_name="python3", progress_bar=False, km=kernel.manager)
            done("papermill.execute_notebook")
        finally:
            kernel.stop(idle=True)
    done("kernel stop")
    print(FLOOR_MARK + json.dumps(phases), flush=True)
    return 0


# -- (a) and (d): hermes-ops deploy, plain and timed ----------------------------------------------------------
def cli_argv(kind: str, sandbox: common.Sandbox, records_dir: Path, overrides=()) -> list[str]:
    return [kind, "-f", str(sandbox.params_file), "--records-dir", str(records_dir), *common.REASON, *overrides]


def cli_deploy(sandbox: common.Sandbox, records_dir: Path, *, fault: str | None = None) -> dict:
    """(a): `hermes-ops deploy` as an operator runs it, after a new commit."""
    sandbox.commit(fault)
    run = common.run_process([common.HERMES_OPS, *cli_argv("deploy", sandbox, records_dir)])
    record = common.load_json(run.record.with_suffix(".json")) if run.record else None
    return {"wall": run.wall, "ok": run.ok, "exit_code": run.exit_code, "record": str(run.record or ""),
            "commands": commands_seconds(record), "error": None if run.ok else run.output_tail[-1500:]}


def timed_deploy(sandbox: common.Sandbox, records_dir: Path, *, kind: str = "deploy", fault: str | None = None,
                 overrides=(), commit: bool = True) -> dict:
    """(d): `hermes-ops deploy` (or rollback) in a process with timers (see `timed_child`), after a new commit.

    Returns the wall time, the timeline of the CLI process (events, with the cells from the notebook's
    papermill metadata), the record's cells and steps, its files' sizes, and the peak RSS of the CLI
    process and of its kernel.
    """
    if commit:
        sandbox.commit(fault)
    import tempfile

    with tempfile.NamedTemporaryFile(prefix="timings-", suffix=".json") as timings_file:
        launched = time.time()
        env = {**os.environ, "BENCH_TIMINGS": timings_file.name, "BENCH_LAUNCHED_AT": repr(launched)}
        run = common.run_process([common.PYTHON, __file__, "--timed-child",
                                  *cli_argv(kind, sandbox, records_dir, overrides)], env=env, watch_memory=True)
        timings = common.load_json(Path(timings_file.name)) or {}
    notebook = common.load_json(run.record) if run.record else None
    record = common.load_json(run.record.with_suffix(".json")) if run.record else None
    spans = event_spans(timings, launched, run.wall, notebook)
    return {"wall": run.wall, "ok": run.ok, "exit_code": run.exit_code, "record": str(run.record or ""),
            "outcome": (record or {}).get("outcome"), "error": None if run.ok else run.output_tail[-1500:],
            "timeline": timeline(spans, launched, run.wall), "stages": stages(spans, launched, run.wall),
            "cells": cells(notebook), "steps": steps(record), "commands": commands_seconds(record),
            "record_bytes": common.record_files(run.record),
            "record_duration": (record or {}).get("duration"), "not_timed": timings.get("not_timed", []),
            "peak_rss_kib": {**run.peak_rss_kib, "cli_self": timings.get("maxrss_self_kib")}}


# What the timed child times, wherever the checkout's code calls it from: (module, owner in it or "",
# attribute, event name). Each is wrapped once its module is imported and the attribute exists; one the
# code no longer has is simply not timed.
TIMED = (
    ("hermes_ops.records.headless", "", "prepare", "validate parameters"),
    ("hermes_ops.records.headless", "", "_archive_on_host", "record: archive on the host"),
    ("hermes_ops.records.store", "", "archive", "record: archive (local)"),
    ("hermes_ops.records.store", "", "_create", None),  # named by the file's suffix: "record: write .json" …
    ("hermes_ops.records.store", "", "_create_notebook", "record: notebook"),
    ("hermes_ops.records.store", "", "_render_html", "record: HTML"),
    ("hermes_ops.records.store", "", "rebuild_index", "record: index page"),
    ("hermes_ops.records.store", "", "_warm_up", "HTML exporter warm-up"),
    ("papermill", "", "execute_notebook", "papermill.execute_notebook"),
    ("papermill.engines", "NotebookExecutionManager", "save", "papermill notebook save"),
    ("jupyter_client.manager", "AsyncKernelManager", "start_kernel", "kernel start"),
    ("jupyter_client.manager", "AsyncKernelManager", "shutdown_kernel", "kernel shutdown"),
    ("jupyter_client.asynchronous.client", "AsyncKernelClient", "wait_for_ready", "kernel ready (wait)"),
)
# Imports timed where they happen (outermost per thread, first time only).
WATCHED_IMPORTS = ("papermill", "nbconvert", "nbformat", "nbclient", "jupyter_client")


def timed_child(argv: list[str]) -> int:
    """Run `hermes-ops ARGV` in this process with timers; write the events to $BENCH_TIMINGS.

    Nothing is imported ahead of the CLI (that would move its costs): an import hook times the heavy
    imports where the code does them, and wraps the `TIMED` functions as their modules arrive.
    """
    import builtins
    import inspect
    import json
    import resource
    import threading

    entered = time.time()
    events: list[tuple[str, float, float, str]] = []

    def note(name: str, started: float) -> None:
        events.append((name, started, time.time(), threading.current_thread().name))

    def wrap(owner, attribute: str, name: str | None) -> bool:
        original = getattr(owner, attribute, None)
        if original is None:
            return False
        name_of = (lambda args: name) if name else (lambda args: f"record: write {Path(args[0]).suffix}")
        if inspect.iscoroutinefunction(original):
            async def wrapper(*args, **kwargs):
                started = time.time()
                try:
                    return await original(*args, **kwargs)
                finally:
                    note(name_of(args), started)
        else:
            def wrapper(*args, **kwargs):
                started = time.time()
                try:
                    return original(*args, **kwargs)
                finally:
                    note(name_of(args), started)
        setattr(owner, attribute, wrapper)
        return True

    pending = list(TIMED)
    importing = threading.local()
    original_import = builtins.__import__

    def timed_import(name, globals=None, locals=None, fromlist=(), level=0):
        top = name.partition(".")[0] if level == 0 else ""
        watched = top in WATCHED_IMPORTS and top not in sys.modules and not getattr(importing, "active", False)
        if watched:
            importing.active, started = True, time.time()
        try:
            return original_import(name, globals, locals, fromlist, level)
        finally:
            if watched:
                importing.active = False
                note(f"import {top}", started)
            for entry in [entry for entry in pending if entry[0] in sys.modules]:
                module, owner, attribute, event = entry
                target = getattr(sys.modules[module], owner, None) if owner else sys.modules[module]
                if target is not None and wrap(target, attribute, event):
                    pending.remove(entry)

    builtins.__import__ = timed_import
    started = time.time()
    from hermes_ops.cli import main
    note("import hermes_ops.cli", started)
    started = time.time()
    try:
        code = main(argv)
    finally:
        note("main", started)
        Path(os.environ["BENCH_TIMINGS"]).write_text(json.dumps({
            "launched": float(os.environ.get("BENCH_LAUNCHED_AT", entered)), "entered": entered, "events": events,
            "not_timed": [f"{module}:{owner + '.' if owner else ''}{attribute}" for module, owner, attribute, _ in pending],
            "maxrss_self_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
    return code


# -- reading a timed run ---------------------------------------------------------------------------------------
def _utc_timestamp(text: str | None) -> float | None:
    from datetime import datetime, timezone

    if not text:
        return None
    moment = datetime.fromisoformat(text)
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()


def event_spans(timings: dict, launched: float, wall: float, notebook: dict | None) -> list[tuple]:
    """Every timed event as (name, start, end, thread), absolute times, with the process's start and exit and
    the cells (first cell's start to last cell's end, from papermill's metadata) added."""
    if not timings:
        return []
    spans = [tuple(event) for event in timings["events"]]
    spans.append(("interpreter start", launched, timings["entered"], "MainThread"))
    main = [span for span in spans if span[0] == "main"]
    if main:
        spans.append(("exit (after main)", main[0][2], launched + wall, "MainThread"))
    moments = [(_utc_timestamp(cell["metadata"]["papermill"].get("start_time")),
                _utc_timestamp(cell["metadata"]["papermill"].get("end_time")))
               for cell in (notebook or {}).get("cells", []) if cell.get("metadata", {}).get("papermill")]
    moments = [(start, end) for start, end in moments if start and end]
    if moments:
        spans.append(("the cells (first start to last end)", moments[0][0], moments[-1][1], "MainThread"))
    return spans


def timeline(spans: list[tuple], launched: float, wall: float) -> dict:
    """Per event: when it first started (seconds after launch), its total time, how often, in which thread;
    and `not covered`: the wall time no event (other than `main`) accounts for."""
    found: dict[str, dict] = {}
    for name, start, end, thread in sorted(spans, key=lambda span: span[1]):
        entry = found.setdefault(name, {"start": start - launched, "seconds": 0.0, "count": 0, "thread": thread})
        entry["seconds"] += end - start
        entry["count"] += 1
    covered, reach = 0.0, launched
    for _, start, end, _ in sorted((span for span in spans if span[0] != "main"), key=lambda span: span[1]):
        start, end = max(start, reach), min(end, launched + wall)
        if end > start:
            covered, reach = covered + end - start, end
    if spans:
        found["not covered by any event"] = {"start": None, "seconds": wall - covered, "count": None, "thread": ""}
    return found


def stages(spans: list[tuple], launched: float, wall: float) -> dict:
    """The wall time in three parts that add up: before the first cell, the cells, after the last cell."""
    cells_span = [span for span in spans if span[0] == "the cells (first start to last end)"]
    if not cells_span:
        return {}
    _, first, last, _ = cells_span[0]
    return {"before the first cell": first - launched, "the cells": last - first,
            "after the last cell": launched + wall - last}


STEP_CALL = re.compile(r"\.(step\d_\w+|preflight|rollback)\(")


def cell_label(cell: dict) -> str:
    tags = cell.get("metadata", {}).get("tags", [])
    if "injected-parameters" in tags:
        return "parameters (injected)"
    if "parameters" in tags:
        return "parameters (defaults)"
    source = "".join(cell.get("source", ""))
    match = STEP_CALL.search(source)
    if match:
        return match.group(1)
    if "from_namespace" in source:
        return "check parameters (from_namespace)"
    if "show_console" in source:
        return "step console"
    return (source.strip().splitlines() or ["(empty)"])[0][:40]


def cells(notebook: dict | None) -> list[dict]:
    """The executed code cells as papermill timed them: label and duration."""
    found = []
    for cell in (notebook or {}).get("cells", []):
        timing = cell.get("metadata", {}).get("papermill", {})
        if cell.get("cell_type") == "code" and "duration" in timing:
            found.append({"cell": cell_label(cell), "duration": timing.get("duration")})
    return found


def steps(record: dict | None) -> list[dict]:
    """Each step of the record: its duration, its commands' durations, and the difference (its own overhead)."""
    found = []
    for step in (record or {}).get("steps", []):
        commands = [command.get("duration") or 0 for command in step.get("commands", [])]
        duration = step.get("duration") or 0
        found.append({"step": step.get("name"), "number": step.get("number"), "duration": duration,
                      "commands": sum(commands), "command_count": len(commands), "own": duration - sum(commands)})
    return found


def commands_seconds(record: dict | None) -> float | None:
    """(f): the time a run spent in its remote commands, every step's commands' durations summed."""
    if not record:
        return None
    return sum(command.get("duration") or 0 for step in record.get("steps", []) for command in step.get("commands", []))


# -- import times --------------------------------------------------------------------------------------------
IMPORT_PROBES = (
    ("python -c pass (the interpreter alone)", ["-c", "pass"]),
    ("hermes-ops --help (CLI start)", ["-m", "hermes_ops", "--help"]),
    ("import hermes_ops.records.headless", ["-c", "import hermes_ops.records.headless"]),
    ("import papermill", ["-c", "import papermill"]),
    ("import hermes_ops.cli, then papermill (as the CLI does)", ["-c", "import hermes_ops.cli, papermill"]),
    ("import nbconvert", ["-c", "import nbconvert"]),
    ("import hermes_ops.runbook (the kernel's check cell)", ["-c", "import hermes_ops.runbook"]),
)


def import_times(repeats: int) -> list[dict]:
    """Each probe in a fresh interpreter with -X importtime: median wall, and the heaviest modules by own time."""
    import subprocess

    found = []
    for name, arguments in IMPORT_PROBES:
        walls, stderr = [], ""
        for _ in range(repeats):
            started = time.perf_counter()
            completed = subprocess.run([common.PYTHON, "-X", "importtime", *arguments], capture_output=True,
                                       text=True, cwd=common.REPO)
            walls.append(time.perf_counter() - started)
            stderr = completed.stderr
        modules = parse_importtime(stderr)
        heaviest = sorted(modules, key=lambda module: module[1], reverse=True)[:4]
        found.append({"probe": name, "wall": common.median(walls), "walls": walls,
                      "imports_total": sum(cumulative for _, _, cumulative, depth in modules if depth == 0),
                      "heaviest_self": [{"module": module, "self": own, "cumulative": cumulative}
                                        for module, own, cumulative, _ in heaviest]})
    return found


IMPORTTIME_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def parse_importtime(stderr: str) -> list[tuple[str, float, float, int]]:
    """(module, own seconds, cumulative seconds, nesting depth) per line of `-X importtime` output."""
    modules = []
    for line in stderr.splitlines():
        match = IMPORTTIME_LINE.match(line)
        if match:
            own, cumulative, indent, module = match.groups()
            modules.append((module, int(own) / 1e6, int(cumulative) / 1e6, (len(indent) - 1) // 2))
    return modules


# -- the measurement ---------------------------------------------------------------------------------------------
def measure(sandbox: common.Sandbox, records_dir: Path, rounds: int, *, import_repeats: int = 3,
            poll: float = RAW_POLL_SECONDS) -> dict:
    """`rounds` of (a), (b), (c), (d), (e), interleaved (the order rotates each round), after one warm-up deploy.

    (f) is read from the records of (a) and (d).
    """
    import tempfile

    runs: dict[str, list[dict]] = {"cli": [], "raw": [], "kernel": [], "timed": [], "floor": []}
    log("deploy: warm-up deploy")
    warm_up = cli_deploy(sandbox, records_dir)
    with tempfile.TemporaryDirectory(prefix="hermes-bench-floor-") as floor_folder:
        floor = floor_files(Path(floor_folder))
        kinds = {"cli": lambda: cli_deploy(sandbox, records_dir), "raw": lambda: raw_deploy(sandbox, poll),
                 "kernel": kernel_start, "timed": lambda: timed_deploy(sandbox, records_dir),
                 "floor": lambda: floor_run(floor)}
        order = list(kinds)
        for number in range(rounds):
            for kind in order[number % len(order):] + order[:number % len(order)]:
                result = kinds[kind]()
                runs[kind].append(result)
                log(f"deploy: round {number + 1}/{rounds} {kind}: {result['wall']:.2f} s"
                    + ("" if result["ok"] else " FAILED"))
    log("deploy: import times")
    return summarize(runs, import_times(import_repeats), warm_up, poll)


def summarize(runs: dict, imports: list[dict], warm_up: dict, poll: float) -> dict:
    ok = {kind: [run for run in found if run["ok"]] for kind, found in runs.items()}
    medians = {kind: common.median(run["wall"] for run in found) for kind, found in ok.items()}
    cli, raw, kernel = medians["cli"], medians["raw"], medians["kernel"]
    budget = 1.2 * raw + kernel if raw is not None and kernel is not None else None
    timed = ok["timed"]
    event_names = list(dict.fromkeys(name for run in timed for name in run["timeline"]))
    events = {}
    for name in event_names:
        found = [run["timeline"][name] for run in timed if name in run["timeline"]]
        events[name] = {"start": common.median(entry["start"] for entry in found),
                        "seconds": common.median(entry["seconds"] for entry in found),
                        "count": common.median(entry["count"] for entry in found), "thread": found[0]["thread"],
                        "runs": len(found)}
    stage_names = list(dict.fromkeys(name for run in timed for name in run["stages"]))
    step_names = list(dict.fromkeys(step["step"] for run in timed for step in run["steps"]))
    step_rows = []
    for name in step_names:
        found = [step for run in timed for step in run["steps"] if step["step"] == name]
        own = common.median(step["own"] for step in found)
        step_rows.append({"step": name, "duration": common.median(step["duration"] for step in found),
                          "commands": common.median(step["commands"] for step in found),
                          "command_count": common.median(step["command_count"] for step in found), "own": own,
                          "over_limit": own is not None and own > STEP_OVERHEAD_LIMIT})
    cell_names = list(dict.fromkeys(cell["cell"] for run in timed for cell in run["cells"]))
    cell_rows = [{"cell": name, "duration": common.median(cell["duration"] for run in timed for cell in run["cells"]
                                                          if cell["cell"] == name)} for name in cell_names]
    cell_of_step = {re.sub(r"^step\d_", "", row["cell"]): row["duration"] for row in cell_rows}
    for row in step_rows:
        row["cell"] = cell_of_step.get(row["step"])
    return {
        "medians": medians,
        "kernel_shutdown": common.median(run.get("shutdown") for run in ok["kernel"]),
        "not_timed": sorted({name for run in timed for name in run.get("not_timed", [])}),
        "timed_median": medians["timed"],
        "ratio_cli_to_raw": common.ratio(cli, raw),
        "goal": {"budget": budget, "met": cli is not None and budget is not None and cli <= budget,
                 "ratio_cli_to_budget": common.ratio(cli, budget), "rule": "cli <= 1.2 * raw + kernel start"},
        "record_duration": common.median(run["record_duration"] for run in timed),
        "floor": architecture_floor(medians, ok),
        "timeline": dict(sorted(events.items(), key=lambda item: (item[1]["start"] is None, item[1]["start"] or 0))),
        "stages": {name: common.median(run["stages"].get(name) for run in timed) for name in stage_names},
        "steps": step_rows,
        "cells": cell_rows,
        "record_cost": record_cost(timed),
        "imports": imports,
        "raw_poll_seconds": poll,
        "failures": {kind: len(found) - len(ok[kind]) for kind, found in runs.items()},
        "failure_samples": [run["error"] for found in runs.values() for run in found if run.get("error")][:3],
        "warm_up_ok": warm_up["ok"],
        "runs": runs,
    }


def architecture_floor(medians: dict, ok: dict) -> dict:
    """(e) and (f) against the goal: the slack it leaves over the raw script and a kernel start (0.2 × (b)), what
    the floor alone takes of it ((e) − (c)), and what the tool adds beyond its own commands and one kernel start."""
    cli, raw, kernel, floor = (medians.get(kind) for kind in ("cli", "raw", "kernel", "floor"))
    own = {kind: common.median(run.get("commands") for run in ok[kind]) for kind in ("cli", "timed")}
    commands = own["cli"] if own["cli"] is not None else own["timed"]
    known = lambda *values: all(value is not None for value in values)  # noqa: E731
    slack = 0.2 * raw if known(raw) else None
    floor_overhead = floor - kernel if known(floor, kernel) else None
    budget = 1.2 * commands + kernel if known(commands, kernel) else None
    phase_names = list(dict.fromkeys(name for run in ok["floor"] for name in run.get("phases", {})))
    return {
        "floor": floor,
        "floor_phases": {name: common.median(run["phases"].get(name) for run in ok["floor"]) for name in phase_names},
        "own_commands": own,
        "own_commands_of": "cli" if own["cli"] is not None else "timed",
        "slack": slack,
        "floor_overhead": floor_overhead,
        "floor_exceeds_slack": floor_overhead > slack if known(floor_overhead, slack) else None,
        "tool_beyond_commands_and_kernel": cli - commands - kernel if known(cli, commands, kernel) else None,
        "tool_beyond_commands_and_floor": cli - commands - floor if known(cli, commands, floor) else None,
        "goal_against_commands": {"budget": budget, "met": cli <= budget if known(cli, budget) else None,
                                  "ratio_cli_to_budget": common.ratio(cli, budget),
                                  "rule": "cli <= 1.2 * own commands + kernel start"},
    }


# The record's writing: (label, timeline event, record file suffix whose size goes with it, part of the local
# archive). The total is the local archive + the host archive + papermill's saves; the parts are inside the first.
RECORD_EVENTS = (
    ("local archive (all of it)", "record: archive (local)", None, False),
    ("JSON summary", "record: write .json", "json", True),
    ("notebook (read, verdict cell, write)", "record: notebook", "ipynb", True),
    ("HTML (render, write)", "record: HTML", "html", True),
    ("index page", "record: index page", None, True),
    ("archive on the host", "record: archive on the host", None, False),
    ("papermill's saves of the running notebook", "papermill notebook save", None, False),
)
# Shown beside, not added: work done off the main thread or inside the parts above.
RECORD_ASIDES = (("import nbconvert", "import nbconvert"), ("HTML exporter warm-up", "HTML exporter warm-up"))


def record_cost(timed_runs: list[dict]) -> dict:
    """Median time (and bytes, count) of each part of writing the record, over `timed_deploy` results."""
    def event(run, name, key="seconds"):
        return run["timeline"].get(name, {}).get(key)

    cost = {}
    for label, name, suffix, part in RECORD_EVENTS:
        cost[label] = {"seconds": common.median(event(run, name) for run in timed_runs), "part": part,
                       "count": common.median(event(run, name, "count") for run in timed_runs),
                       "bytes": common.median(run["record_bytes"].get(suffix) for run in timed_runs) if suffix
                       else None}
    for label, name in RECORD_ASIDES:
        cost[label] = {"seconds": common.median(event(run, name) for run in timed_runs), "aside": True,
                       "thread": next((run["timeline"][name]["thread"] for run in timed_runs
                                       if name in run["timeline"]), None)}
    return cost


def record_total(cost: dict) -> float:
    return sum(value["seconds"] or 0 for value in cost.values() if not value.get("part") and not value.get("aside"))


def record_cost_rows(cost: dict, wall: float | None) -> list[list]:
    share = lambda seconds: f"{100 * seconds / wall:.1f} %" if seconds is not None and wall else ""  # noqa: E731
    rows = []
    for label, value in cost.items():
        size = value.get("bytes")
        name = f"↳ {label}" if value.get("part") else f"({label}, {value.get('thread')}: not added)" \
            if value.get("aside") else label
        count = f" ×{value['count']:.0f}" if value.get("count") and value["count"] > 1 else ""
        rows.append([name, common.milliseconds(value["seconds"]) + count,
                     f"{size / common.MB:.2f} MB" if size else "", share(value["seconds"])])
    rows.append(["**total**", common.milliseconds(record_total(cost)), "", share(record_total(cost))])
    return rows


# -- the report ---------------------------------------------------------------------------------------------------
def markdown(result: dict, *, with_record_cost: bool = True) -> str:
    """The report's deploy sections; run_all leaves the record cost to its side-by-side table (`output_bench`)."""
    medians, goal, raw = result["medians"], result["goal"], result["medians"]["raw"]
    count = {kind: len(found) for kind, found in result["runs"].items()}
    lines = ["## (1) Deploy overhead", "",
             common.table(["", "median", "runs (failed)", "ratio to the raw script"], [
                 ["(a) `hermes-ops deploy`, wall to exit", common.seconds(medians["cli"]),
                  f"{count['cli']} ({result['failures']['cli']})", common.times(result["ratio_cli_to_raw"])],
                 ["(b) the same remote work, one raw `ssh` script", common.seconds(raw),
                  f"{count['raw']} ({result['failures']['raw']})", "1.00×"],
                 ["(c) kernel start (until ready)", common.seconds(medians["kernel"]),
                  f"{count['kernel']} ({result['failures']['kernel']})",
                  common.times(common.ratio(medians["kernel"], raw))],
                 ["(d) `hermes-ops deploy` with timers (breakdown)", common.seconds(medians["timed"]),
                  f"{count['timed']} ({result['failures']['timed']})", common.times(common.ratio(medians["timed"], raw))],
                 ["the runbook's own `duration` (in the kernel)", common.seconds(result["record_duration"]), "",
                  common.times(common.ratio(result["record_duration"], raw))],
                 *floor_rows(result, count, raw),
             ]), "",
             f"Goal (a) ≤ 1.2 × (b) + (c) = {common.seconds(goal['budget'])}: "
             f"**{'met' if goal['met'] else 'not met'}** ((a) is {common.times(goal['ratio_cli_to_budget'])} "
             f"the budget). The raw script polls every {result['raw_poll_seconds']} s; kernel shutdown "
             f"{common.seconds(result['kernel_shutdown'])}.", "", *floor_paragraphs(result)]
    if result.get("not_timed"):
        lines += ["Not timed (this checkout has no such function): " + ", ".join(result["not_timed"]) + ".", ""]
    if any(result["failures"].values()):
        lines += ["Failed runs (excluded from the medians): " + "; ".join(
            (sample or "").strip().splitlines()[-1][:200] for sample in result["failure_samples"]), ""]
    wall = medians["timed"]
    stages = result["stages"]
    lines += ["### Where (d)'s time goes", "",
              "In three parts that add up (the cells' times from papermill's metadata): " + ", ".join(
                  f"{name} {common.seconds(value)} ({100 * value / wall:.0f} %)" for name, value in stages.items()
                  if value is not None and wall) + ".", "",
              "Every timed event, in the order they start (medians; events in other threads overlap the main "
              "thread's):", "",
              common.table(["event", "thread", "starts at", "takes", "count", "share of (d)"], [
                  [name, "" if entry["thread"] == "MainThread" else entry["thread"],
                   common.seconds(entry["start"]) if entry["start"] is not None else "",
                   common.milliseconds(entry["seconds"]),
                   f"{entry['count']:.0f}" if entry["count"] and entry["count"] > 1 else "",
                   f"{100 * entry['seconds'] / wall:.1f} %" if wall and entry["seconds"] is not None else ""]
                  for name, entry in result["timeline"].items()]), "",
              "### Steps (from the records): own overhead = step duration − its commands' durations", "",
              common.table(["step", "duration", "commands (n)", "own overhead", "own / step", "> 100 ms",
                            "its cell", "cell − step"], [
                  [step["step"], common.milliseconds(step["duration"]),
                   f"{common.milliseconds(step['commands'])} ({step['command_count']:.0f})",
                   common.milliseconds(step["own"]), common.times(common.ratio(step["own"], step["duration"])),
                   "**yes**" if step["over_limit"] else "no", common.milliseconds(step.get("cell")),
                   common.milliseconds(step["cell"] - step["duration"]) if step.get("cell") is not None else "–"]
                  for step in result["steps"]]), "",
              "### Cells (papermill's per-cell durations)", "",
              common.table(["cell", "median", "share of (d)"], [
                  [cell["cell"], common.milliseconds(cell["duration"]),
                   f"{100 * cell['duration'] / wall:.1f} %" if wall and cell["duration"] is not None else ""]
                  for cell in result["cells"]]), "",
              "### Imports (`python -X importtime`, fresh interpreter each)", ""]
    bare = result["imports"][0]["wall"] if result["imports"] else None
    lines.append(common.table(["probe", "wall", "ratio to the bare interpreter", "heaviest modules (own time)"], [
        [probe["probe"], common.milliseconds(probe["wall"]), common.times(common.ratio(probe["wall"], bare)),
         ", ".join(f"{module['module']} {1000 * module['self']:.0f} ms" for module in probe["heaviest_self"][:3])]
        for probe in result["imports"]]))
    if with_record_cost:
        lines += ["", "## (5) Record cost, normal deploy (median of (d))", "",
                  common.table(["part", "time", "size", "share of (d)"],
                               record_cost_rows(result["record_cost"], wall)), "",
                  "The total is the local archive, the archive on the host and papermill's saves while the "
                  "cells run; ↳ rows are parts of the local archive."]
    return "\n".join(lines) + "\n"


def floor_rows(result: dict, count: dict, raw: float | None) -> list[list]:
    """The table's rows for (e), and (f) from the records of (a) and of (d)."""
    floor, failures = result["floor"], result["failures"]
    rows = [["(e) the floor: fresh Python, `import hermes_ops`, kernel start, papermill on as many `pass` cells, "
             "kernel stop", common.seconds(floor["floor"]), f"{count['floor']} ({failures['floor']})",
             common.times(common.ratio(floor["floor"], raw))]]
    for kind, name in (("cli", "(a)"), ("timed", "(d)")):
        own = floor["own_commands"][kind]
        rows.append([f"(f) its own commands: the command durations in {name}'s records, summed",
                     common.seconds(own), str(len([run for run in result["runs"][kind] if run.get("commands") is not None])),
                     common.times(common.ratio(own, raw))])
    return rows


def floor_paragraphs(result: dict) -> list[str]:
    """What the goal leaves for the tool once the floor is paid, and the goal read against the deploy's commands."""
    floor, medians = result["floor"], result["medians"]
    seconds = common.seconds
    own = floor["own_commands"][floor["own_commands_of"]]
    name = "(a)" if floor["own_commands_of"] == "cli" else "(d)"
    exceeds = floor["floor_exceeds_slack"]
    verdict = ("–" if exceeds is None else "**the floor alone already exceeds the slack**" if exceeds
               else "**the floor alone does not exceed the slack**")
    phases = ", ".join(f"{phase} {common.milliseconds(value)}" for phase, value in floor["floor_phases"].items())
    against = floor["goal_against_commands"]
    return [
        f"**What the goal leaves for the tool.** Slack = 1.2 × (b) + (c) − (b) − (c) = 0.2 × (b) = "
        f"{seconds(floor['slack'])}. The floor's own overhead, (e) − (c) = {seconds(floor['floor'])} − "
        f"{seconds(medians['kernel'])} = {seconds(floor['floor_overhead'])}: {verdict} "
        f"({common.times(common.ratio(floor['floor_overhead'], floor['slack']))} it). (a) − (f) − (c) = "
        f"{seconds(medians['cli'])} − {seconds(own)} − {seconds(medians['kernel'])} = "
        f"{seconds(floor['tool_beyond_commands_and_kernel'])}: what the tool adds beyond its commands and one "
        f"kernel start ((f) from {name}'s records); of it, (a) − (f) − (e) = "
        f"{seconds(floor['tool_beyond_commands_and_floor'])} is beyond the floor too.", "",
        f"(e) inside its process (medians; the interpreter's start and exit are the rest): {phases or '–'}.", "",
        f"Read against the deploy's own commands: (a) ≤ 1.2 × (f) + (c) = {seconds(against['budget'])}? "
        f"**{'–' if against['met'] is None else 'met' if against['met'] else 'not met'}** ((a) is "
        f"{common.times(against['ratio_cli_to_budget'])} that).", ""]


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog="Example: " + __doc__.split("\n\n")[1].strip())
    common.add_common_arguments(parser, repeats=5)
    parser.add_argument("--raw-poll", type=float, default=RAW_POLL_SECONDS,
                        help=f"the raw script's wait-loop interval (default {RAW_POLL_SECONDS} s)")
    args = parser.parse_args(argv)
    return parser, args


def main(argv=None) -> int:
    parser, args = parse_args(argv)
    sandbox = common.require_params(parser, args)
    facts = common.machine(sandbox)
    with common.records_folder(args.records_dir, keep=args.keep_records) as records_dir:
        result = measure(sandbox, records_dir, common.repeats(args, 5, 2), import_repeats=1 if args.quick else 3,
                         poll=args.raw_poll)
    return common.publish("deploy_bench", "Deploy benchmark", facts, {"deploy": result}, markdown(result), args.label)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--timed-child"]:
        sys.exit(timed_child(sys.argv[2:]))
    if sys.argv[1:2] == ["--floor-child"]:
        sys.exit(floor_child(*sys.argv[2:5]))
    sys.exit(main())
