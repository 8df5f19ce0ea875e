"""Benchmark what users see while the app is swapped: failed health probes and the longest outage, next to the
floor (the app image's own `docker run` -> first healthy answer, timed on the host).

    .venv/bin/python benchmarks/swap_bench.py --params /path/to/sandbox/params.yaml [--quick] [--zero-downtime]

Interleaved rounds, each: a new commit; `hermes-ops deploy`; `hermes-ops rollback`; the same deploy as one raw
OpenSSH script (deploy_bench's); the floor. During each run a thread asks the health URL every 10 ms (a new
connection each time, 1 s timeout) from before the process starts (so before step 7) until it has ended.
Goal (issue 14) for the default swap: outage <= floor + 0.2 s.

`--zero-downtime` adds `measure_swaps(params, zero_downtime=True)`: 20 consecutive deploys and rollbacks with
`-p zero_downtime true`, where 0 failed probes are expected (a count, not a time); it says "not available"
when the checkout's parameters do not accept `zero_downtime`.

Prints the report (markdown) and writes it with its JSON to benchmarks/results/. Measures; asserts nothing.
"""

from __future__ import annotations

import argparse
import http.client
import shlex
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import _common as common  # noqa: E402
import deploy_bench  # noqa: E402

OUTAGE_MARGIN = 0.2  # seconds above the floor the default swap may take (issue 14)
ZERO_DOWNTIME_ROUNDS = 20
FLOOR_PORT_OFFSET = 50  # the floor's app listens on APP_PORT + this, beside the real one


# -- the probe -------------------------------------------------------------------------------------------------
class HealthProbe:
    """A thread asking `url` every `interval` seconds, as a user would: a new connection, `timeout` seconds."""

    def __init__(self, url: str, interval: float = 0.01, timeout: float = 1.0):
        parts = urlsplit(url)
        self.host, self.port, self.path = parts.hostname, parts.port or 80, parts.path or "/"
        self.interval, self.timeout = interval, timeout
        self.samples: list[tuple[float, bool]] = []  # (monotonic time the answer came, healthy)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "HealthProbe":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        time.sleep(0.1)  # a few probes after the process ended: the outage, if any, has its end
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            self.samples.append((time.monotonic(), self._healthy()))
            self._stop.wait(max(0.0, self.interval - (time.monotonic() - started)))

    def _healthy(self) -> bool:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            connection.request("GET", self.path)
            response = connection.getresponse()
            response.read()
            return response.status == 200
        except (OSError, http.client.HTTPException):
            return False
        finally:
            connection.close()

    def summary(self) -> dict:
        """Probes, failures, outages (first failure -> next success) and the longest; an unended one counts too."""
        outages, down_since = [], None
        for moment, ok in self.samples:
            if not ok and down_since is None:
                down_since = moment
            if ok and down_since is not None:
                outages.append(moment - down_since)
                down_since = None
        recovered = down_since is None
        if not recovered:
            outages.append(self.samples[-1][0] - down_since)
        return {"probes": len(self.samples), "failed": sum(1 for _, ok in self.samples if not ok),
                "outages": len(outages), "longest_outage": max(outages, default=0.0), "recovered": recovered}


# -- the runs --------------------------------------------------------------------------------------------------
def probed(url: str, action) -> dict:
    """`action()` (returning a dict with at least wall and ok) while a HealthProbe watches `url`."""
    with HealthProbe(url) as probe:
        result = action()
    return {**result, **probe.summary()}


def hermes_ops_run(sandbox: common.Sandbox, records_dir: Path, kind: str, overrides=()) -> dict:
    run = common.run_process([common.HERMES_OPS, *deploy_bench.cli_argv(kind, sandbox, records_dir, overrides)])
    record = common.load_json(run.record.with_suffix(".json")) if run.record else None
    reported = None
    for step in (record or {}).get("steps", []):
        reported = step.get("facts", {}).get("unavailable_seconds", reported)
    return {"wall": run.wall, "ok": run.ok, "outcome": (record or {}).get("outcome"),
            "reported_unavailable": reported, "error": None if run.ok else run.output_tail[-1500:]}


def floor_script(params: dict, port: int, tries: int = 3000) -> str:
    """On the host: a second app container from the app image on `port`; nanoseconds from `docker run` to its
    first healthy answer (curl every 10 ms), then it is removed."""
    from hermes_ops.commands import docker
    from hermes_ops.commands import host as host_commands

    name = f"{params['app_container']}-floor-bench"
    run = docker.run(params["image"], name=name, detach=False, remove_on_exit=True, network="host",
                     environment={"HERMES_BIND": "127.0.0.1", "HERMES_PORT": str(port)},
                     command=[f"{params['repo_dir']}/build/hermes-app"])
    health = host_commands.http_body(f"http://127.0.0.1:{port}/health", timeout_seconds=1)
    remove = shlex.join(docker.remove_container(name)) + " >/dev/null 2>&1"
    return "\n".join([
        remove + " || true",
        "started=$(date +%s%N)",
        shlex.join(run) + " >/dev/null 2>&1 &",
        "tries=0",
        f"until {shlex.join(health)} >/dev/null 2>&1; do",
        f"  tries=$((tries + 1)); [ \"$tries\" -lt {tries} ] || {{ {remove}; echo timeout; exit 1; }}",
        "  sleep 0.01",
        "done",
        "healthy=$(date +%s%N)",
        remove,
        "wait",
        "echo $((healthy - started))",
        "",
    ])


def floor(sandbox: common.Sandbox) -> dict:
    completed, wall = sandbox.ssh_script(floor_script(sandbox.params, sandbox.app_port + FLOOR_PORT_OFFSET))
    text = completed.stdout.strip().splitlines()
    ok = completed.returncode == 0 and text and text[-1].isdigit()
    return {"wall": int(text[-1]) / 1e9 if ok else None, "ok": bool(ok),
            "error": None if ok else (completed.stdout + completed.stderr)[-500:]}


def zero_downtime_unavailable(params_file: Path) -> str | None:
    """Why the zero-downtime swap cannot be measured here, or None if it can.

    The checkout's parameters must accept `-p zero_downtime true`, and the sandbox must have been brought
    up for it (its parameters file names its slots): slots on a sandbox without them would take ports
    that may be another sandbox's.
    """
    from hermes_ops.params import DeployParameters
    from hermes_ops.params_file import load_parameters

    try:
        load_parameters(Path(params_file), [("zero_downtime", "true")], DeployParameters)
    except Exception:
        return "the checkout's deploy parameters do not accept `zero_downtime`"
    params = common.Sandbox.from_params(params_file).params
    if not (params.get("zero_downtime") or params.get("app_slots")):
        return (f"the sandbox of {params_file} was not brought up for it (its parameters file names no "
                "app_slots)")
    return None


def measure_swaps(params_file, *, zero_downtime: bool = False, rounds: int = 5, records_dir: Path | None = None,
                  with_baselines: bool = True) -> dict:
    """The hook for both swaps: `rounds` of (new commit, deploy, rollback), each probed every 10 ms.

    `zero_downtime` passes `-p zero_downtime true` to every run (issue 14's opt-in mode, where the
    probe should see 0 failures over 20 consecutive deploys and rollbacks). `with_baselines` adds,
    in each round, the raw OpenSSH deploy script and the floor (docker run -> healthy, on the host).
    """
    sandbox = common.Sandbox.from_params(params_file)
    url = sandbox.params["health_url"]
    overrides = ["-p", "zero_downtime", "true"] if zero_downtime else []
    runs: dict[str, list[dict]] = {"deploy": [], "rollback": []}
    if with_baselines:
        runs.update(raw=[], floor=[])
    with common.records_folder(str(records_dir) if records_dir else None) as folder:
        for number in range(rounds):
            sandbox.commit()
            runs["deploy"].append(probed(url, lambda: hermes_ops_run(sandbox, folder, "deploy", overrides)))
            runs["rollback"].append(probed(url, lambda: hermes_ops_run(sandbox, folder, "rollback", overrides)))
            if with_baselines:
                runs["raw"].append(probed(url, lambda: deploy_bench.raw_deploy(sandbox)))
                runs["floor"].append(floor(sandbox))
            log(f"swap{' (zero downtime)' if zero_downtime else ''}: round {number + 1}/{rounds}: " + ", ".join(
                f"{kind} {found[-1].get('longest_outage', found[-1]['wall']) or 0:.2f} s"
                + ("" if found[-1]["ok"] else " FAILED") for kind, found in runs.items()))
    return summarize(runs, zero_downtime)


def summarize(runs: dict, zero_downtime: bool) -> dict:
    ok = {kind: [run for run in found if run["ok"]] for kind, found in runs.items()}
    floor_median = common.median(run["wall"] for run in ok.get("floor", []))
    kinds = {}
    for kind in ("deploy", "rollback", "raw"):
        if kind not in ok:
            continue
        outage = common.median(run["longest_outage"] for run in ok[kind])
        kinds[kind] = {
            "runs": len(runs[kind]), "failed_runs": len(runs[kind]) - len(ok[kind]),
            "failed_probes_median": common.median(run["failed"] for run in ok[kind]),
            "failed_probes_total": sum(run["failed"] for run in runs[kind]),
            "probes_median": common.median(run["probes"] for run in ok[kind]),
            "longest_outage_median": outage, "longest_outage_max": max((run["longest_outage"] for run in ok[kind]),
                                                                       default=None),
            "reported_unavailable_median": common.median(run.get("reported_unavailable") for run in ok[kind]),
            "ratio_to_floor": common.ratio(outage, floor_median),
            "goal_met": outage is not None and floor_median is not None and outage <= floor_median + OUTAGE_MARGIN,
            "wall_median": common.median(run["wall"] for run in ok[kind]),
        }
    return {"zero_downtime": zero_downtime, "floor_median": floor_median,
            "floor_runs": len(runs.get("floor", [])), "kinds": kinds, "runs": runs,
            "failure_samples": [run["error"] for found in runs.values() for run in found if run.get("error")][:3]}


# -- the report ------------------------------------------------------------------------------------------------------
NAMES = {"deploy": "`hermes-ops deploy`", "rollback": "`hermes-ops rollback`", "raw": "raw `ssh` script (deploy)"}


def markdown(result: dict | str, zero_downtime: dict | str | None = None) -> str:
    """The swap section; `result` is a `summarize` result, or why the default swap was not measured."""
    if isinstance(result, str):
        return "\n".join(["## (2) The swap: health probed every 10 ms", "", f"Default swap: {result}.", "",
                          *zero_downtime_lines(zero_downtime)]) + "\n"
    floor_median = result["floor_median"]
    lines = ["## (2) The swap: health probed every 10 ms", "",
             common.table(["", "failed probes (median)", "longest outage (median / worst)", "ratio to the floor",
                           "goal ≤ floor + 0.2 s", "the record's own `unavailable_seconds`", "runs (failed)"],
                          [[NAMES[kind], f"{row['failed_probes_median']:.0f} of {row['probes_median']:.0f}"
                            if row["probes_median"] is not None else "–",
                            f"{common.seconds(row['longest_outage_median'])} / "
                            f"{common.seconds(row['longest_outage_max'])}", common.times(row["ratio_to_floor"]),
                            ("met" if row["goal_met"] else "**not met**") if kind != "raw" else "",
                            common.seconds(row["reported_unavailable_median"]),
                            f"{row['runs']} ({row['failed_runs']})"] for kind, row in result["kinds"].items()]
                          + [["floor: `docker run` → first healthy answer, on the host", "", common.seconds(
                              floor_median), "1.00×", "", "", str(result["floor_runs"])]]), ""]
    if result["failure_samples"]:
        lines += ["Failed runs: " + "; ".join((sample or "").strip().splitlines()[-1][:200]
                                              for sample in result["failure_samples"]), ""]
    return "\n".join(lines + zero_downtime_lines(zero_downtime)) + "\n"


def zero_downtime_lines(zero_downtime: dict | str | None) -> list[str]:
    if isinstance(zero_downtime, str):
        return [f"Zero-downtime swap: {zero_downtime}.", ""]
    if not zero_downtime:
        return []
    rows = [[NAMES[kind], f"{row['failed_probes_total']} of {row['probes_median'] * row['runs']:.0f} over "
             f"{row['runs']} runs ({row['failed_runs']} failed)", common.seconds(row["longest_outage_max"]),
             common.seconds(row["wall_median"]), "met" if row["failed_probes_total"] == 0 and not row["failed_runs"]
             else "**not met**"] for kind, row in zero_downtime["kinds"].items()]
    failures = [(sample or "").strip().splitlines()[-1][:200] for sample in zero_downtime["failure_samples"]]
    return ["### Zero-downtime swap (`-p zero_downtime true`), consecutive runs", "",
            common.table(["", "failed probes (≈ probes)", "worst outage", "wall (median)", "goal: 0 failed probes"],
                         rows), "", *(["Failed runs: " + "; ".join(failures), ""] if failures else [])]


def default_swap_unavailable(params_file: Path) -> str | None:
    """Why the default swap cannot be measured on this sandbox (one brought up for zero-downtime), or None."""
    if common.Sandbox.from_params(params_file).params.get("zero_downtime"):
        return (f"not measured: the sandbox of {params_file} runs the zero-downtime set-up (haproxy and two "
                "slots); bring one up without `--zero-downtime` for the default swap")
    return None


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def zero_downtime_part(params_file: Path, records_dir: Path | None, rounds: int = ZERO_DOWNTIME_ROUNDS):
    why = zero_downtime_unavailable(params_file)
    if why:
        print(f"zero-downtime swap: not available ({why})", file=sys.stderr)
        return f"not available ({why})"
    return measure_swaps(params_file, zero_downtime=True, rounds=rounds, records_dir=records_dir,
                         with_baselines=False)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog="Example: " + __doc__.split("\n\n")[1].strip())
    common.add_common_arguments(parser, repeats=5)
    parser.add_argument("--zero-downtime", action="store_true",
                        help=f"also {ZERO_DOWNTIME_ROUNDS} consecutive deploys and rollbacks with zero_downtime")
    args = parser.parse_args(argv)
    sandbox = common.require_params(parser, args)
    facts = common.machine(sandbox)
    with common.records_folder(args.records_dir, keep=args.keep_records) as records_dir:
        result = default_swap_unavailable(sandbox.params_file) or measure_swaps(
            sandbox.params_file, rounds=common.repeats(args, 5, 2), records_dir=records_dir)
        zero = zero_downtime_part(sandbox.params_file, records_dir) if args.zero_downtime else None
    facts["load_average_after"] = common.load_average()
    text = "# Swap benchmark\n\n" + common.machine_markdown(facts) + "\n\n" + markdown(result, zero)
    print(text)
    markdown_path, _ = common.write_report("swap_bench", {"machine": facts, "swap": result, "zero_downtime": zero},
                                           text, args.label)
    print(f"written: {markdown_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
