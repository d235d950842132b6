"""Building a large graph without the cyclic garbage collector walking it again and again.

A 10,000-node layered topology has about a million edges; generating,
validating and compiling it allocates several objects per edge (an
``EdgeSpec``, plan tuples, a compiled edge), none of them in a reference
cycle. Every few hundred allocations CPython's collector runs, and its full
collections traverse everything allocated so far: measured, that was 40-50 %
of the build time. ``gc_paused`` turns the collector off for the duration of
a build and back on afterwards (only if it was on): reference counting still
frees what the build drops, and any cyclic garbage is collected at the next
collection after the build.

Pauses nest and may overlap across threads (a sub-workflow compiled in a
worker thread while another builds): a count under a lock keeps the
collector off until the last one ends, and restores the state the first one
found.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_active = 0
_was_enabled = False


@contextmanager
def gc_paused() -> Iterator[None]:
    """Run the block with the cyclic garbage collector off, then restore its state."""
    global _active, _was_enabled
    with _lock:
        if _active == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _active += 1
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if _active == 0 and _was_enabled:
                gc.enable()


__all__ = ["gc_paused"]
