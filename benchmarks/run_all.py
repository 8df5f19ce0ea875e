"""Run issue 14's deploy benchmarks in one go and write ONE report (markdown + JSON) describing the machine.

    .venv/bin/python benchmarks/run_all.py --quick                      # brings up its own sandbox, then down
    .venv/bin/python benchmarks/run_all.py --params /path/to/params.yaml  # an existing sandbox

(1) deploy overhead and breakdown, (5) record cost (deploy_bench.py); (2) the swap's outage vs its floor
(swap_bench.py; `--zero-downtime` adds the zero-downtime swap where the sandbox supports it); (4) large build
output (output_bench.py); deploys over a link with a 40 ms round trip (latency_bench.py). Every figure is given with the baseline it is compared to, measured in the same run.
The report's path is printed last. Measures; asserts nothing.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import _common as common  # noqa: E402
import deploy_bench  # noqa: E402
import latency_bench  # noqa: E402
import output_bench  # noqa: E402
import swap_bench  # noqa: E402

PARTS = ("deploy", "swap", "output", "latency")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog="Examples:\n" + __doc__.split("\n\n")[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", help="an existing sandbox's params.yaml (default: bring up a sandbox of its own)")
    parser.add_argument("--quick", action="store_true", help="fewer repeats (2/2/1 instead of 5/5/2): a smoke run")
    parser.add_argument("--repeats", type=int, default=None, help="rounds for deploy and swap (overrides --quick)")
    parser.add_argument("--only", default=",".join(PARTS), help=f"comma-separated subset of {', '.join(PARTS)}")
    parser.add_argument("--zero-downtime", action=argparse.BooleanOptionalAction, default=None,
                        help=f"{swap_bench.ZERO_DOWNTIME_ROUNDS} consecutive zero-downtime deploys and rollbacks, last "
                             "(default: yes on a sandbox of its own, switched to that mode; with --params only if "
                             "asked, on a sandbox brought up with `sandbox up --zero-downtime`)")
    parser.add_argument("--sandbox-dir", type=Path, default=common.REPO / ".sandbox-bench",
                        help="state directory of the sandbox brought up when no --params (default .sandbox-bench/)")
    parser.add_argument("--ssh-port", type=int, default=2242, help="its sshd port (default 2242)")
    parser.add_argument("--app-port", type=int, default=8098, help="its app port (default 8098)")
    parser.add_argument("--keep-sandbox", action="store_true", help="leave the sandbox it brought up running")
    parser.add_argument("--records-dir", help="keep the runs' records here (default: a temporary folder, removed)")
    parser.add_argument("--keep-records", action="store_true", help="keep the temporary records folder")
    parser.add_argument("--label", default="", help="a name for this run in the report's file name")
    args = parser.parse_args(argv)
    if args.zero_downtime is None:
        args.zero_downtime = not args.params
    args.parts = [part.strip() for part in args.only.split(",") if part.strip()]
    unknown = set(args.parts) - set(PARTS)
    if unknown:
        parser.error(f"--only: unknown part(s) {', '.join(sorted(unknown))}")
    return args


@contextmanager
def sandbox_params(args):
    """The given params file, or one of a sandbox brought up for this run (and taken down after it)."""
    if args.params:
        yield Path(args.params)
        return
    with common.own_sandbox(args.sandbox_dir.resolve(), args.ssh_port, args.app_port, keep=args.keep_sandbox) as path:
        yield path


def zero_downtime_params(args, params_file: Path) -> Path:
    """A sandbox of this run's own is switched to zero-downtime mode (haproxy + slots) last; a given one is
    measured as it is (`sandbox up --zero-downtime` beforehand)."""
    if args.params:
        return params_file
    from hermes_ops.sandbox import SandboxConfig, SandboxHost

    return SandboxHost(SandboxConfig.load_or_default(args.sandbox_dir.resolve(), zero_downtime=True)).up()


def run(args) -> dict:
    rounds = args.repeats or (2 if args.quick else 5)
    results: dict = {"command": shlex.join([sys.executable, *sys.argv]), "quick": args.quick, "rounds": rounds}
    with sandbox_params(args) as params_file:
        sandbox = common.Sandbox.from_params(params_file)
        results["machine"] = common.machine(sandbox)
        with common.records_folder(args.records_dir, keep=args.keep_records) as records_dir:
            if "deploy" in args.parts:
                results["deploy"] = deploy_bench.measure(sandbox, records_dir, rounds,
                                                         import_repeats=1 if args.quick else 3)
            if "swap" in args.parts:
                results["swap"] = swap_bench.default_swap_unavailable(params_file) or swap_bench.measure_swaps(
                    params_file, rounds=rounds, records_dir=records_dir)
            if "output" in args.parts:
                results["output"] = output_bench.measure(sandbox, records_dir, 1 if args.quick else 2)
            if "latency" in args.parts:
                results["latency"] = latency_bench.measure(sandbox, records_dir, rounds, LINK_DELAY, None)
            if "swap" in args.parts and args.zero_downtime:
                results["zero_downtime"] = swap_bench.zero_downtime_part(zero_downtime_params(args, params_file),
                                                                         records_dir)
        results["machine"]["load_average_after"] = common.load_average()
    return results


LINK_DELAY = 0.020  # seconds each way for the latency part: a 40 ms round trip, a droplet a continent away


# -- the report --------------------------------------------------------------------------------------------------
def headline(results: dict) -> str:
    """One table of the figures issue 14 sets goals for, each next to its baseline from this run."""
    rows = []
    deploy = results.get("deploy")
    if deploy:
        medians, goal = deploy["medians"], deploy["goal"]
        rows.append(["(1) deploy wall time", common.seconds(medians["cli"]),
                     f"raw ssh script {common.seconds(medians['raw'])}, kernel start {common.seconds(medians['kernel'])}",
                     common.times(deploy["ratio_cli_to_raw"]), f"≤ 1.2 × raw + kernel = {common.seconds(goal['budget'])}",
                     "met" if goal["met"] else "**not met**"])
        over = [f"{step['step']} {common.milliseconds(step['own'])}" for step in deploy["steps"] if step["over_limit"]]
        rows.append(["(1) steps' own overhead", ", ".join(over) or "none over 100 ms", "their commands", "",
                     "each ≤ 100 ms", "met" if not over else "**not met**"])
    swap = results.get("swap")
    if isinstance(swap, str):
        rows.append(["(2) the default swap", swap, "", "", "≤ floor + 0.2 s", "–"])
    elif swap:
        for kind in ("deploy", "rollback"):
            row = swap["kinds"].get(kind)
            if row:
                rows.append([f"(2) {kind}: longest outage", common.seconds(row["longest_outage_median"]),
                             f"floor {common.seconds(swap['floor_median'])}", common.times(row["ratio_to_floor"]),
                             "≤ floor + 0.2 s", "met" if row["goal_met"] else "**not met**"])
    zero = results.get("zero_downtime")
    if isinstance(zero, dict):
        failed = sum(row["failed_probes_total"] for row in zero["kinds"].values())
        runs = sum(row["runs"] for row in zero["kinds"].values())
        rows.append(["(3) zero-downtime: failed probes", f"{failed} over {runs} runs", "", "", "0",
                     "met" if failed == 0 else "**not met**"])
    elif zero:
        rows.append(["(3) zero-downtime", zero, "", "", "0 failed probes", "–"])
    output = results.get("output")
    if output:
        ratios, sizes = output["ratios_100mb_to_1mb"], output["sizes"]
        big, base = sizes.get("100 MB", {}), sizes.get("1 MB", {})
        rows.append(["(4) 100 MB build: deploy wall", common.seconds(big.get("wall")),
                     f"1 MB build {common.seconds(base.get('wall'))}", common.times(ratios["wall"]), "close to 1×", ""])
        rows.append(["(4) 100 MB build: CLI / kernel peak RSS",
                     f"{output_bench._mib(big.get('cli_peak_kib'))} / {output_bench._mib(big.get('kernel_peak_kib'))}",
                     f"1 MB build {output_bench._mib(base.get('cli_peak_kib'))} / "
                     f"{output_bench._mib(base.get('kernel_peak_kib'))}",
                     f"{common.times(ratios['cli_peak'])} / {common.times(ratios['kernel_peak'])}", "flat", ""])
        record = sum(value or 0 for value in big.get("record_bytes", {}).values())
        rows.append(["(4) 100 MB build: record on disk", f"{record / common.MB:.2f} MB",
                     f"1 MB build {sum(v or 0 for v in base.get('record_bytes', {}).values()) / common.MB:.2f} MB",
                     common.times(ratios["record_total"]), "a few MB at most",
                     "met" if record and record <= 5 * common.MB else "**not met**"])
    if deploy and output and "100 MB" in output["sizes"]:
        normal = deploy_bench.record_total(deploy["record_cost"])
        loud = deploy_bench.record_total(output["sizes"]["100 MB"]["record_cost"])
        rows.append(["(5) writing the record, 100 MB build", common.milliseconds(loud),
                     f"normal deploy {common.milliseconds(normal)}", common.times(common.ratio(loud, normal)), "", ""])
    latency = results.get("latency")
    if latency:
        medians = latency["medians"]
        rows.append([f"deploy wall time, {2 * latency['delay_ms']} ms round trip", common.seconds(medians["cli"]),
                     f"raw ssh script {common.seconds(medians['raw'])}",
                     common.times(common.ratio(medians["cli"], medians["raw"])), "", ""])
    return common.table(["figure", "this run", "baseline (same run)", "ratio", "goal", "verdict"], rows)


def markdown(results: dict) -> str:
    parts = ["# Deploy benchmarks (issue 14)", "",
             f"Reproduce: `{results['command']}` ({results['rounds']} rounds"
             f"{', quick' if results['quick'] else ''}).", "",
             common.machine_markdown(results["machine"]), "", "## Figures", "", headline(results), ""]
    if "deploy" in results:
        parts.append(deploy_bench.markdown(results["deploy"], with_record_cost="output" not in results))
    if "swap" in results:
        parts.append(swap_bench.markdown(results["swap"], results.get("zero_downtime")))
    if "output" in results:
        parts.append(output_bench.markdown(results["output"]))
        parts.append(output_bench.record_cost_markdown(results.get("deploy", {}).get("record_cost"),
                                                       results["output"]))
    if "latency" in results:
        parts.append(latency_bench.markdown(results["latency"]))
    return "\n".join(parts)


def main(argv=None) -> int:
    args = parse_args(argv)
    results = run(args)
    text = markdown(results)
    markdown_path, json_path = common.write_report("bench", results, text, args.label)
    print(text)
    print(f"JSON: {json_path}")
    print(markdown_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
