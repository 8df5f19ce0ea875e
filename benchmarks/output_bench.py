"""Benchmark a deploy whose build prints a lot: 1 MB vs 100 MB of build output (and a quiet build, for scale).

    .venv/bin/python benchmarks/output_bench.py --params /path/to/sandbox/params.yaml [--quick]

Each size is a commit made with a sandbox fault (`loud-build-1mb`, `loud-build-100mb`: the Makefile's first
recipe line prints that many bytes of 100-byte text lines, then the build is the usual good one), deployed with
`hermes-ops deploy` in deploy_bench's timed process. Reported per size: wall time, the record's files on disk,
the record's writing (time per file), and peak memory: the CLI process's own (getrusage(RUSAGE_SELF) at the end
of its main, in the process) and its kernel's (VmHWM polled every 10 ms until it exits).
Goal (issue 14): wall time close to the 1 MB build's, both peaks flat (100 MB / 1 MB close to 1), the record a
few MB at most.

Prints the report (markdown) and writes it with its JSON to benchmarks/results/. Measures; asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import _common as common  # noqa: E402
import deploy_bench  # noqa: E402

# (label, sandbox fault, bytes the build prints before its usual output)
SIZES = (("quiet", None, 0), ("1 MB", "loud-build-1mb", 1 * common.MB), ("100 MB", "loud-build-100mb", 100 * common.MB))
BASELINE = "1 MB"


def measure(sandbox: common.Sandbox, records_dir: Path, rounds: int) -> dict:
    """`rounds` of one deploy per size (quiet, 1 MB, 100 MB), each with a new commit, timed and watched."""
    runs: dict[str, list[dict]] = {label: [] for label, _, _ in SIZES}
    for number in range(rounds):
        for label, fault, _ in SIZES:
            result = deploy_bench.timed_deploy(sandbox, records_dir, fault=fault)
            result["build_output_bytes"] = build_output_bytes(result)
            runs[label].append(result)
            peaks = result.get("peak_rss_kib", {})
            log(f"output: round {number + 1}/{rounds} {label}: {result['wall']:.2f} s, cli "
                f"{(peaks.get('cli_self') or 0) / 1024:.0f} MiB, kernel {(peaks.get('kernel') or 0) / 1024:.0f} MiB"
                + ("" if result["ok"] else " FAILED"))
    sandbox.commit()  # leave origin on a quiet build for whoever deploys next
    return summarize(runs)


def build_output_bytes(result: dict) -> int | None:
    """What step 5 says the build printed (`output_bytes` in its facts), from the record."""
    record = common.load_json(Path(result["record"]).with_suffix(".json")) if result["record"] else None
    for step in (record or {}).get("steps", []):
        if step.get("name") == "build":
            return step.get("facts", {}).get("output_bytes")
    return None


def summarize(runs: dict) -> dict:
    sizes = {}
    for label, found in runs.items():
        ok = [run for run in found if run["ok"]]
        peak = lambda name: common.median(run.get("peak_rss_kib", {}).get(name) for run in ok)  # noqa: E731
        sizes[label] = {
            "runs": len(found), "failed": len(found) - len(ok),
            "outcomes": [run.get("outcome") for run in found],
            "wall": common.median(run["wall"] for run in ok),
            "build_output_bytes": common.median(run["build_output_bytes"] for run in ok),
            "record_bytes": {suffix: common.median(run["record_bytes"].get(suffix) for run in ok)
                             for suffix in ("ipynb", "json", "html")},
            "record_cost": deploy_bench.record_cost(ok),
            "cli_peak_kib": peak("cli_self"), "cli_peak_polled_kib": peak("cli"),
            "kernel_peak_kib": peak("kernel"),
            "step_build_seconds": common.median(next((step["duration"] for step in run["steps"]
                                                      if step["step"] == "build"), None) for run in ok),
        }
    base, big = sizes.get(BASELINE, {}), sizes.get("100 MB", {})
    return {"sizes": sizes, "ratios_100mb_to_1mb": {
        "wall": common.ratio(big.get("wall"), base.get("wall")),
        "cli_peak": common.ratio(big.get("cli_peak_kib"), base.get("cli_peak_kib")),
        "kernel_peak": common.ratio(big.get("kernel_peak_kib"), base.get("kernel_peak_kib")),
        "record_total": common.ratio(sum(big.get("record_bytes", {}).values() or [0]) if big else None,
                                     sum(base.get("record_bytes", {}).values() or [0]) if base else None),
    }, "runs": runs,
        "failure_samples": [run["error"] for found in runs.values() for run in found if run.get("error")][:3]}


def _mb(value) -> str:
    return "–" if value is None else f"{value / common.MB:.2f} MB"


def _mib(kib) -> str:
    return "–" if kib is None else f"{kib / 1024:.0f} MiB"


def markdown(result: dict) -> str:
    sizes, base = result["sizes"], result["sizes"].get(BASELINE, {})
    rows = []
    for label, row in sizes.items():
        files = row["record_bytes"]
        total = sum(value or 0 for value in files.values())
        rows.append([label, _mb(row["build_output_bytes"]), common.seconds(row["wall"]),
                     common.times(common.ratio(row["wall"], base.get("wall"))), common.seconds(row["step_build_seconds"]),
                     f"{_mb(files['ipynb'])} / {_mb(files['json'])} / {_mb(files['html'])}",
                     common.times(common.ratio(total, sum(value or 0 for value in base.get("record_bytes", {}).values()))),
                     f"{_mib(row['cli_peak_kib'])} ({common.times(common.ratio(row['cli_peak_kib'], base.get('cli_peak_kib')))})",
                     f"{_mib(row['kernel_peak_kib'])} "
                     f"({common.times(common.ratio(row['kernel_peak_kib'], base.get('kernel_peak_kib')))})",
                     f"{row['runs']} ({row['failed']})"])
    lines = ["## (4) Large build output", "",
             common.table(["build prints", "as recorded", "deploy wall", "ratio to 1 MB", "step 5",
                           "record .ipynb / .json / .html", "record ratio to 1 MB", "CLI peak (ratio)",
                           "kernel peak (ratio)", "runs (failed)"], rows), "",
             f"100 MB vs 1 MB: wall {common.times(result['ratios_100mb_to_1mb']['wall'])}, CLI peak "
             f"{common.times(result['ratios_100mb_to_1mb']['cli_peak'])}, kernel peak "
             f"{common.times(result['ratios_100mb_to_1mb']['kernel_peak'])} (flat ≈ 1.00×), record "
             f"{common.times(result['ratios_100mb_to_1mb']['record_total'])}. CLI peak: getrusage(RUSAGE_SELF) in "
             "the CLI process; kernel peak: its VmHWM polled every 10 ms (RUSAGE_CHILDREN is no use for the kernel: "
             "a forked child inherits its parent's resident pages, so it reports the CLI's size).", ""]
    if result["failure_samples"]:
        lines += ["Failed runs: " + "; ".join((sample or "").strip().splitlines()[-1][:200]
                                              for sample in result["failure_samples"]), ""]
    return "\n".join(lines) + "\n"


def record_cost_markdown(normal: dict | None, loud: dict) -> str:
    """(5) side by side: the record's writing for a normal deploy and for the 1 MB and 100 MB builds."""
    columns = ([("normal deploy", normal)] if normal else []) + [
        (f"{label} build", loud["sizes"][label]["record_cost"]) for label in ("1 MB", "100 MB") if label in loud["sizes"]]
    if not columns:
        return ""
    first = columns[0][1]
    rows = []
    for label, base in first.items():
        name = f"↳ {label}" if base.get("part") else f"({label}: not added)" if base.get("aside") else label
        row = [name]
        for column, (_, cost) in enumerate(columns):
            value = cost.get(label, {})
            size = value.get("bytes")
            row.append(common.milliseconds(value.get("seconds")) + (f", {_mb(size)}" if size else "")
                       + (f" ({common.times(common.ratio(value.get('seconds'), base['seconds']))})" if column else ""))
        rows.append(row)
    rows.append(["**total**"] + [common.milliseconds(deploy_bench.record_total(cost)) + (
        f" ({common.times(common.ratio(deploy_bench.record_total(cost), deploy_bench.record_total(first)))})"
        if column else "") for column, (_, cost) in enumerate(columns)])
    return "\n".join(["## (5) Record cost: writing the record (time, size; ratio to the first column)", "",
                      common.table(["part", *(name for name, _ in columns)], rows), "",
                      "The total is the local archive, the archive on the host and papermill's saves while the "
                      "cells run; ↳ rows are parts of the local archive.", ""]) + "\n"


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog="Example: " + __doc__.split("\n\n")[1].strip())
    common.add_common_arguments(parser, repeats=2)
    args = parser.parse_args(argv)
    sandbox = common.require_params(parser, args)
    facts = common.machine(sandbox)
    with common.records_folder(args.records_dir, keep=args.keep_records) as records_dir:
        result = measure(sandbox, records_dir, common.repeats(args, 2, 1))
    quiet = result["sizes"].get("quiet", {}).get("record_cost")
    return common.publish("output_bench", "Large-output benchmark", facts, {"output": result},
                          markdown(result) + "\n" + record_cost_markdown(quiet, result), args.label)


if __name__ == "__main__":
    sys.exit(main())
