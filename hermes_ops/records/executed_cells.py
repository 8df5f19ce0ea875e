"""A runbook's executed notebook rebuilt from what its kernel ran: the pure half of the kernel's own record.

A notebook client (papermill, nbclient, JupyterLab) saves an executed notebook by collecting the
kernel's iopub messages for each cell it sent. A plain `papermill` run, or a cell-by-cell one, never
tells the kernel where that notebook goes, so the kernel collects the same messages itself
(`records.kernel_notebook`) and this module turns them into the notebook:

- `OutputLog` holds one execution's outputs as a client would (`stream` texts of one name run
  together, `display_data`, `update_display_data`, `execute_result`, `error`, `clear_output`),
  bounded as records bound command output: the first and last 32 KiB of each stream, a display
  larger than 256 KiB replaced by a note, at most 500 outputs. Registered secrets are masked when
  the outputs are read, so a secret registered after it was printed is masked too.
- `merge` lays the executions over the shipped runbook: its cells (markdown included) in their
  order, outputs cleared (the runbook's stored example outputs must not pass for this run's), and
  each executed cell given its last execution's source, count and outputs. papermill's injected
  parameters cell goes where papermill puts it: right after the cell tagged `parameters`.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hermes_ops.secrets import Redactor, mask, mask_data
from hermes_ops.ssh.capture import BoundedCapture

if TYPE_CHECKING:
    import nbformat  # imported by the merge alone: the kernel captures outputs long before (or without) one

STREAM_HEAD_BYTES = 32 * 1024
STREAM_TAIL_BYTES = 32 * 1024
MAX_DISPLAY_BYTES = 256 * 1024
MAX_OUTPUTS = 500
PARAMETERS_TAG = "parameters"
INJECTED_TAG = "injected-parameters"
INJECTED_HEADER = "# Parameters"  # papermill's first line of the cell it injects


class OutputLog:
    """One execution's outputs, as a notebook client collects them from the kernel; bounded; masked when read."""

    def __init__(self):
        self._entries: list[BoundedCapture | dict] = []
        self._stream_names: dict[int, str] = {}  # entry index -> stream name
        self._clear_on_next = False
        self.dropped = 0

    def add(self, msg_type: str, content: dict) -> None:
        """Take one iopub message's content (`msg_type` as the kernel sends it); other types are ignored."""
        if msg_type == "clear_output":
            if content.get("wait"):
                self._clear_on_next = True
            else:
                self._clear()
            return
        if msg_type == "update_display_data":
            self._update_display(content)
            return
        if msg_type not in ("stream", "display_data", "execute_result", "error"):
            return
        if self._clear_on_next:
            self._clear()
        if msg_type == "stream":
            self._stream(content.get("name") or "stdout", content.get("text") or "")
            return
        if len(self._entries) >= MAX_OUTPUTS:
            self.dropped += 1
            return
        if msg_type == "error":
            self._entries.append({"output_type": "error", "ename": str(content.get("ename", "")),
                                  "evalue": str(content.get("evalue", "")),
                                  "traceback": [str(line) for line in content.get("traceback") or []]})
            return
        output = {"output_type": msg_type, "data": dict(content.get("data") or {}),
                  "metadata": dict(content.get("metadata") or {})}
        if msg_type == "execute_result":
            output["execution_count"] = content.get("execution_count")
        display_id = (content.get("transient") or {}).get("display_id")
        if display_id:
            output["_display_id"] = display_id
        self._entries.append(_bounded_display(output))

    def _clear(self) -> None:
        self._entries, self._stream_names, self._clear_on_next = [], {}, False

    def _stream(self, name: str, text: str) -> None:
        last = len(self._entries) - 1
        if last >= 0 and self._stream_names.get(last) == name:
            capture = self._entries[last]
        elif len(self._entries) >= MAX_OUTPUTS:
            self.dropped += 1
            return
        else:
            capture = BoundedCapture(STREAM_HEAD_BYTES, STREAM_TAIL_BYTES)
            self._entries.append(capture)
            self._stream_names[len(self._entries) - 1] = name
        capture.feed(text.encode("utf-8", "replace"))

    def _update_display(self, content: dict) -> None:
        display_id = (content.get("transient") or {}).get("display_id")
        for entry in self._entries:
            if isinstance(entry, dict) and display_id and entry.get("_display_id") == display_id:
                entry.update(_bounded_display({**entry, "data": dict(content.get("data") or {}),
                                               "metadata": dict(content.get("metadata") or {})}))

    def outputs(self) -> list[dict]:
        """The outputs in nbformat's JSON form, registered secrets masked."""
        redactor = Redactor()
        outputs = []
        for index, entry in enumerate(self._entries):
            if isinstance(entry, BoundedCapture):
                outputs.append({"output_type": "stream", "name": self._stream_names[index],
                                "text": entry.text(redactor)})
            else:
                outputs.append(mask_data({key: value for key, value in entry.items() if key != "_display_id"}))
        if self.dropped:
            outputs.append({"output_type": "stream", "name": "stderr",
                            "text": f"[{self.dropped} more outputs omitted by hermes-ops]\n"})
        return outputs


def _bounded_display(output: dict) -> dict:
    """A display whose data is too large for a record keeps a note of its size instead of the data."""
    size = len(json.dumps(output.get("data"), default=str))
    if size <= MAX_DISPLAY_BYTES:
        return output
    kinds = ", ".join(sorted(output.get("data") or {}))
    return {**output, "data": {"text/plain": f"[a display of {size} bytes ({kinds}) omitted by hermes-ops]"},
            "metadata": {}}


@dataclass
class Execution:
    """One cell the kernel ran: the source it got, the notebook cell id if the client sent one, its outputs."""

    source: str
    cell_id: str | None = None
    execution_count: int | None = None
    outputs: OutputLog = field(default_factory=OutputLog)

    @property
    def injected_parameters(self) -> bool:
        """papermill's injected parameters cell (it starts with papermill's `# Parameters` comment)."""
        return self.source.lstrip().startswith(INJECTED_HEADER)


def _same_source(one: str, other: str) -> bool:
    return one.strip() == other.strip()


def merge(runbook: "nbformat.NotebookNode", executions: Sequence[Execution], *, first: int = 0
          ) -> "nbformat.NotebookNode":
    """The executed notebook: `runbook`'s cells with the outputs of `executions` (oldest first).

    A run's executions are `executions[first:]` (from the cell that started the run); of the ones
    before, only those of cells that come before that cell in the runbook count (the parameters, the
    injected parameters), so a second run in one kernel never shows the first run's step outputs.
    An execution is matched to a runbook cell by cell id, else by source; the last execution of a
    cell wins. One that matches no cell (a cell the operator added) follows the cell run before it.
    The runbook is not changed.
    """
    import nbformat

    notebook = copy.deepcopy(runbook)
    cells = notebook.cells
    for cell in cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            cell.metadata.pop("execution", None)
            cell.metadata.pop("papermill", None)
    by_id = {cell.get("id"): index for index, cell in enumerate(cells) if cell.get("id")}
    parameters_at = next((index for index, cell in enumerate(cells)
                          if PARAMETERS_TAG in cell.metadata.get("tags", [])), -1)

    def position(execution: Execution) -> int | None:
        if execution.cell_id in by_id and cells[by_id[execution.cell_id]].cell_type == "code":
            return by_id[execution.cell_id]
        return next((index for index, cell in enumerate(cells)
                     if cell.cell_type == "code" and _same_source(cell.source, execution.source)), None)

    start = position(executions[first]) if first < len(executions) else None

    def belongs(index: int, execution: Execution) -> bool:
        if index >= first or execution.injected_parameters:
            return True
        at = position(execution)
        return start is not None and at is not None and at < start

    chosen = [execution for index, execution in enumerate(executions) if belongs(index, execution)]
    ran: dict[int, Execution] = {}
    injected: Execution | None = None
    added: dict[int, list[Execution]] = {}  # runbook position (-1: the top) -> cells the operator added after it
    anchor = -1
    for execution in chosen:
        at = position(execution)
        if at is not None:
            ran[at] = execution
            anchor = at
        elif execution.injected_parameters:
            injected = execution
            anchor = parameters_at
        else:
            added.setdefault(anchor, []).append(execution)

    merged = [_new_cell(execution) for execution in added.get(-1, [])]
    for index, cell in enumerate(cells):
        if index in ran:
            execution = ran[index]
            cell.source = mask(execution.source)
            cell.execution_count = execution.execution_count
            cell.outputs = [nbformat.from_dict(output) for output in execution.outputs.outputs()]
        merged.append(cell)
        if index == parameters_at and injected is not None:
            merged.append(_new_cell(injected, tags=[INJECTED_TAG]))
        merged.extend(_new_cell(execution) for execution in added.get(index, []))
    if injected is not None and parameters_at < 0:
        merged.insert(0, _new_cell(injected, tags=[INJECTED_TAG]))
    notebook.cells = merged
    return notebook


def _new_cell(execution: Execution, tags: list[str] | None = None) -> "nbformat.NotebookNode":
    import nbformat

    cell = nbformat.v4.new_code_cell(source=mask(execution.source), execution_count=execution.execution_count)
    if tags:
        cell.metadata["tags"] = tags
    cell.outputs = [nbformat.from_dict(output) for output in execution.outputs.outputs()]
    return cell
