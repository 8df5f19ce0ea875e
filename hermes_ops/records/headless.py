"""Headless runs: validate the parameters, run a runbook notebook (deploy, rollback, access) with papermill,
archive the record."""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from hermes_ops import local_processes, paths
from hermes_ops.errors import ConfigError
from hermes_ops.params import DeployParameters
from hermes_ops.params_file import load_parameters
from hermes_ops.records import kernels, store
from hermes_ops.runbook.journal import check_records_dir, new_run_id, utc_now
from hermes_ops.runbook.record import Record
from hermes_ops.runbook.vocabulary import ACCESS_SUCCESS, DEPLOY_SUCCESS, ROLLBACK_SUCCESS, Outcome

__all__ = ["HeadlessRun", "access", "deploy", "load_parameters", "rollback", "run_runbook"]

RECORD_SCHEME = "hermes-record://"


@dataclass(frozen=True)
class Runbook:
    """A runbook notebook papermill can run: the kind of run it records, the outcomes that mean it worked, and
    the class that checks its parameters (a `resolved()` that raises ConfigError before anything runs)."""

    notebook: str
    kind: str
    successful_outcomes: frozenset[Outcome]
    parameters: str = "hermes_ops.params:DeployParameters"

    def parameters_class(self) -> type:
        import importlib

        module, name = self.parameters.split(":")
        return getattr(importlib.import_module(module), name)


RUNBOOKS = {runbook.notebook: runbook for runbook in (
    Runbook("deploy.ipynb", "deploy", DEPLOY_SUCCESS),
    Runbook("rollback.ipynb", "rollback", ROLLBACK_SUCCESS),
    Runbook("access.ipynb", "access", ACCESS_SUCCESS, "hermes_ops.access.parameters:RequestParameters"),
    Runbook("grant_access.ipynb", "grant-access", ACCESS_SUCCESS, "hermes_ops.access.parameters:GrantParameters"),
)}


@dataclass(frozen=True)
class HeadlessRun:
    record: Path
    outcome: Outcome | str
    notebook: str = "deploy.ipynb"
    record_error: str | None = None  # the executed notebook could not always be saved (e.g. a full disk)
    archived: Record | None = None   # the archived JSON summary, as read back
    on_host: object | None = None  # `host_archive.UploadReport`  # archived on the host too (None: the run never reached it)

    @property
    def succeeded(self) -> bool:
        return self.outcome in RUNBOOKS[self.notebook].successful_outcomes


class _RecordNotebookWriter:
    """papermill's output handler for running notebooks: a refused write is remembered, never fatal.

    papermill saves the executed notebook after every cell; on a full disk its own handler raises
    and papermill then shuts the kernel down mid-deploy, before the runbook can release its lock
    and log its ending. The runbook's journal and the host log are the record that matters then.
    One handler serves every run of this process (papermill keeps registered handlers for good);
    each run's first refused write is kept under its notebook's path.
    """

    def __init__(self):
        self.errors: dict[str, str] = {}
        self.registered = False

    def register(self) -> None:
        if not self.registered:
            from papermill.iorw import papermill_io

            papermill_io.register(RECORD_SCHEME, self)
            self.registered = True

    def write(self, buf, path):
        path = path.removeprefix(RECORD_SCHEME)
        try:
            with open(path, "w", encoding="utf-8") as file:
                file.write(buf)
        except OSError as error:
            self.errors.setdefault(path, f"{type(error).__name__}: {error}")

    def read(self, path):
        with open(path.removeprefix(RECORD_SCHEME), encoding="utf-8") as file:
            return file.read()

    def listdir(self, path):
        return os.listdir(path.removeprefix(RECORD_SCHEME))

    def pretty_path(self, path):
        return path.removeprefix(RECORD_SCHEME)


_RECORD_WRITER = _RecordNotebookWriter()


def prepare(params_file: Path | None, overrides=(), *, records_dir: Path | None = None,
            runbook: Runbook = RUNBOOKS["deploy.ipynb"], run_id: str | None = None) -> tuple[dict, Path]:
    """The validated parameters and the records directory, before any cell runs or host is touched.

    A runbook other than the deploy's takes only the names it declares from the parameters (a deploy
    parameters file serves it too). `run_id`: the run's new id, if the caller made it already.
    """
    parameters = runbook.parameters_class()
    values = load_parameters(params_file, overrides, parameters)
    if parameters is not DeployParameters:
        values = {name: value for name, value in values.items() if name in parameters.field_names()}
    if values.get("run_id"):
        raise ConfigError("run_id is not a parameter you set: every run gets a new, generated id",
                          step="parameters", hint="drop run_id; to continue an earlier run, use --resume RUN_ID")
    records_dir = Path(records_dir or values.get("records_dir") or paths.default_records_dir()).absolute()
    check_records_dir(records_dir)
    values.update(_anchored_paths(values))
    values.update(records_dir=str(records_dir), run_id=run_id or new_run_id())
    if parameters is not DeployParameters:
        parameters(**values).resolved()
        return values, records_dir
    params = DeployParameters(**values).resolved()
    if params.resume:
        from hermes_ops.runbook import resume  # the SSH stack: only a resumed run needs it before the kernel starts

        resume.load(params)  # an unknown or finished run is refused here, with nothing run
    return values, records_dir


# Files on this machine a parameter may name: relative to where the operator runs hermes-ops.
LOCAL_PATH_PARAMETERS = ("key_path", "known_hosts", "ssh_config", "public_key_file", "requests_dir")


def _anchored_paths(values: dict) -> dict:
    """Relative local paths made absolute against the working directory, as the operator meant them: the
    kernel runs elsewhere (the runbooks' folder, or the prepared copy's). `~` stays as written (same user)."""
    anchored = {}
    for name in LOCAL_PATH_PARAMETERS:
        value = values.get(name)
        if name == "ssh_config" and isinstance(value, str) and value.strip().lower() == "none":
            continue  # `ssh -F none`: no config at all, not a file called none
        if isinstance(value, str) and value and not value.startswith("~") and not os.path.isabs(value):
            anchored[name] = str(Path(value).absolute())
    return anchored


def deploy(params_file: Path | None, overrides: list[tuple[str, str]] = (), *, records_dir: Path | None = None,
           stream=sys.stdout) -> HeadlessRun:
    """Deploy: run `notebooks/deploy.ipynb` headless (see `run_runbook`)."""
    return run_runbook("deploy.ipynb", params_file, overrides, records_dir=records_dir, stream=stream)


def rollback(params_file: Path | None, overrides: list[tuple[str, str]] = (), *, records_dir: Path | None = None,
             stream=sys.stdout) -> HeadlessRun:
    """Roll back: run `notebooks/rollback.ipynb` headless (see `run_runbook`)."""
    return run_runbook("rollback.ipynb", params_file, overrides, records_dir=records_dir, stream=stream)


def access(notebook: str, params_file: Path | None, overrides: list[tuple[str, str]] = (), *,
           records_dir: Path | None = None, stream=sys.stdout) -> HeadlessRun:
    """An access runbook (`access.ipynb` or `grant_access.ipynb`) headless (see `run_runbook`)."""
    return run_runbook(notebook, params_file, overrides, records_dir=records_dir, stream=stream)


def run_runbook(notebook: str, params_file: Path | None, overrides: list[tuple[str, str]] = (), *,
                records_dir: Path | None = None, stream=sys.stdout) -> HeadlessRun:
    """Run `notebooks/<notebook>` (one of `RUNBOOKS`) with papermill; the record is archived whatever the outcome.

    Args:
        notebook: one of `RUNBOOKS`: `deploy.ipynb`, `rollback.ipynb`, `access.ipynb`, `grant_access.ipynb`.
        params_file: a YAML parameters file (None: the notebook's defaults).
        overrides: (name, value) pairs, each value read as YAML, applied over the file.
        records_dir: where the record goes (default: the parameters', else `records/`).
        stream: where the notebook's output streams as it runs.

    Returns:
        The run: the archived notebook's path, its outcome, whether that counts as success.

    Raises:
        ConfigError: the parameters are refused; nothing was run.
        RecordWriteError: no record can be started or archived in `records_dir`.
    """
    runbook = RUNBOOKS[notebook]
    run_id = new_run_id()
    kernel_idle = False  # it ran every cell, or stopped at a failed one: the run has ended, the kernel only waits
    record = None  # from the moment the run has a record to archive
    try:
        with _termination_reaches_the_kernel(), _caller_archives(run_id), kernels.socket_folder() as sockets:
            runbooks = paths.runbooks_dir()
            # It boots (~0.5 s) while the parameters are checked and papermill loads; refused parameters
            # kill it unused, and nothing else has happened then.
            kernel, kernel_failed = None, None
            try:
                kernel = RunbookKernel(kernels.kernel_config(sockets), cwd=runbooks)
            except Exception as error:  # raised once the run has a record to say so in
                kernel_failed = error
            try:
                record = _start_record(runbook, run_id, params_file, overrides, records_dir, stream)
            except BaseException:
                if kernel is not None:
                    kernel.kill()
                raise
            try:
                if kernel_failed is not None:
                    raise kernel_failed
                import papermill
                from papermill.exceptions import PapermillExecutionError

                _RECORD_WRITER.register()
                # The HTML exporter is readied while the run goes on and this process only waits, from the
                # kernel's first output on: once it has booted and imported the library (CPU both would want).
                output = _FirstOutput(stream, store.prepare_rendering)
                try:
                    papermill.execute_notebook(
                        str(runbooks / notebook), RECORD_SCHEME + str(record.executed), parameters=record.values,
                        cwd=str(runbooks), kernel_name="python3", progress_bar=False, stdout_file=output,
                        stderr_file=sys.stderr, km=kernel.manager,
                    )
                except PapermillExecutionError as error:
                    record.fallback.failure = f"{error.ename}: {error.evalue}"  # the journal, if any, says more
                kernel_idle = True
            except KeyboardInterrupt:
                record.fallback.update(outcome=Outcome.INTERRUPTED,
                                       failure="interrupted before the runbook could record it")
                raise
            finally:
                if kernel_idle:
                    notebook_path = kernel.stop_while(record.archive)
                elif kernel is not None:  # it may still be ending the run (an interrupt): it ends first, as ever
                    kernel.stop()
    finally:
        if not kernel_idle and record is not None:
            notebook_path = record.archive()
    archived = store.load_record(notebook_path.with_suffix(".json"))
    return HeadlessRun(notebook_path, archived.outcome if archived else Outcome.FAILED, notebook,
                       _RECORD_WRITER.errors.pop(str(record.executed), None), archived, record.on_host)


@dataclass
class _StartedRecord:
    """A run's record, begun: its checked parameters, its running notebook (ours, created exclusively), and
    what the record says if the notebook never got as far as its own journal (a refused parameter)."""

    runbook: Runbook
    run_id: str
    values: dict
    records_dir: Path
    executed: Path
    fallback: Record
    stream: object
    uploads: list = field(default_factory=list)  # the host archive's report, once `archive` has run

    def archive(self) -> Path:
        """The record on this machine, and (while its HTML renders) on the host."""
        return store.archive(self.records_dir, self.run_id, self.executed, fallback=self.fallback,
                             alongside=lambda summary: self.uploads.append(
                                 _archive_on_host(self.runbook, self.values, self.records_dir, summary, self.stream)))

    @property
    def on_host(self):
        return self.uploads[0] if self.uploads else None


def _start_record(runbook: Runbook, run_id: str, params_file: Path | None, overrides, records_dir: Path | None,
                  stream) -> _StartedRecord:
    """The parameters checked (`prepare`) and the run's record begun in its records folder."""
    values, records_dir = prepare(params_file, overrides, records_dir=records_dir, runbook=runbook, run_id=run_id)
    records_dir.mkdir(parents=True, exist_ok=True)
    executed = store.running_notebook(records_dir, run_id)
    try:
        executed.open("x").close()  # ours from now on; never someone else's file
    except OSError as error:
        raise store.RecordWriteError(f"cannot start a record in {records_dir}: {error}", step="records",
                                     host="this machine", hint="free space or fix permissions there; "
                                     "nothing was run") from None
    fallback = Record(run_id=run_id, kind=runbook.kind, started_at=utc_now().isoformat(), outcome=Outcome.FAILED,
                      operator=values.get("operator"), parameters=values)
    return _StartedRecord(runbook, run_id, values, records_dir, executed, fallback, stream)


class _FirstOutput:
    """The stream papermill writes the kernel's output to, calling `then()` once, at the first write."""

    def __init__(self, stream, then: Callable[[], object]):
        self.stream, self._then = stream, then

    def write(self, text: str) -> int:
        if self._then is not None:
            then, self._then = self._then, None
            then()
        return self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()


# An idle kernel that has not exited after half of this is signalled (SIGTERM, then SIGKILL at the end). It
# normally exits in ~0.05 s; one run in three or so, ipykernel lingers ~2.5 s on its way out (its sockets'
# 1 s linger), with nothing left to do: the run has ended and this process archives the record.
IDLE_EXIT_SECONDS = 0.6


class RunbookKernel:
    """The kernel a headless run executes its runbook in, started and stopped here rather than by papermill.

    papermill (nbclient) leaves a kernel manager it is given running when it returns, so: the kernel
    is started before papermill is even imported, and boots meanwhile; and it is stopped while the
    record is archived, where papermill would first wait for it to exit (~0.3 s) and only then
    return. Started as nbclient starts one: in the runbooks' folder, history in memory, the
    caller's environment, with `config` (the IPC sockets, `kernels.kernel_config`).
    """

    def __init__(self, config, *, cwd: Path):
        from jupyter_client.manager import AsyncKernelManager
        from jupyter_core.utils import run_sync

        class Manager(AsyncKernelManager):
            def client(self, **kwargs):
                """Every client papermill makes of it, kept: their channels are closed with the kernel."""
                client = super().client(**kwargs)
                clients.append(client)
                return client

        clients: list = []
        self.clients = clients
        self._run = run_sync  # in this thread's loop, papermill's too
        self.manager = Manager(kernel_name="python3", config=config)
        self._run(self.manager.start_kernel)(extra_arguments=["--HistoryManager.hist_file=:memory:"], cwd=str(cwd))

    def stop(self, *, idle: bool = False) -> None:
        """Shut the kernel down and close its clients' channels.

        A kernel that may still be running a cell (an interrupt) is shut down as nbclient does:
        interrupted, asked, given `shutdown_wait_time` (5 s) before signals. An `idle` one has
        ended its run: it is only asked to exit, watched closely, and signalled after
        `IDLE_EXIT_SECONDS / 2`, since ipykernel sometimes hangs for seconds on its way out
        (ipython/ipykernel#868).
        """
        try:
            if self._run(self.manager.is_alive)():
                if idle:
                    self._run(self.manager.request_shutdown)()
                    self._run(self.manager.finish_shutdown)(waittime=IDLE_EXIT_SECONDS, pollinterval=0.02)
                else:
                    self._run(self.manager.shutdown_kernel)(now=False)
        finally:
            self._run(self.manager.cleanup_resources)()
            self._close_clients()

    def kill(self) -> None:
        """Kill a kernel the run turned out not to need (refused parameters), without waiting for it to boot."""
        try:
            self._run(self.manager.shutdown_kernel)(now=True)
        finally:
            self._close_clients()

    def _close_clients(self) -> None:
        for client in self.clients:
            client.stop_channels()

    def stop_while(self, work: Callable[[], Path]) -> Path:
        """`work()` in a thread while the idle kernel exits here; returns what `work` returned, or raises what it
        raised."""
        outcome: dict = {}

        def run() -> None:
            try:
                outcome["value"] = work()
            except BaseException as error:  # handed to the caller below
                outcome["error"] = error

        worker = threading.Thread(target=run, name="hermes-archive")
        worker.start()
        try:
            self.stop(idle=True)
        finally:
            worker.join()
        if "error" in outcome:
            raise outcome["error"]
        return outcome["value"]


def _archive_on_host(runbook: Runbook, values: dict, records_dir: Path, summary: Path, stream):
    """Archive this run's record (and any this machine could not archive before) on the host; never raises."""
    from hermes_ops.records import host_archive

    try:
        params = runbook.parameters_class()(**values).resolved()
        connection = params if isinstance(params, DeployParameters) else params.connection()
        report = host_archive.archive_after_run(connection, records_dir, summary)
    except Exception as error:
        report = host_archive.UploadReport(error=str(error))
    if report is None:
        print("record kept on this machine only: the run did not reach the host; the next run that does "
              "archives it there", file=stream, flush=True)
        return None
    if report.uploaded:
        print(f"archived on the host (~/{host_archive.commands.ARCHIVE_DIR}/): {', '.join(report.uploaded)}",
              file=stream, flush=True)
    if report.error:
        print(f"WARNING: not archived on the host ({report.error}); the record is kept in {records_dir} and the "
              "next run archives it there", file=stream, flush=True)
    return report


# `kernel_notebook.CALLER_ARCHIVES_ENV` (a unit test checks they agree), named here because importing that
# module imports nbformat and jsonschema (~0.14 s) before the kernel could start booting.
CALLER_ARCHIVES_ENV = "HERMES_OPS_CALLER_ARCHIVES"


@contextmanager
def _caller_archives(run_id: str):
    """The kernel papermill starts inherits `HERMES_OPS_CALLER_ARCHIVES=<run_id>`: this process archives the
    run with papermill's own notebook, so the kernel leaves archiving to it (see `kernel_notebook`)."""
    previous = os.environ.get(CALLER_ARCHIVES_ENV)
    os.environ[CALLER_ARCHIVES_ENV] = run_id
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(CALLER_ARCHIVES_ENV, None)
        else:
            os.environ[CALLER_ARCHIVES_ENV] = previous


@contextmanager
def _termination_reaches_the_kernel():
    """SIGTERM/SIGHUP to this process alone (e.g. `kill PID`) are passed on to the kernel, which ends the
    deploy cleanly (see runbook.signals); this process then waits for it and archives the record."""
    forwarded: list[int] = []

    def forward(number, frame):
        if forwarded:
            return
        forwarded.append(number)
        for child in local_processes.children(os.getpid()):
            try:
                os.kill(child, number)
            except OSError:
                pass

    previous = {number: signal.signal(number, forward) for number in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
