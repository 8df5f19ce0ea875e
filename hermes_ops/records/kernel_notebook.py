"""The kernel records its own executed notebook, so every way of running a runbook leaves a complete record.

`hermes-ops deploy` has papermill's output notebook and archives it. A plain
`papermill notebooks/deploy.ipynb OUT.ipynb -f PARAMS.yaml`, a cell-by-cell run (nbclient, nbval,
JupyterLab, the copy `hermes-ops lab` prepares) never tell the kernel where their notebook goes, and
the cell running step 8 is not saved yet when step 8 runs. So the kernel keeps what a notebook client
would: `KernelCapture` sees each cell the kernel runs (IPython's `pre_run_cell`/`post_run_cell`
events) and every output message the kernel sends for it (the kernel session's `send`, on iopub),
and `executed_cells.merge` lays them over the shipped runbook.

Contract (for the runbook, `hermes-ops lab` and any other caller):

- Recording starts when the runbook's parameter-check cell creates its deploy
  (`Deploy.from_namespace` calls `start`) inside an IPython kernel. Outside a kernel (the library
  called from Python) nothing is recorded, and the journal stays `<run_id>.json` for the caller.
- While the run goes on, after every cell, the kernel (re)writes `<records_dir>/<run_id>.running.ipynb`:
  the run's notebook so far (created exclusively, then replaced atomically; it never touches another
  file, e.g. the copy `hermes-ops lab` prepares as `<run_id>.ipynb`). A run killed outright (SIGKILL)
  leaves it, and closing the abandoned run (`runbook.abandoned`, as `hermes-ops records` and the next
  deploy do) archives it with the JSON; so is a finished run whose kernel was shut down before it
  could archive.
- When the deploy finishes (step 8, a failure, a rollback, an interrupt, SIGTERM/SIGHUP), the
  record is archived once the cell that finished it has ended (its error, if any, included), or at
  once if no cell is running (a signal to an idle kernel): `store.archive` writes
  `<stem>.json`, `<stem>.ipynb` and `<stem>.html` exclusively, the stem as `store.record_stem` names it,
  and removes the run's journal and running notebook. When the step console drives the deploy, the
  console archives it (`store.archive` takes the running notebook the kernel keeps up to date).
- A caller that archives the record itself (`headless.run_runbook`, which has papermill's richer
  notebook) sets the environment variable `HERMES_OPS_CALLER_ARCHIVES` to the run id it injects,
  for the kernel to inherit: that run records nothing and archives nothing, exactly as before.
- Outputs are bounded (`executed_cells.OutputLog`) and registered secrets masked (`secrets.mask`).
- Saving a notebook in JupyterLab afterwards (`console.save_hook`) replaces none of these files and
  starts no second record; it only fills in a record archived without its notebook.
- One run per `Deploy`: a second deploy started in the same kernel records its own notebook, from its
  own parameter-check cell on (earlier step outputs are not carried over).
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from hermes_ops.errors import ConfigError
from hermes_ops.local_files import replace_atomically
from hermes_ops.records import store
from hermes_ops.records.executed_cells import Execution, merge
from hermes_ops.runbook.record import Record

if TYPE_CHECKING:
    import nbformat  # imported where a notebook is read or written: a run its caller archives never needs it

CALLER_ARCHIVES_ENV = "HERMES_OPS_CALLER_ARCHIVES"
MAX_EXECUTIONS = 1000  # a JupyterLab kernel may live long: keep the newest cells only
_RECORDED = ("stream", "display_data", "update_display_data", "execute_result", "error", "clear_output")


def runbook_notebook(kind: str) -> Path:
    """The shipped runbook a run of `kind` (`deploy`, `rollback`, `access`, `grant-access`) executes."""
    from hermes_ops import paths

    return paths.runbooks_dir() / f"{kind.replace('-', '_')}.ipynb"


def _header_id(header) -> str | None:
    """The msg_id of a message, or of a header (what `Session.send` is given as `parent`)."""
    if not isinstance(header, dict):
        return None
    header = header.get("header", header)
    return header.get("msg_id") if isinstance(header, dict) else None


class KernelCapture:
    """Every cell this kernel runs, with the outputs it sends for it: one per kernel (`KernelCapture.get()`)."""

    _instance: "KernelCapture | None" = None
    _unavailable = False  # installing failed once in this kernel: not tried again
    _install_lock = threading.Lock()

    def __init__(self, shell, kernel):
        self.shell, self.kernel = shell, kernel
        self.executions: list[Execution] = []
        self.dropped = 0  # executions forgotten (MAX_EXECUTIONS), so indexes stay comparable
        self._by_message: dict[str, Execution] = {}
        self._counts: dict[str, int] = {}
        self.running: Execution | None = None
        self._after_cell: list[Callable[[], None]] = []
        self._lock = threading.RLock()

    @classmethod
    def get(cls) -> "KernelCapture | None":
        """This kernel's capture, installed on first use; None outside an IPython kernel."""
        with cls._install_lock:
            if cls._instance is None and not cls._unavailable:
                try:
                    from IPython import get_ipython
                except ImportError:
                    return None
                shell = get_ipython()
                kernel = getattr(shell, "kernel", None)
                if shell is None or kernel is None or getattr(kernel, "session", None) is None:
                    return None
                capture = cls(shell, kernel)
                try:
                    capture._install()
                except Exception as error:  # a kernel unlike ipykernel's: the journal stays the record
                    print(f"WARNING: hermes-ops cannot record this kernel's notebook ({error}); the run's JSON "
                          "record is written as usual", file=sys.stderr)
                    cls._unavailable = True
                    return None
                cls._instance = capture
            return cls._instance

    def _install(self) -> None:
        self._backfill()
        sessions = {id(session): session for session in (
            self.kernel.session, getattr(self.shell.display_pub, "session", None),
            getattr(self.shell.displayhook, "session", None), getattr(sys.stdout, "session", None),
            getattr(sys.stderr, "session", None)) if session is not None}
        for session in sessions.values():
            session.send = self._observing(session.send)
        self.shell.events.register("pre_run_cell", self._pre_run_cell)
        self.shell.events.register("post_run_cell", self._post_run_cell)

    def _backfill(self) -> None:
        """The cells run before recording started (the parameters), and the one running now (no outputs yet)."""
        history = list(getattr(self.shell.history_manager, "input_hist_raw", []) or [])
        parent = self.kernel.get_parent("shell") if hasattr(self.kernel, "get_parent") else {}
        for count, source in enumerate(history):
            if count and source and not source.isspace():
                self.executions.append(Execution(source=source, execution_count=count))
        if self.executions and parent:
            current = self.executions[-1]
            current.cell_id = (parent.get("metadata") or {}).get("cellId")
            message = _header_id(parent)
            if message:
                self._by_message[message] = current
            self.running = current

    def _observing(self, send):
        def observed_send(stream, msg_or_type, content=None, parent=None, *args, **kwargs):
            try:
                self._observe(msg_or_type, content, parent)
            except Exception:  # recording must never break the kernel's own messages
                pass
            return send(stream, msg_or_type, content, parent, *args, **kwargs)
        return observed_send

    def _observe(self, msg_or_type, content, parent) -> None:
        if isinstance(msg_or_type, dict):
            msg_type = msg_or_type.get("msg_type") or (msg_or_type.get("header") or {}).get("msg_type")
            content, parent = msg_or_type.get("content"), msg_or_type.get("parent_header")
        else:
            msg_type = msg_or_type
        message = _header_id(parent)
        if msg_type == "execute_input" and message:
            with self._lock:
                self._counts[message] = (content or {}).get("execution_count")
                if len(self._counts) > MAX_EXECUTIONS:
                    self._counts.pop(next(iter(self._counts)))
            return
        if msg_type not in _RECORDED or not message:
            return
        with self._lock:
            execution = self._by_message.get(message)
            if execution is not None:
                execution.outputs.add(msg_type, content or {})

    def _pre_run_cell(self, info) -> None:
        parent = self.kernel.get_parent("shell") if hasattr(self.kernel, "get_parent") else {}
        message = _header_id(parent)
        cell_id = getattr(info, "cell_id", None) or ((parent or {}).get("metadata") or {}).get("cellId")
        with self._lock:
            execution = Execution(source=info.raw_cell or "", cell_id=cell_id,
                                  execution_count=self._counts.pop(message, None) if message else None)
            self.executions.append(execution)
            if message:
                self._by_message[message] = execution
            if len(self.executions) > MAX_EXECUTIONS:
                self.executions.pop(0)
                self.dropped += 1
                self._by_message = {key: value for key, value in self._by_message.items()
                                    if value in self.executions}
            self.running = execution

    def _post_run_cell(self, result) -> None:
        self.flush()
        with self._lock:
            self.running = None
            waiting, self._after_cell = self._after_cell, []
        for callback in waiting:
            try:
                callback()
            except Exception as error:  # never an error in the operator's cell: the journal is the record
                print(f"WARNING: hermes-ops could not archive the run's notebook: {error}", file=sys.stderr)

    @staticmethod
    def flush() -> None:
        """Buffered output reaches the kernel's session (and so this capture) before it is read."""
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass

    def position(self) -> int:
        """A mark in the executions (stable when old ones are forgotten): where a run starts."""
        with self._lock:
            return self.dropped + len(self.executions) - 1

    def merged(self, runbook: "nbformat.NotebookNode", since: int) -> "nbformat.NotebookNode":
        """`executed_cells.merge` of the executions from the mark `since` (all kept, if it was forgotten),
        read while no output is being added."""
        with self._lock:
            return merge(runbook, list(self.executions), first=max(0, since - self.dropped))

    def after_cell(self, callback: Callable[[], None]) -> None:
        """Run `callback` when the running cell has ended (its outputs, error included, captured), or now."""
        with self._lock:
            if self.running is not None:
                self._after_cell.append(callback)
                return
        self.flush()
        callback()

    def on_every_cell(self, callback: Callable[[], None]) -> None:
        """Run `callback` after every cell from now on (after the `after_cell` ones)."""
        self.shell.events.register("post_run_cell", lambda result: callback())


class RunNotebook:
    """One run's notebook, as this kernel saw it: kept in `<run_id>.running.ipynb`, archived when the run ends."""

    def __init__(self, capture: KernelCapture, run_id: str, records_dir: Path, kind: str):
        self.capture = capture
        self.run_id = run_id
        self.records_dir = Path(records_dir)
        self.kind = kind
        self.first = capture.position()
        self.path = store.running_notebook(self.records_dir, run_id)
        self.archived: Path | None = None
        self.error: str | None = None
        self._created = False
        self._lock = threading.Lock()

    def notebook(self) -> "nbformat.NotebookNode":
        import nbformat

        notebook = self.capture.merged(nbformat.read(runbook_notebook(self.kind), as_version=4), self.first)
        notebook.metadata.pop("papermill", None)
        notebook.metadata.pop("widgets", None)
        notebook.metadata["hermes_ops"] = {"run_id": self.run_id, "notebook": "recorded by the kernel"}
        return notebook

    def save(self) -> None:
        """Write the notebook so far to `<run_id>.running.ipynb` (ours: created exclusively, then replaced).

        Not once the run is archived (by this kernel, or by the step console): its journal is gone then.
        """
        with self._lock:
            if self.archived is not None or not (self.records_dir / f"{self.run_id}.json").exists():
                return
            try:
                import nbformat

                text = nbformat.writes(self.notebook())
                if not self._created:
                    with open(self.path, "x", encoding="utf-8") as file:
                        self._created = True
                        file.write(text)
                    return
                replace_atomically(self.path, text)
            except (OSError, ValueError) as error:  # a full disk, or a file of that name that is not ours
                self.error = f"{type(error).__name__}: {error}"

    def archive_when_cell_ends(self, fallback: Callable[[], Record],
                               then: Callable[[Path | None], None] | None = None) -> None:
        """Archive the record once the running cell has ended (now if none runs); `fallback()` as `store.archive`'s.

        `then(archived notebook)` runs after it (archiving it on the host too).
        """
        def archive() -> None:
            archived = self.archive(fallback())
            if then is not None:
                then(archived)
        self.capture.after_cell(archive)

    def archive(self, fallback: Record) -> Path | None:
        """The final notebook, then `store.archive`: the record's three files under its stem. Once only."""
        if self.archived is not None:
            return self.archived
        self.save()
        notebook = self.path if self._created else None
        with self._lock:
            if self.archived is None:
                self.archived = store.archive(self.records_dir, self.run_id, notebook, fallback=fallback)
        return self.archived


def write_unexecuted(record: Record, path: Path) -> bool:
    """For a run that ended with no notebook at all (its process killed before any was saved): the runbook
    as shipped, no outputs, headed by a note, written exclusively to `path`. False if it cannot be."""
    import nbformat

    try:
        notebook = merge(nbformat.read(runbook_notebook(record.kind or "deploy"), as_version=4), [])
        notebook.metadata.pop("widgets", None)
        notebook.metadata["hermes_ops"] = {"run_id": record.run_id, "notebook": "not executed: none was saved"}
        notebook.cells.insert(0, nbformat.v4.new_markdown_cell(
            f"**Run {record.run_id} ended ({record.outcome}) before its notebook was saved**: the cells below are "
            "the runbook as shipped, with no outputs. The JSON summary beside this file holds every step and "
            "command the run recorded."))
        with open(path, "x", encoding="utf-8") as file:
            file.write(nbformat.writes(notebook))
        return True
    except (OSError, ValueError):
        return False


def _caller_archives(run_id: str) -> bool:
    """`hermes-ops deploy` runs this run and archives it itself (`CALLER_ARCHIVES_ENV` names it)."""
    return os.environ.get(CALLER_ARCHIVES_ENV) == run_id


def refuse_a_finished_run(run_id: str, records_dir: Path) -> None:
    """A run id whose record is archived already is refused: a second run under it would share its record.

    That happens when a prepared copy (`hermes-ops lab`) is run again after its run ended. A run
    `hermes-ops deploy` archives has an id it generated just now: no records folder is read for it.
    """
    if _caller_archives(run_id) or not Path(records_dir).is_dir():
        return
    archived = store.find_archived(records_dir, run_id)
    if archived is not None:
        raise ConfigError(f"run {run_id} has ended already; its record is {archived.with_suffix('.ipynb')}",
                          step="parameters",
                          hint="a prepared copy is one run: `hermes-ops lab -f PARAMS` prepares the next; "
                               "nothing was run")


def start(run_id: str, records_dir: Path, kind: str) -> RunNotebook | None:
    """Record the run `run_id` from the cell running now (call it from the cell that starts the run).

    Returns None when there is nothing to record: not in an IPython kernel, or the caller archives this
    run itself (`HERMES_OPS_CALLER_ARCHIVES` names it).
    """
    if _caller_archives(run_id):
        return None
    capture = KernelCapture.get()
    if capture is None:
        return None
    run = RunNotebook(capture, run_id, records_dir, kind)
    capture.on_every_cell(run.save)
    return run
