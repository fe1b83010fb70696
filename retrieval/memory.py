"""Keeping resident memory flat through a long embedding run (glibc only; a no-op elsewhere).

Usage: `release_freed_memory()` after each step of the run (a few batches embedded and written).

Why: torch frees its activation buffers after every batch, but glibc keeps freed heap memory
resident, and with Chroma's allocations landing between torch's buffers the heap fragments and
grows; `malloc_trim` hands the free pages in the middle of the heap back to the OS. Measured on
VAERS narratives (all-MiniLM-L6-v2, 2 cores, 16,000 reports, 128-report steps; bench/RESULTS.md):
peak RSS over the start 502 MiB with no trimming inside a 2,048-report chunk, 323 MiB with every
buffer of 8 MiB and more in its own mapping (the fix before this one: 3-4x the page faults of
trimming and twice its system CPU time), 299 MiB trimming after every step. Trimming after every
eighth step only halved the page faults at 16,000 but was no faster on 63,766 reports and peaked higher.
Trimming only once resident memory had grown 64 or 128 MiB since the last trim saved little system
time (at 128 MiB, 49 trims in 126 steps, 2.1 M of the 3.5 M page faults remained) and peaked higher.
"""

from __future__ import annotations

import ctypes
import sys
from functools import cache


@cache
def _libc():
    """glibc, or None where there is none (not Linux, or another libc)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") else None


def release_freed_memory() -> bool:
    """Give heap memory that has been freed back to the OS. False where that is not possible."""
    libc = _libc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True
