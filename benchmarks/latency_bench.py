"""Deploys over a slow link: `hermes-ops deploy` against the raw script when every packet takes a while.

    .venv/bin/python benchmarks/latency_bench.py --params /path/to/sandbox/params.yaml [--delay-ms 20]
        [--compare-with REV] [--repeats N]

Loopback hides what a real droplet costs: round trips. A relay between the SSH client and the sandbox's sshd
holds every chunk for `--delay-ms` in each direction (default 20 ms: a 40 ms round trip, an operator a
continent away from the droplet; 0 measures the relay alone). Interleaved, each after a new commit:
(a) `hermes-ops deploy` through the relay; (b) the same remote work as one raw OpenSSH script through it
(`deploy_bench.raw_deploy_script`); with `--compare-with REV`, (a') the same deploy by REV's hermes-ops (a git
worktree of this repository at REV, run with its own package and runbooks), to measure a change as a ratio.
Measures; asserts nothing. Prints the report and writes it with its JSON to benchmarks/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import _common as common  # noqa: E402
import deploy_bench  # noqa: E402


class DelayRelay:
    """A TCP relay on 127.0.0.1 that delivers every chunk `delay` seconds after it arrived, in order, both ways."""

    def __init__(self, target_port: int, delay: float):
        self.target_port, self.delay = target_port, delay
        self.loop = asyncio.new_event_loop()
        self.port: int | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="delay-relay", daemon=True)

    def __enter__(self) -> "DelayRelay":
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc_info) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(asyncio.start_server(self._connection, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self.loop.run_forever()

    async def _connection(self, client_reader, client_writer) -> None:
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        await asyncio.gather(self._pipe(client_reader, server_writer), self._pipe(server_reader, client_writer),
                             return_exceptions=True)

    async def _pipe(self, reader, writer) -> None:
        queue: asyncio.Queue = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, data = await queue.get()
                wait = due - self.loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if data is None:
                    writer.close()
                    return
                writer.write(data)
                await writer.drain()

        delivering = asyncio.ensure_future(deliver())
        try:
            while data := await reader.read(65536):
                queue.put_nowait((self.loop.time() + self.delay, data))
        finally:
            queue.put_nowait((self.loop.time() + self.delay, None))
            await delivering


def known_hosts_for(original: Path, host: str, port: int, relay_port: int, folder: Path) -> Path:
    """A copy of the pinned known_hosts naming the relay's port: the host key is still verified, unchanged."""
    copy = folder / "known_hosts"
    copy.write_text(original.read_text().replace(f"[{host}]:{port} ", f"[{host}]:{relay_port} "))
    return copy


@contextmanager
def worktree_at(revision: str):
    """A detached git worktree of this repository at `revision`, removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="hermes-bench-worktree-"))
    subprocess.run(["git", "-C", str(common.REPO), "worktree", "add", "--detach", str(folder), revision],
                   check=True, capture_output=True)
    try:
        yield folder
    finally:
        subprocess.run(["git", "-C", str(common.REPO), "worktree", "remove", "--force", str(folder)],
                       capture_output=True)


def deploy_through(sandbox: common.Sandbox, records_dir: Path, overrides: list[str], *,
                   checkout: Path | None = None) -> dict:
    """(a) or (a'): a deploy through the relay, by this checkout's hermes-ops or by `checkout`'s."""
    sandbox.commit()
    if checkout is None:
        argv, env = [common.HERMES_OPS], None
    else:
        argv, env = [common.PYTHON, "-m", "hermes_ops"], {**os.environ, "PYTHONPATH": str(checkout)}
    run = common.run_process(argv + deploy_bench.cli_argv("deploy", sandbox, records_dir, overrides), env=env)
    return {"wall": run.wall, "ok": run.ok, "error": None if run.ok else run.output_tail[-1500:]}


def measure(sandbox: common.Sandbox, records_dir: Path, rounds: int, delay: float, revision: str | None) -> dict:
    host, port = sandbox.params["host"], int(sandbox.params["port"])
    with DelayRelay(port, delay) as relay, tempfile.TemporaryDirectory(prefix="hermes-bench-relay-") as folder:
        known_hosts = known_hosts_for(Path(sandbox.params["known_hosts"]), host, port, relay.port, Path(folder))
        overrides = ["-p", "port", str(relay.port), "-p", "known_hosts", str(known_hosts)]
        relayed = replace(sandbox, params={**sandbox.params, "port": relay.port, "known_hosts": str(known_hosts)})
        with (worktree_at(revision) if revision else _nothing()) as other:
            kinds = {"cli": lambda: deploy_through(sandbox, records_dir, overrides),
                     "raw": lambda: deploy_bench.raw_deploy(relayed)}
            if other is not None:
                kinds["other"] = lambda: deploy_through(sandbox, records_dir, overrides, checkout=other)
            runs: dict[str, list[dict]] = {kind: [] for kind in kinds}
            deploy_through(sandbox, records_dir, overrides)  # warm-up, untimed
            order = list(kinds)
            for number in range(rounds):
                for kind in order[number % len(order):] + order[:number % len(order)]:
                    result = kinds[kind]()
                    runs[kind].append(result)
                    deploy_bench.log(f"latency: round {number + 1}/{rounds} {kind}: {result['wall']:.2f} s"
                                     + ("" if result["ok"] else " FAILED: " + (result.get("error") or "")[-300:]))
    medians = {kind: common.median(run["wall"] for run in found if run["ok"]) for kind, found in runs.items()}
    failed = {kind: sum(not run["ok"] for run in found) for kind, found in runs.items()}
    return {"delay_ms": round(delay * 1000), "revision": revision, "medians": medians, "failed": failed,
            "runs": runs}


@contextmanager
def _nothing():
    yield None


def markdown(result: dict) -> str:
    medians, failed = result["medians"], result["failed"]
    rows = [["(a) `hermes-ops deploy`, this checkout", common.seconds(medians["cli"]), failed["cli"],
             common.times(common.ratio(medians["cli"], medians["raw"]))],
            ["(b) the same remote work, one raw `ssh` script", common.seconds(medians["raw"]), failed["raw"], "1.00×"]]
    if "other" in medians:
        rows.append([f"(a') `hermes-ops deploy` at {result['revision']}", common.seconds(medians["other"]),
                     failed["other"], common.times(common.ratio(medians["other"], medians["raw"]))])
    lines = [f"## Deploys over a link with {result['delay_ms']} ms each way "
             f"({2 * result['delay_ms']} ms round trip)", "",
             common.table(["", "median", "failed", "ratio to the raw script"], rows)]
    if "other" in medians:
        lines += ["", f"(a) / (a') = {common.times(common.ratio(medians['cli'], medians['other']))}: this checkout's "
                  f"deploy against {result['revision']}'s, same link, same run."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog="Example: " + __doc__.split("\n\n")[1].strip())
    common.add_common_arguments(parser, repeats=5)
    parser.add_argument("--delay-ms", type=float, default=20.0, help="one-way delay of the link (default 20)")
    parser.add_argument("--compare-with", metavar="REV", help="also deploy with this git revision's hermes-ops")
    args = parser.parse_args(argv)
    sandbox = common.require_params(parser, args)
    facts = common.machine(sandbox)
    with common.records_folder(args.records_dir, keep=args.keep_records) as records_dir:
        result = measure(sandbox, records_dir, common.repeats(args, 5, 2), args.delay_ms / 1000, args.compare_with)
    return common.publish("latency_bench", "Latency benchmark", facts, {"latency": result}, markdown(result), args.label)


if __name__ == "__main__":
    sys.exit(main())
