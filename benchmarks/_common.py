"""What the deploy benchmarks share: the machine they ran on, the sandbox they run against, how a
`hermes-ops` process is run and watched, and the report they write.

Standard library only at import time: `deploy_bench.py --timed-child` imports this module inside the
process it measures, so anything imported here would be counted as the CLI's own start-up.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"
PYTHON = sys.executable
HERMES_OPS = str(Path(PYTHON).with_name("hermes-ops")) if Path(PYTHON).with_name("hermes-ops").exists() \
    else str(REPO / ".venv" / "bin" / "hermes-ops")
# Every benchmark run says why it ran in its record, the image labels and the host log.
REASON = ["-p", "reason", "benchmark"]
MB = 1_000_000
MIB = 1024 * 1024


# -- numbers -------------------------------------------------------------------------------------
def median(values) -> float | None:
    values = [value for value in values if value is not None]
    return statistics.median(values) if values else None


def ratio(value, baseline) -> float | None:
    return value / baseline if value is not None and baseline else None


def seconds(value, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f} s"


def milliseconds(value) -> str:
    return "–" if value is None else f"{1000 * value:.0f} ms"


def times(value) -> str:
    return "–" if value is None else f"{value:.2f}×"


def table(headers: list[str], rows: list[list]) -> str:
    """A markdown table: readable printed as it is, rendered on GitHub."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join("" if cell is None else str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


# -- the machine ------------------------------------------------------------------------------------
def machine(sandbox: "Sandbox | None" = None) -> dict:
    """What the figures depend on: CPU, cores, memory, load, kernel, and the versions of everything timed."""
    return {
        "hostname": platform.node(),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "ram_gib": _ram_gib(),
        "load_average_before": load_average(),
        "kernel": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "paramiko": _version_of("paramiko"),
        "papermill": _version_of("papermill"),
        "nbconvert": _version_of("nbconvert"),
        "jupyter_client": _version_of("jupyter_client"),
        "openssh": _command_output(["ssh", "-V"]),
        "docker_client": _command_output(["docker", "--version"]),
        "docker_server": sandbox.docker_server_version() if sandbox else None,
        "checkout_commit": checkout_commit(),
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def load_average() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


MACHINE_LABELS = {"when": "when (UTC)", "hostname": "hostname", "cpu": "CPU", "cores": "cores",
                  "ram_gib": "RAM (GiB)", "load_average_before": "load average before (1, 5, 15 min)",
                  "load_average_after": "load average after", "kernel": "kernel", "python": "Python",
                  "paramiko": "paramiko", "papermill": "papermill", "nbconvert": "nbconvert",
                  "jupyter_client": "jupyter_client", "openssh": "OpenSSH", "docker_client": "docker (client)",
                  "docker_server": "docker (the host's engine)", "checkout_commit": "checkout commit"}


def machine_markdown(facts: dict) -> str:
    rows = [[label, facts.get(name)] for name, label in MACHINE_LABELS.items() if name in facts]
    return table(["machine", ""], rows)


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _ram_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def _version_of(distribution: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _command_output(argv: list[str]) -> str | None:
    try:
        completed = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return (completed.stdout or completed.stderr).strip() or None


def checkout_commit() -> str | None:
    """The checkout's HEAD, read from .git's files (no git process: other engineers share the checkout)."""
    git_dir = REPO / ".git"
    if git_dir.is_file():  # a worktree: "gitdir: <path>"
        git_dir = Path(git_dir.read_text().split(":", 1)[1].strip())
    try:
        head = (git_dir / "HEAD").read_text().strip()
    except OSError:
        return None
    if not head.startswith("ref: "):
        return head
    ref = head[5:]
    try:
        return (git_dir / ref).read_text().strip()
    except OSError:
        pass
    try:
        for line in (git_dir / "packed-refs").read_text().splitlines():
            if line.endswith(" " + ref):
                return line.split()[0]
    except OSError:
        pass
    return None


# -- the sandbox ----------------------------------------------------------------------------------------
@dataclass
class Sandbox:
    """A sandbox host as its parameters file names it; new commits go to its origin (the state directory)."""

    params_file: Path
    params: dict

    @classmethod
    def from_params(cls, params_file) -> "Sandbox":
        import yaml

        params_file = Path(params_file).resolve()
        return cls(params_file, yaml.safe_load(params_file.read_text()))

    @property
    def state_dir(self) -> Path:
        return self.params_file.parent

    @property
    def app_port(self) -> int:
        return urlsplit(self.params["health_url"]).port or 80

    @property
    def image_repository(self) -> str:
        return self.params.get("image", "hermes/admin:latest").rsplit(":", 1)[0]

    def commit(self, fault: str | None = None, message: str = "benchmark change") -> str:
        """A new commit on the sandbox's origin (every deploy needs one); returns its id."""
        from hermes_ops.sandbox import origin

        return origin.add_commit(self.state_dir, self.params.get("branch", "main"), message, fault)

    def ssh_argv(self) -> list[str]:
        """The OpenSSH client as an expert would call it: strict host key, the sandbox key, no prompts."""
        return ["ssh", "-F", "/dev/null", "-p", str(self.params["port"]), "-i", self.params["key_path"],
                "-o", f"UserKnownHostsFile={self.params['known_hosts']}", "-o", "StrictHostKeyChecking=yes",
                "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
                f"{self.params['user']}@{self.params['host']}"]

    def ssh_script(self, script: str, timeout: float = 600) -> tuple[subprocess.CompletedProcess, float]:
        """Run `script` on the host with `ssh ... sh -s < script`; returns (completed, wall seconds)."""
        started = time.perf_counter()
        completed = subprocess.run([*self.ssh_argv(), "sh", "-s"], input=script, capture_output=True, text=True,
                                   timeout=timeout)
        return completed, time.perf_counter() - started

    def docker_server_version(self) -> str | None:
        completed, _ = self.ssh_script("docker version --format '{{.Server.Version}}'\n", timeout=60)
        return completed.stdout.strip() or None if completed.returncode == 0 else None


@contextmanager
def own_sandbox(state_dir: Path, ssh_port: int, app_port: int, *, keep: bool = False):
    """`hermes-ops sandbox up` in `state_dir` on the given ports, yielding its params file; `down` afterwards."""
    env = {**os.environ, "HERMES_SANDBOX_DIR": str(state_dir), "HERMES_SANDBOX_SSH_PORT": str(ssh_port),
           "HERMES_SANDBOX_APP_PORT": str(app_port)}
    print(f"bringing up a sandbox in {state_dir} (ssh {ssh_port}, app {app_port})", file=sys.stderr, flush=True)
    completed = subprocess.run([HERMES_OPS, "sandbox", "up"], env=env, stdout=subprocess.PIPE, text=True)
    try:
        if completed.returncode != 0:
            raise SystemExit(f"`hermes-ops sandbox up` failed (exit {completed.returncode})")
        yield Path(completed.stdout.strip().splitlines()[-1])
    finally:
        if not keep:
            subprocess.run([HERMES_OPS, "sandbox", "down"], env=env, stdout=subprocess.DEVNULL)


@contextmanager
def records_folder(given: str | None, *, keep: bool = False):
    """Where the runs' records go: the given folder, else a temporary one (never the checkout's records/)."""
    if given:
        Path(given).mkdir(parents=True, exist_ok=True)
        yield Path(given).resolve()
        return
    folder = Path(tempfile.mkdtemp(prefix="hermes-bench-records-"))
    try:
        yield folder
    finally:
        if keep:
            print(f"records kept in {folder}", file=sys.stderr)
        else:
            shutil.rmtree(folder, ignore_errors=True)


# -- running and watching a hermes-ops process -------------------------------------------------------------
@dataclass
class ProcessRun:
    """One `hermes-ops` process: how long it took, how it ended, its record, and what the watcher saw."""

    argv: list[str]
    wall: float
    exit_code: int
    output_tail: str
    record: Path | None
    peak_rss_kib: dict = field(default_factory=dict)  # "cli", "kernel" (VmHWM as polled), "tree" (wait4)
    kernel_pid: int | None = None

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


def run_process(argv: list[str], *, env: dict | None = None, watch_memory: bool = False,
                timeout: float = 1800) -> ProcessRun:
    """Run `argv` with its output to a file (a 100 MB build must not fill a pipe); wall time to its exit.

    With `watch_memory`, a thread polls /proc every 10 ms for the process's and its kernel's VmHWM
    (the kernel: the child running ipykernel_launcher); `wait4` adds the whole tree's max RSS.
    """
    with tempfile.TemporaryFile() as output:
        started = time.perf_counter()
        process = subprocess.Popen(argv, stdout=output, stderr=subprocess.STDOUT, env=env)
        watcher = MemoryWatch(process.pid) if watch_memory else None
        if watcher:
            watcher.start()
        killer = threading.Timer(timeout, process.kill)
        killer.start()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        killer.cancel()
        process.returncode = os.waitstatus_to_exitcode(status)
        peaks = {}
        if watcher:
            watcher.stop()
            peaks = {"cli": watcher.peaks.get("cli"), "kernel": watcher.peaks.get("kernel"),
                     "tree": usage.ru_maxrss}
        output.seek(0, os.SEEK_END)
        output.seek(max(0, output.tell() - 8192))
        tail = output.read().decode(errors="replace")
    return ProcessRun(argv, wall, process.returncode, tail, record_path(tail), peaks,
                      watcher.kernel_pid if watcher else None)


def record_path(output: str) -> Path | None:
    """The archived notebook `hermes-ops deploy`/`rollback` print as their last line."""
    for line in reversed(output.strip().splitlines()):
        if line.endswith(".ipynb") and Path(line).exists():
            return Path(line)
    return None


class MemoryWatch:
    """Polls VmHWM (the kernel's own peak RSS) of a process and of its Jupyter kernel until stopped."""

    def __init__(self, pid: int, interval: float = 0.01):
        self.pid, self.interval = pid, interval
        self.peaks: dict[str, int] = {}
        self.kernel_pid: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _poll(self) -> None:
        while not self._stop.is_set():
            self._note("cli", self.pid)
            if self.kernel_pid is None:
                self.kernel_pid = find_kernel(self.pid)
            if self.kernel_pid is not None:
                self._note("kernel", self.kernel_pid)
            self._stop.wait(self.interval)

    def _note(self, role: str, pid: int) -> None:
        value = vm_hwm_kib(pid)
        if value is not None:
            self.peaks[role] = max(self.peaks.get(role, 0), value)


def vm_hwm_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def find_kernel(parent: int) -> int | None:
    """The child of `parent` running ipykernel_launcher (papermill's kernel), if any yet."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[1]) != parent:
                continue
            if b"ipykernel_launcher" in (entry / "cmdline").read_bytes():
                return int(entry.name)
        except (OSError, ValueError, IndexError):
            continue
    return None


def load_json(path: Path) -> dict | None:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def record_files(notebook: Path | None) -> dict[str, int]:
    """The bytes of a record's three files (`.ipynb`, `.json`, `.html`)."""
    if notebook is None:
        return {}
    sizes = {}
    for suffix in (".ipynb", ".json", ".html"):
        path = notebook.with_suffix(suffix)
        sizes[suffix.lstrip(".")] = path.stat().st_size if path.exists() else None
    return sizes


# -- arguments and reports ----------------------------------------------------------------------------------
def add_common_arguments(parser: argparse.ArgumentParser, *, repeats: int) -> None:
    parser.add_argument("--params", help="the sandbox's params.yaml (`hermes-ops sandbox up` prints it); required")
    parser.add_argument("--repeats", type=int, default=None, help=f"runs of each kind (default {repeats}; "
                        "--quick: fewer)")
    parser.add_argument("--quick", action="store_true", help="fewer repeats: a smoke run, not figures")
    parser.add_argument("--records-dir", help="keep the runs' records here (default: a temporary folder, removed)")
    parser.add_argument("--keep-records", action="store_true", help="keep the temporary records folder")
    parser.add_argument("--label", default="", help="a name for this run in the report's file name")


def repeats(args, default: int, quick: int) -> int:
    return args.repeats or (quick if args.quick else default)


def require_params(parser: argparse.ArgumentParser, args) -> "Sandbox":
    if not args.params:
        parser.error("--params is required (the sandbox's params.yaml; run_all.py can bring one up)")
    return Sandbox.from_params(args.params)


def write_report(name: str, report: dict, markdown: str, label: str = "") -> tuple[Path, Path]:
    """`results/<name>-<UTC stamp>[-label].json` and `.md`; returns (markdown path, JSON path)."""
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    stem = f"{name}-{stamp}" + (f"-{re.sub(r'[^A-Za-z0-9._-]+', '-', label)}" if label else "")
    json_path, markdown_path = RESULTS / f"{stem}.json", RESULTS / f"{stem}.md"
    json_path.write_text(json.dumps(report, indent=2, default=str) + "\n")
    markdown_path.write_text(markdown.rstrip() + "\n")
    return markdown_path, json_path


def publish(name: str, title: str, facts: dict, results: dict, body: str, label: str = "") -> int:
    """One script's report: the machine (with its load average now), `body`, printed and written; 0."""
    facts["load_average_after"] = load_average()
    text = f"# {title}\n\n" + machine_markdown(facts) + "\n\n" + body
    print(text)
    markdown_path, _ = write_report(name, {"machine": facts, **results}, text, label)
    print(f"written: {markdown_path}")
    return 0


def command_line(argv: list[str]) -> str:
    return shlex.join(argv)
