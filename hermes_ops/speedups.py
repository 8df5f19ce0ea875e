"""Settings that make the Jupyter libraries under every run fast, with nothing a run uses lost.

Applied when `hermes_ops` is imported: in the CLI, and in the kernel papermill or JupyterLab starts
(the runbook's first cell imports hermes_ops before anything reads a notebook).
"""

from __future__ import annotations

import atexit
import gc
import os
import sys

# jsonschema (under nbformat, so under papermill, nbconvert and the kernel's save hook) imports
# `rfc3987_syntax` whenever it is installed, and that module compiles about 40 Lark grammars at import:
# ~1.5 s in the CLI and again in the kernel, on every deploy. JupyterLab's jupyter-events pulls it in
# through `jsonschema[format-nongpl]`. It only serves the `iri`/`iri-reference` format checks, which no
# notebook or Jupyter event schema uses (python-jsonschema/jsonschema#1428). Marked absent in
# `sys.modules`, jsonschema's guarded import fails fast and skips those two checks.
UNUSED_SLOW_MODULES = ("rfc3987_syntax",)

# papermill saves the executed notebook before and after every cell, and nbformat validates it on each
# save: ~35 ms with jsonschema for a deploy's notebook, ~5 ms with fastjsonschema (an nbformat
# dependency; `NBFORMAT_VALIDATOR` is nbformat's documented switch). Same schema, same verdicts.
NOTEBOOK_VALIDATOR = ("NBFORMAT_VALIDATOR", "fastjsonschema")


def apply() -> None:
    """Idempotent; a module something imported already, or a validator the caller chose, stays as it is."""
    for name in UNUSED_SLOW_MODULES:
        sys.modules.setdefault(name, None)
    os.environ.setdefault(*NOTEBOOK_VALIDATOR)
    # At exit there is nothing left to collect that the OS does not take back anyway, and Python's last
    # collections over all a run imports (papermill, nbconvert, jupyter_client, paramiko) took ~0.17 s of
    # every command and ~0.16 s of every kernel's exit. Files are closed where they are written, never by gc.
    atexit.unregister(gc.freeze)
    atexit.register(gc.freeze)
