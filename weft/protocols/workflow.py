"""The workflow model: the one validated form that Python and YAML both produce.

This module is data only. Graph checks that need the whole picture (cycles,
references, unknown actions) live in ``weft.workflows.validate``; running lives
in ``weft.runtime``. Field docstrings double as the YAML reference.

Data flows only along edges (MacNet's memory control): a node sees the outputs
of its direct predecessors, the workflow inputs and, inside ``foreach``, the
current item. References are written ``${...}``:

``${inputs.NAME}``  a workflow input      ``${NODE}`` / ``${NODE.field}`` a predecessor's output
``${input}``        the reduced join of all predecessors
``${item}`` / ``${index}``  the current ``foreach`` element and its position
``${iteration}``    the loop iteration (0 on the first pass)
"""

from __future__ import annotations

import random
import re
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]*$"
_NAME_RE = re.compile(NAME_PATTERN)


def check_name(value: str, what: str) -> str:
    if not _NAME_RE.match(value):
        raise ValueError(
            f"{what} {value!r} must start with a letter or '_' and contain only "
            "letters, digits, '_' and '-'"
        )
    return value


class JoinMode(StrEnum):
    """When a node with several inputs may start."""

    ALL = "all"
    ANY = "any"
    QUORUM = "quorum"


class FailurePolicy(StrEnum):
    """What a run does when a node fails for good."""

    FAIL_FAST = "fail_fast"
    CONTINUE = "continue"


class JournalMode(StrEnum):
    """How a run's finished calls reach the journal.

    ``batched`` (the default) commits them every few milliseconds, in batches:
    after a crash, the calls that finished in the last batch window run again
    on resume. ``durable`` commits (and syncs to disk) each finished call
    before anything that depends on it starts: a resume repeats no finished
    call, at the cost of a disk sync per call (per wave of a fan-out).
    """

    BATCHED = "batched"
    DURABLE = "durable"


class RetryPolicy(BaseModel):
    """Retries with exponential backoff and full jitter, for retryable errors only.

    The one retry model of weft: a workflow node's ``retry`` and an LLM
    agent's retries of transient model errors (429, 5xx, connection errors,
    timeouts) are both a ``RetryPolicy``. Full jitter (a uniform draw in
    ``[0, delay]``) spreads the retries of many callers that failed together,
    which is what hurts a recovering service least.
    """

    model_config = ConfigDict(extra="forbid")

    max_attempts: int = Field(default=1, ge=1, le=100, description="Total tries, 1 = no retry.")
    initial_delay: float = Field(default=0.1, ge=0, description="Delay before the first retry, s.")
    max_delay: float = Field(default=10.0, ge=0, description="Upper bound of one delay, s.")
    multiplier: float = Field(default=2.0, ge=1, description="Growth factor per retry.")
    jitter: bool = Field(default=True, description="Randomise each delay in [0, delay].")
    retry_on_timeout: bool = Field(default=True, description="Treat a timeout as retryable.")

    def delay(
        self, attempt: int, retry_after: float | None = None, rng: random.Random | None = None
    ) -> float:
        """Seconds to wait after failed ``attempt`` (1-based) before the next one.

        A server's ``Retry-After`` (seconds) replaces the computed delay, capped
        at ``max_delay``. ``rng`` makes the jitter reproducible.
        """
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay)
        delay = min(self.max_delay, self.initial_delay * self.multiplier ** (attempt - 1))
        return (rng or random).uniform(0.0, delay) if self.jitter else delay


class JoinSpec(BaseModel):
    """How a node with several incoming edges waits and reduces its inputs."""

    model_config = ConfigDict(extra="forbid")

    mode: JoinMode = Field(default=JoinMode.ALL, description="all, any, or quorum.")
    count: int | None = Field(default=None, ge=1, description="How many inputs make a quorum.")
    reducer: str = Field(
        default="list",
        description=(
            "How ${input} is built from the arrived inputs: list, concat, first, vote, "
            "dict, merge, or 'module:function' for your own."
        ),
    )

    @model_validator(mode="after")
    def _quorum_needs_count(self) -> JoinSpec:
        if self.mode is JoinMode.QUORUM and self.count is None:
            raise ValueError("join mode 'quorum' needs 'count'")
        return self


class EdgeSpec(BaseModel):
    """An incoming edge of a node: where its input comes from and on what terms.

    An edge that closes a cycle is a loop edge and must set ``max_iterations``;
    the loop repeats while ``when`` holds, at most ``max_iterations`` times.
    """

    model_config = ConfigDict(extra="forbid")

    node: str = Field(description="The predecessor node.")
    when: str | None = Field(
        default=None,
        description=(
            "Condition on the predecessor's output (a Python expression over 'output' "
            "and 'inputs'); the edge carries nothing when it is false."
        ),
    )
    critic: str | None = Field(
        default=None,
        description=(
            "Action that reviews the artifact before it is passed on; it gets "
            "{artifact, source, target} and may return {approved, artifact, feedback}."
        ),
    )
    max_iterations: int | None = Field(
        default=None, ge=1, description="Bound of a loop edge (one that closes a cycle)."
    )

    @field_validator("node")
    @classmethod
    def _node_name(cls, v: str) -> str:
        return check_name(v, "node")


class NodeSpec(BaseModel):
    """One step: it calls an action with arguments built from its inputs."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    action: str = Field(description="Name of the action to call (tool, agent, workflow...).")
    description: str = Field(default="", description="What this step is for.")
    with_: dict[str, Any] = Field(
        default_factory=dict,
        alias="with",
        description="Arguments; strings may hold ${...} references.",
    )
    after: list[EdgeSpec] = Field(
        default_factory=list,
        description="Incoming edges: a node name, or {node, when, critic, max_iterations}.",
    )
    foreach: str | None = Field(
        default=None,
        description="A ${...} reference to a list: the action runs once per element, in parallel.",
    )
    join: JoinSpec | None = Field(default=None, description="How several inputs are awaited.")
    timeout: float | None = Field(default=None, gt=0, description="Seconds per attempt.")
    retry: RetryPolicy | None = Field(default=None, description="Overrides the default retry.")
    concurrency: int | None = Field(
        default=None, ge=1, description="Max parallel calls of a foreach node."
    )

    @field_validator("join", mode="before")
    @classmethod
    def _join_shorthand(cls, v: Any) -> Any:
        return {"mode": v} if isinstance(v, str) else v

    @field_validator("after", mode="before")
    @classmethod
    def _edge_shorthand(cls, v: Any) -> Any:
        if isinstance(v, str):
            v = [v]
        if isinstance(v, list):
            return [{"node": e} if isinstance(e, str) else e for e in v]
        return v


class InputSpec(BaseModel):
    """A declared workflow input; values from the CLI are converted to ``type``."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["string", "integer", "number", "boolean", "array", "object", "any"] = Field(
        default="any", description="JSON type of the value."
    )
    default: Any = Field(default=None, description="Value used when none is given.")
    required: bool = Field(default=False, description="A run without it is refused.")
    description: str = Field(default="", description="What the input means.")
    secret: bool = Field(
        default=False,
        description="The value is a secret: masked wherever it would be recorded or shown.",
    )


class ActionRef(BaseModel):
    """Where an action used by the workflow comes from (YAML ``actions:`` section)."""

    model_config = ConfigDict(extra="forbid")

    python: str | None = Field(
        default=None, description="'module:attribute' of an action, @tool or plain function."
    )
    workflow: str | None = Field(
        default=None, description="Path of a workflow file, relative to this one."
    )
    description: str | None = Field(default=None, description="Overrides the action's own.")

    @model_validator(mode="after")
    def _exactly_one(self) -> ActionRef:
        if (self.python is None) == (self.workflow is None):
            raise ValueError("an action reference needs exactly one of 'python' or 'workflow'")
        return self


class Defaults(BaseModel):
    """Settings every node inherits unless it sets its own."""

    model_config = ConfigDict(extra="forbid")

    timeout: float | None = Field(default=None, gt=0, description="Seconds per attempt.")
    retry: RetryPolicy = Field(default_factory=RetryPolicy, description="Retry policy.")


class WorkflowSpec(BaseModel):
    """A whole workflow. Node order is irrelevant; edges define the graph."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Name of the workflow; also its action name when nested.")
    version: str = Field(
        default="1", coerce_numbers_to_str=True, description="Version of the workflow."
    )
    description: str = Field(default="", description="What the workflow does.")
    inputs: dict[str, InputSpec] = Field(default_factory=dict, description="Declared inputs.")
    outputs: dict[str, str] = Field(
        default_factory=dict,
        description="Named outputs as ${NODE...} references; default: the sink nodes' outputs.",
    )
    actions: dict[str, ActionRef] = Field(
        default_factory=dict, description="Actions this file brings in, by the name nodes use."
    )
    python_path: list[str] = Field(
        default_factory=list, description="Extra import folders, relative to the file."
    )
    nodes: dict[str, NodeSpec] = Field(description="The steps, by name.")
    concurrency: int | None = Field(default=None, ge=1, description="Max nodes running at once.")
    action_concurrency: dict[str, int] = Field(
        default_factory=dict, description="Max parallel calls per action name."
    )
    on_failure: FailurePolicy = Field(
        default=FailurePolicy.FAIL_FAST, description="fail_fast or continue."
    )
    defaults: Defaults = Field(default_factory=Defaults, description="Per-node defaults.")
    journal: JournalMode = Field(
        default=JournalMode.BATCHED,
        description="batched (fast; a crash may re-run the calls of the last few ms) or durable "
        "(each finished call is on disk before its dependents start). Not part of the graph "
        "hash: a run may be resumed in the other mode.",
    )

    _source: Any = PrivateAttr(default=None)

    @field_validator("inputs", mode="before")
    @classmethod
    def _input_shorthand(cls, v: Any) -> Any:
        if isinstance(v, dict):
            return {
                k: spec if isinstance(spec, dict | BaseModel) else {"default": spec}
                for k, spec in v.items()
            }
        return v

    @field_validator("nodes")
    @classmethod
    def _node_names(cls, v: dict[str, NodeSpec]) -> dict[str, NodeSpec]:
        for name in v:
            check_name(name, "node")
        if not v:
            raise ValueError("a workflow needs at least one node")
        return v

    def __eq__(self, other: object) -> bool:
        """Equal definitions are equal wherever they were read from (the source map is ignored)."""
        if not isinstance(other, WorkflowSpec):
            return NotImplemented
        return self.__dict__ == other.__dict__

    __hash__ = None  # type: ignore[assignment]

    @property
    def source(self) -> Any:
        """The ``SourceMap`` of the YAML file this came from, or None."""
        return self._source
