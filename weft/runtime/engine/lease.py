"""Run leases: which process is running a run, so that two never run it at once.

A journaled run holds a lease in the journal (``Journal.start_run`` writes it
with the run, ``Journal.acquire_lease`` takes it on resume): the process id,
the host name and a heartbeat time that the running process refreshes every
``period`` seconds (``LeaseKeeper``). ``weft resume`` refuses a run whose
lease is alive (``RunInProgressError``) and takes over one that expired:

- its heartbeat is older than ``period * GRACE``: the process died, or is
  frozen, or lost its disk (a loop blocked longer than that loses the lease
  too, so blocking work belongs in worker threads);
- or it was held on this machine by a process that no longer exists (checked
  at once, so a run killed with ``kill -9`` is resumed without waiting). A
  process id is compared only within the same host *and* pid namespace: two
  containers that share a host name do not see each other's processes.

A holder that finds its lease taken over (it was frozen past the grace
period) stops its run instead of finishing it beside the new holder, and
writes no final state over the new holder's (``Journal.end_run``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sqlite3
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from weft.protocols import RunInProgressError
from weft.runtime.support.tasks import cancel_and_wait

log = logging.getLogger(__name__)

#: Seconds between heartbeats of a running run.
PERIOD = 5.0
#: A lease whose heartbeat is older than ``period * GRACE`` has expired.
GRACE = 3.0


@cache
def _host() -> str:
    return socket.gethostname()


@cache
def _scope() -> str:
    """Where a process id means the same process: the host name plus, on Linux, the pid
    namespace (a container with the host's name still has processes of its own)."""
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        namespace = ""
    return f"{_host()}|{namespace}"


def _process_exists(pid: int) -> bool:
    """True unless the process is certainly gone. Only POSIX can probe a pid
    harmlessly (on Windows ``os.kill(pid, 0)`` would send a console event). A
    zombie (killed, not yet reaped by its parent) is gone: it runs nothing."""
    if os.name != "posix":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists, under another user
        return True
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read()
    except OSError:  # no procfs (macOS), or it just went away
        return False
    # "pid (command) state ...": the command may hold spaces and parentheses
    return fields[fields.rfind(b")") + 2 : fields.rfind(b")") + 3] == b"Z"


@dataclass(frozen=True)
class Lease:
    """One process's claim on a run, as the journal keeps it."""

    run_id: str
    #: A token unique to this claim, so that a refresh or release by a process
    #: whose lease was taken over changes nothing.
    owner: str
    host: str
    pid: int
    #: Host and pid namespace: a pid is probed only where it means the same process.
    scope: str
    #: When the holder last proved it was alive (``time.time()``).
    heartbeat: float
    #: Seconds between heartbeats.
    period: float

    @classmethod
    def for_this_process(cls, run_id: str, period: float = PERIOD) -> Lease:
        return cls(
            run_id=run_id,
            owner=uuid.uuid4().hex,
            host=_host(),
            pid=os.getpid(),
            scope=_scope(),
            heartbeat=time.time(),
            period=period,
        )

    def expiry_reason(self, now: float | None = None, grace: float = GRACE) -> str | None:
        """Why this lease no longer holds (its process is gone, or silent too long), or None."""
        if self.scope == _scope() and not _process_exists(self.pid):
            return f"process {self.pid} on {self.host} is gone"
        silent = (time.time() if now is None else now) - self.heartbeat
        if silent > self.period * grace:
            return f"no heartbeat from pid {self.pid} on {self.host} for {silent:.0f} s"
        return None

    def refusal(self) -> RunInProgressError:
        """The error for resuming the run while this lease is alive."""
        ago = max(0.0, time.time() - self.heartbeat)
        return RunInProgressError(
            f"run {self.run_id} is still running: pid {self.pid} on host {self.host} "
            f"(heartbeat {ago:.0f} s ago); stop that process or wait for it to end"
        )


class LeaseKeeper:
    """Refreshes a run's lease every ``period`` seconds while the run goes.

    One named task per journaled run, owned by the run (``start`` when it
    opens, ``stop`` when it ends): nothing per node. When a refresh finds the
    lease taken over, the keeper cancels the task that runs the run and sets
    ``lost``; the run then stops instead of running calls the new holder runs.
    """

    def __init__(self, lease: Lease, refresh: Callable[[Lease], bool]) -> None:
        self.lease = lease
        self.lost = False
        self._refresh = refresh
        self._task: asyncio.Task[None] | None = None
        self._run_task: asyncio.Task[Any] | None = None

    def start(self) -> None:
        self._run_task = asyncio.current_task()
        self._task = asyncio.create_task(self._beat(), name=f"weft-lease-{self.lease.run_id[:8]}")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait([self._task])

    def taken_over(self, holder: Lease | None) -> RunInProgressError:
        """The error a ``lost`` run stops with, naming its new ``holder``. The keeper's
        cancel of the run task becomes this error, so it is taken back here."""
        if self._run_task is not None:
            self._run_task.uncancel()
        where = f" by pid {holder.pid} on host {holder.host}" if holder else ""
        return RunInProgressError(
            f"run {self.lease.run_id} was taken over{where} while this process sent no "
            "heartbeat (frozen or blocked past the lease's grace period); stopped here"
        )

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self.lease.period)
            try:
                held = self._refresh(self.lease)
            except sqlite3.Error as exc:  # busy or failing disk: try again next period
                log.warning("run %s: lease not refreshed: %s", self.lease.run_id, exc)
                continue
            if not held:
                self.lost = True
                if self._run_task is not None:
                    self._run_task.cancel()
                return
