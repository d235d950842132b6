"""The tasks an A2A-over-MQTT agent holds: state by requester-made task id, deduplicated.

Over MQTT the requester makes the task id (a UUID), so a request that is
retried after a lost reply names a task the agent may already have: the
agent answers with that task as it is (waiting for it to finish when a
blocking request finds it running) rather than running it twice. Finished
tasks are kept for ``GetTask`` up to ``limit``, oldest dropped first.

A running task's progress (``report``) makes its status ``working`` with
the report as its message, and goes as a ``statusUpdate`` to every streaming
request following the task (``listen``), in the order it was made. A piece
of streamed text (``report_text``) goes to them as a chunk of the task's
answer artifact (``artifactUpdate``, ``weft.protocols.a2a_stream``) and is
not kept: the finished task holds the whole output once, in that artifact.
"""

from __future__ import annotations

import asyncio
import datetime
import uuid
from collections import OrderedDict
from typing import Any

from weft.protocols.a2a_mqtt import INTERRUPTED_STATES, TERMINAL_STATES
from weft.protocols.a2a_stream import text_chunk


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat().replace("+00:00", "Z")


class HeldTask:
    """One task: its A2A JSON (``as_json``), the asyncio task running it, and its end."""

    def __init__(self, task_id: str, context_id: str) -> None:
        self.id = task_id
        self.context_id = context_id
        self.state = "TASK_STATE_SUBMITTED"
        self.status_message: dict[str, Any] | None = None
        self.artifacts: list[dict[str, Any]] = []
        self.runner: asyncio.Task[None] | None = None
        self.finished = asyncio.Event()
        self.timestamp = _now()
        #: The id of the artifact that holds the output (and its streamed chunks).
        self.answer_id = uuid.uuid4().hex
        #: Whether a chunk of this turn's answer was streamed (the next ones append).
        self._chunked = False
        self._listeners: list[asyncio.Queue[dict[str, Any]]] = []

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL_STATES

    @property
    def waiting(self) -> bool:
        """Interrupted (``input-required``): the next message to the task continues it."""
        return self.state in INTERRUPTED_STATES

    @property
    def settled(self) -> bool:
        """Ended or interrupted: what a blocking request waits for (``finished``)."""
        return self.terminal or self.waiting

    def set_state(self, state: str, message: dict[str, Any] | None = None) -> None:
        self.state = state
        self.status_message = message
        self.timestamp = _now()
        if self.settled:
            self.finished.set()

    def go_on(self) -> None:
        """A waiting task got its answer: it runs again (a new ``runner``), and blocking
        requests wait for its next end or interruption."""
        self.runner = None
        self.finished = asyncio.Event()
        self._chunked = False
        self.set_state("TASK_STATE_WORKING")

    def report(self, message: dict[str, Any]) -> None:
        """A progress report (an agent ``Message``, ``progress_message``) of the running task."""
        if self.terminal:
            return
        self.set_state("TASK_STATE_WORKING", message)
        update = {"taskId": self.id, "contextId": self.context_id, "status": self.status()}
        self._tell({"statusUpdate": update})

    def report_text(self, text: str) -> None:
        """A piece of the running task's streamed text: a chunk to the streaming requests
        following it (none: dropped), never kept in the task."""
        if self.terminal or not text or not self._listeners:
            return
        append, self._chunked = self._chunked, True
        self._tell(
            {
                "artifactUpdate": text_chunk(
                    self.id, self.context_id, self.answer_id, text, append=append
                )
            }
        )

    def _tell(self, item: dict[str, Any]) -> None:
        for queue in self._listeners:
            queue.put_nowait(item)

    def listen(self) -> asyncio.Queue[dict[str, Any]]:
        """The queue the task's stream items (``{"statusUpdate": ...}`` or
        ``{"artifactUpdate": ...}``) arrive in from now on, until ``unlisten``."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._listeners.append(queue)
        return queue

    def unlisten(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        if queue in self._listeners:
            self._listeners.remove(queue)

    def status(self) -> dict[str, Any]:
        status: dict[str, Any] = {"state": self.state, "timestamp": self.timestamp}
        if self.status_message is not None:
            status["message"] = self.status_message
        return status

    def as_json(self) -> dict[str, Any]:
        task: dict[str, Any] = {
            "id": self.id,
            "contextId": self.context_id,
            "status": self.status(),
        }
        if self.artifacts:
            task["artifacts"] = self.artifacts
        return task


class TaskBook:
    """Tasks by id; at most ``limit`` finished ones are kept (running ones always are)."""

    def __init__(self, limit: int = 10_000) -> None:
        self.limit = limit
        self._tasks: OrderedDict[str, HeldTask] = OrderedDict()

    def get(self, task_id: str) -> HeldTask | None:
        return self._tasks.get(task_id)

    def add(self, task: HeldTask) -> HeldTask:
        self._tasks[task.id] = task
        self._trim()
        return task

    def running(self) -> list[HeldTask]:
        return [t for t in self._tasks.values() if not t.terminal]

    def _trim(self) -> None:
        excess = len(self._tasks) - self.limit
        if excess <= 0:
            return
        for task_id in [k for k, t in self._tasks.items() if t.terminal][:excess]:
            del self._tasks[task_id]
