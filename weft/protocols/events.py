"""Run events: the append-only record of what happened in a run.

The run journal stores these, the terminal display renders them, and the bus
carries them on ``weft/{ns}/runs/{run}/events``. They describe changes, not
snapshots, so the cost of recording a step does not grow with the state.
"""

from __future__ import annotations

import time
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from weft.protocols.actions import ErrorInfo, Usage


class NodeState(StrEnum):
    """Lifecycle of a node within a run."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"
    NEEDS_INPUT = "needs_input"


class RunState(StrEnum):
    """Lifecycle of a whole run."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    NEEDS_INPUT = "needs_input"


class EventKind(StrEnum):
    RUN_STARTED = "run_started"
    RUN_RESUMED = "run_resumed"
    RUN_FINISHED = "run_finished"
    NODE_STARTED = "node_started"
    NODE_RETRYING = "node_retrying"
    NODE_FINISHED = "node_finished"
    NODE_SKIPPED = "node_skipped"
    LOOP_ITERATION = "loop_iteration"
    PROGRESS = "progress"
    #: A person's answer to a node's question, given to ``weft resume --answer``.
    ANSWER = "answer"


class RunEvent(BaseModel):
    """One change in a run. ``key`` identifies a node execution uniquely.

    ``key`` is ``node`` for a plain node, with ``#iteration`` appended inside a
    loop and ``[index]`` for one item of a ``foreach``; nested workflows prefix
    the parent node's key and a ``/``. Resume relies on it being deterministic.
    """

    model_config = ConfigDict(extra="ignore")

    run_id: str = Field(description="The run.")
    kind: EventKind = Field(description="What happened.")
    at: float = Field(default_factory=time.time, description="Unix time.")
    node: str | None = Field(default=None, description="Node name (with sub-workflow path).")
    key: str | None = Field(default=None, description="Unique key of this node execution.")
    state: str | None = Field(default=None, description="Node or run state after the event.")
    attempt: int | None = Field(default=None, description="Attempt number for node events.")
    output: Any = Field(default=None, description="Output of a finished node or run.")
    error: ErrorInfo | None = Field(default=None, description="Error of a failed node.")
    usage: Usage | None = Field(default=None, description="Usage of a finished node.")
    data: dict[str, Any] = Field(default_factory=dict, description="Kind-specific details.")
