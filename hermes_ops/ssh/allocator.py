"""Stop glibc from returning output buffers to the kernel after every chunk.

Draining a stream allocates and frees buffers of hundreds of kilobytes many times a
second (paramiko's receive buffer grows to the 2 MiB window and shrinks; each read
returns a fresh bytes object). glibc serves allocations above its mmap threshold
(128 KiB until the process first frees a bigger block) with fresh `mmap`s and trims
freed heap above 128 KiB, so every buffer is page-faulted and zeroed by the kernel
again: measured 27,000 minor faults per 100 MiB streamed, about one per 4 KiB page,
and a third less throughput (benchmarks/README.md).

Raising both thresholds once per process (to what glibc's own heuristic picks after
the process frees one 8 MiB block) keeps those buffers on the heap: ~300 faults per
100 MiB. The cost is that up to 16 MiB of freed heap stays with the process instead of
going back to the kernel. Only glibc on Linux is touched; elsewhere this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys
import threading

log = logging.getLogger("hermes_ops.ssh")

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 8 * 1024 * 1024
TRIM_THRESHOLD = 16 * 1024 * 1024

_lock = threading.Lock()
_result: bool | None = None


def keep_stream_buffers_on_heap() -> bool:
    """Raise glibc's mmap and trim thresholds (once per process). True if it was applied."""
    global _result
    with _lock:
        if _result is None:
            _result = _apply()
        return _result


def _apply() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
        if not libc.gnu_get_libc_version:  # glibc only: musl has no mallopt tuning
            return False
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    applied = mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1 and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
    log.debug("glibc malloc thresholds raised for streaming: %s", applied)
    return applied
