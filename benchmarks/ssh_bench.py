"""Benchmark the SSH runner against OpenSSH, as ratios, in one run.

    .venv/bin/python benchmarks/ssh_bench.py --params .sandbox/params.yaml
    .venv/bin/python benchmarks/ssh_bench.py --host 127.0.0.1 --port 2222 --user core \\
        --key .sandbox/keys/operator_ed25519 --known-hosts .sandbox/keys/known_hosts

(a) latency: N trivial commands (`true`) through `SSHRunner.run` on one connection vs
    OpenSSH `ssh` reusing a ControlMaster connection; goal <= 0.75x OpenSSH's time. Also
    where a command's milliseconds go (channel open, exec request, remote run + drain,
    close), and the same loop with Nagle's algorithm left on, to show the stall that
    TCP_NODELAY removes.
(b) throughput: SIZE MiB of stdout (`head -c SIZE /dev/zero`) through `run` vs the same
    command through `ssh` (ControlMaster) into /dev/null; goal >= 0.8x.
(c) memory: worst tracemalloc peak of `run` for 1, 10 and SIZE MiB of output; goal: flat.

Prints a table and writes JSON to benchmarks/results/ (gitignored). Measures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import paramiko  # noqa: E402

from hermes_ops.ssh import SSHTarget, commandline, connect, sockets  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
MIB = 1024 * 1024


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--params", help="a papermill params YAML with host, port, user, key_path, known_hosts")
    parser.add_argument("--host")
    parser.add_argument("--port", type=int, default=22)
    parser.add_argument("--user")
    parser.add_argument("--key", help="private key file")
    parser.add_argument("--known-hosts")
    parser.add_argument("--commands", type=int, default=200, help="trivial commands for (a)")
    parser.add_argument("--size-mib", type=int, default=100, help="output size for (b) and (c)")
    parser.add_argument("--repeats", type=int, default=5, help="repetitions of (b); the median is reported")
    parser.add_argument("--label", default="", help="a name for this run in the JSON file")
    parser.add_argument("--log-file", help="write hermes_ops and paramiko DEBUG logs here")
    args = parser.parse_args(argv)
    if args.params:
        import yaml

        params = yaml.safe_load(Path(args.params).read_text())
        args.host = args.host or params["host"]
        args.port = int(params.get("port", args.port)) if args.port == 22 else args.port
        args.user = args.user or params["user"]
        args.key = args.key or params["key_path"]
        args.known_hosts = args.known_hosts or params["known_hosts"]
    missing = [name for name in ("host", "user", "key", "known_hosts") if not getattr(args, name)]
    if missing:
        parser.error(f"missing {', '.join(missing)} (or --params)")
    return args


class OpenSSH:
    """The `ssh` client with a ControlMaster connection kept open for the run."""

    def __init__(self, args, workdir: str):
        self.control_path = os.path.join(workdir, "cm-%C")
        self.base = ["ssh", "-F", "/dev/null", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
                     "-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={args.known_hosts}",
                     "-o", "ControlMaster=auto", "-o", f"ControlPath={self.control_path}",
                     "-o", "ControlPersist=120", "-i", args.key, "-p", str(args.port), f"{args.user}@{args.host}"]

    def run(self, command: list[str], *, multiplex: bool = True) -> None:
        """Run `command` with output to /dev/null; without `multiplex`, on a fresh connection."""
        base = self.base if multiplex else [*self.base[:1], "-o", "ControlPath=none", *self.base[1:]]
        subprocess.run([*base, *command], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def cipher(self) -> str:
        completed = subprocess.run(["ssh", "-G", *self.base[1:]], capture_output=True, text=True)
        for line in completed.stdout.splitlines():
            if line.startswith("ciphers "):
                return line.split()[1].split(",")[0] + " (first offered)"
        return "?"

    def close(self) -> None:
        subprocess.run([*self.base[:-1], "-O", "exit", self.base[-1]], capture_output=True)


def latency(runner, openssh: OpenSSH, count: int) -> dict:
    for _ in range(5):  # warm both up: ControlMaster established, first-use costs paid
        runner.run(["true"])
        openssh.run(["true"])
    started = time.perf_counter()
    for _ in range(count):
        openssh.run(["true"])
    openssh_seconds = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(count):
        runner.run(["true"])
    runner_seconds = time.perf_counter() - started
    return {"commands": count, "openssh_ms_per_command": 1000 * openssh_seconds / count,
            "runner_ms_per_command": 1000 * runner_seconds / count,
            "ratio_runner_to_openssh": runner_seconds / openssh_seconds,
            "phases_ms": phases(runner, min(count, 100))}


def phases(runner, count: int) -> dict:
    """Where one command's time goes, with the runner's own wire protocol (wrapper included)."""
    transport = runner._connection.transport
    totals = {"open_channel": 0.0, "exec_request": 0.0, "remote_run_and_drain": 0.0, "close": 0.0}
    wire = commandline.wrap("true", "0123456789abcdef")
    for _ in range(count):
        t0 = time.perf_counter()
        channel = transport.open_session()
        t1 = time.perf_counter()
        channel.exec_command(wire)
        t2 = time.perf_counter()
        channel.shutdown_write()
        while channel.recv(65536):
            pass
        while channel.recv_stderr(65536):
            pass
        channel.recv_exit_status()
        t3 = time.perf_counter()
        channel.close()
        t4 = time.perf_counter()
        for name, value in zip(totals, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
            totals[name] += value
    return {name: round(1000 * value / count, 3) for name, value in totals.items()}


def nagle_stall(target: SSHTarget, count: int) -> dict:
    """The same loop on a connection whose socket keeps Nagle on (paramiko's default)."""
    original = sockets.tune_socket
    sockets.tune_socket = lambda sock: None
    try:
        with connect(target) as runner:
            for _ in range(3):
                runner.run(["true"])
            started = time.perf_counter()
            for _ in range(count):
                runner.run(["true"])
            return {"commands": count, "ms_per_command_with_nagle": 1000 * (time.perf_counter() - started) / count}
    finally:
        sockets.tune_socket = original


def throughput(runner, openssh: OpenSSH, size: int, repeats: int) -> dict:
    """Median MiB/s of `head -c size /dev/zero` into /dev/null: runner vs ssh (mux), interleaved."""
    command = ["head", "-c", str(size), "/dev/zero"]
    samples = {"openssh": [], "openssh_no_mux": [], "runner": []}
    for _ in range(repeats):
        for name, run in (("openssh", lambda: openssh.run(command)),
                          ("openssh_no_mux", lambda: openssh.run(command, multiplex=False)),
                          ("runner", lambda: runner.run(command, timeout=600))):
            started = time.perf_counter()
            result = run()
            samples[name].append(size / (time.perf_counter() - started) / MIB)
            if result is not None:
                assert result.stdout_bytes == size, result.stdout_bytes
    medians = {name: statistics.median(rates) for name, rates in samples.items()}
    return {"bytes": size, "openssh_mib_s": round(medians["openssh"], 1),
            "openssh_no_mux_mib_s": round(medians["openssh_no_mux"], 1),
            "runner_mib_s": round(medians["runner"], 1),
            "ratio_runner_to_openssh": medians["runner"] / medians["openssh"],
            "samples_mib_s": {name: [round(rate, 1) for rate in rates] for name, rates in samples.items()}}


def memory(runner, size: int, repeats: int = 3) -> dict:
    """Worst tracemalloc peak over `repeats` run()s per output size (paramiko's buffers included).

    The peak depends on how much output piles up in paramiko's receive buffer before the
    reader thread gets the GIL, so single samples are noisy; the worst case is what matters.
    """
    samples = {}
    for nbytes in (MIB, 10 * MIB, size):
        label = f"{nbytes // MIB}MiB"
        samples[label] = []
        for _ in range(repeats):
            runner.run(["true"])
            tracemalloc.start()
            tracemalloc.reset_peak()
            result = runner.run(["head", "-c", str(nbytes), "/dev/zero"], timeout=600)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            assert result.stdout_bytes == nbytes
            samples[label].append(peak)
    peaks = {label: max(values) for label, values in samples.items()}
    values = list(peaks.values())
    return {"peak_bytes": peaks, "samples_bytes": samples, "ratio_largest_to_1MiB": values[-1] / values[0],
            "ratio_largest_to_10MiB": values[-1] / values[1]}


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.log_file:
        import logging

        logging.basicConfig(filename=args.log_file, level=logging.DEBUG,
                            format="%(asctime)s %(threadName)s %(name)s %(levelname)s %(message)s")
    if not shutil.which("ssh"):
        print("the OpenSSH client (ssh) is needed for the comparison", file=sys.stderr)
        return 2
    target = SSHTarget(host=args.host, port=args.port, user=args.user, key_path=args.key,
                       known_hosts=args.known_hosts, connect_timeout=15.0)
    workdir = tempfile.mkdtemp(prefix="ssh-bench-")
    openssh = OpenSSH(args, workdir)
    size = args.size_mib * MIB
    report = {"label": args.label, "when": datetime.now(timezone.utc).isoformat(), "target": target.display,
              "machine": {"python": platform.python_version(), "paramiko": paramiko.__version__,
                          "cpus": os.cpu_count(), "hostname": socket.gethostname()}}
    try:
        with connect(target) as runner:
            transport = runner._connection.transport
            report["runner_cipher"] = transport.remote_cipher
            report["openssh_cipher"] = openssh.cipher()
            report["latency"] = latency(runner, openssh, args.commands)
            report["nagle"] = nagle_stall(target, min(args.commands, 50))
            report["throughput"] = throughput(runner, openssh, size, args.repeats)
            report["memory"] = memory(runner, size)
    finally:
        openssh.close()
        shutil.rmtree(workdir, ignore_errors=True)
    print_table(report)
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"ssh_bench-{stamp}{'-' + args.label if args.label else ''}.json"
    path.write_text(json.dumps(report, indent=2))
    print(f"\nwritten: {path}")
    return 0


def print_table(report: dict) -> None:
    lat, nagle, thr, mem = report["latency"], report["nagle"], report["throughput"], report["memory"]
    peaks = " -> ".join(f"{value / 1024:.0f}" for value in mem["peak_bytes"].values())
    rows = [
        ("(a) trivial command, ms", f"{lat['openssh_ms_per_command']:.2f}", f"{lat['runner_ms_per_command']:.2f}",
         f"{lat['ratio_runner_to_openssh']:.2f}x", "<= 0.75x"),
        ("(b) one stream, MiB/s", f"{thr['openssh_mib_s']:.0f}", f"{thr['runner_mib_s']:.0f}",
         f"{thr['ratio_runner_to_openssh']:.2f}x", ">= 0.8x"),
        (f"(c) peak KiB, {' / '.join(mem['peak_bytes'])}", "", peaks,
         f"{mem['ratio_largest_to_1MiB']:.2f}x", "flat"),
    ]
    print(f"target {report['target']}   runner cipher {report['runner_cipher']}   "
          f"openssh cipher {report['openssh_cipher']}")
    print(f"{'':34} {'OpenSSH':>8} {'runner':>20} {'ratio':>7}  goal")
    for name, openssh, runner, ratio, goal in rows:
        print(f"{name:34} {openssh:>8} {runner:>20} {ratio:>7}  {goal}")
    print(f"\n(a) where a command's ms go (runner wire protocol, wrapper included): {lat['phases_ms']}")
    print(f"(a) same loop with Nagle on (socket without TCP_NODELAY): "
          f"{nagle['ms_per_command_with_nagle']:.2f} ms/command")
    print(f"(b) OpenSSH without ControlMaster (new connection per run): {thr['openssh_no_mux_mib_s']:.0f} MiB/s")
    print(f"(c) worst of 3 runs per size; bounded by the 2 MiB SSH window + a read chunk + the kept head/tail, "
          f"so output under the window size shows less; largest vs 10 MiB: {mem['ratio_largest_to_10MiB']:.2f}x")


if __name__ == "__main__":
    sys.exit(main())
