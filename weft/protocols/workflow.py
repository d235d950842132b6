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
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from weft.protocols.a2a_mqtt import A2aMqttAddress
from weft.protocols.llm_action import LlmActionSpec, LlmExample  # noqa: F401 (re-exported)
from weft.protocols.mqtt_url import split_mqtt_url

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
    max_rounds: int = Field(
        default=0,
        ge=0,
        le=100,
        description=(
            "How many times the critic may send the artifact back to its source with its "
            "feedback for a revision (MacNet's bounded review). When the rounds run out the "
            "last revision is passed on. 0: a rejected artifact is not passed on at all."
        ),
    )

    @field_validator("node")
    @classmethod
    def _node_name(cls, v: str) -> str:
        return check_name(v, "node")

    @model_validator(mode="after")
    def _rounds_need_a_critic(self) -> EdgeSpec:
        if self.max_rounds and self.critic is None:
            raise ValueError("'max_rounds' needs a 'critic' on the edge")
        return self


class NodeSpec(BaseModel):
    """One step: it calls an action with arguments built from its inputs.

    The action is named (``action``) or described (``capability``): a
    capability node's agent is chosen by the run's router when the node
    starts, among the actions the run can call, and the decision is traced.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    action: str = Field(
        default="", description="Name of the action to call (tool, agent, workflow...)."
    )
    capability: str | None = Field(
        default=None,
        min_length=1,
        description=(
            "Instead of 'action': what the node needs done, in prose; a router picks the "
            "agent at run time (e.g. 'translate Spanish to English')."
        ),
    )
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
    foreach: str | list[Any] | None = Field(
        default=None,
        description="What the action runs over, once per element, in parallel: one ${...} "
        "reference to a list, or a literal list (its elements may hold ${...} references).",
    )
    join: JoinSpec | None = Field(default=None, description="How several inputs are awaited.")
    timeout: float | None = Field(default=None, gt=0, description="Seconds per attempt.")
    retry: RetryPolicy | None = Field(default=None, description="Overrides the default retry.")
    concurrency: int | None = Field(
        default=None, ge=1, description="Max parallel calls of a foreach node."
    )

    @model_validator(mode="after")
    def _action_or_capability(self) -> NodeSpec:
        if not self.action and self.capability is None:
            raise ValueError("missing required field 'action' (or 'capability')")
        if self.action and self.capability is not None:
            raise ValueError("give 'action' or 'capability', not both")
        return self

    @field_validator("foreach", mode="before")
    @classmethod
    def _foreach_shape(cls, v: Any) -> Any:
        # one message for both forms, not one per member of the union
        if v is None or isinstance(v, str | list | tuple):
            return v
        got = "a mapping" if isinstance(v, dict) else f"{type(v).__name__} {v!r}"
        raise ValueError(
            f"foreach must be a ${{...}} reference to a list or a literal list "
            f"(foreach: [a, b]), got {got}"
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


def _check_a2a_url(url: str) -> None:
    """``ValueError`` unless ``url`` is an http(s) URL or ``mqtt(s)://HOST[:PORT]/ORG/UNIT/AGENT``."""
    if url.startswith(("http://", "https://")):
        return
    if not url.startswith(("mqtt://", "mqtts://")):
        raise ValueError(
            f"'a2a' must be an http(s):// URL or mqtt(s)://HOST:PORT/ORG/UNIT/AGENT_ID, not {url!r}"
        )
    path = split_mqtt_url(url, "'a2a'").path  # ValueError naming 'a2a' and what is wrong
    try:
        A2aMqttAddress.parse(path)
    except ValueError as exc:
        raise ValueError(
            f"'a2a' {url!r} must name the agent as mqtt://HOST:PORT/ORG/UNIT/AGENT_ID: {exc}"
        ) from None


class ActionRef(BaseModel):
    """Where an action used by the workflow comes from (YAML ``actions:`` section)."""

    model_config = ConfigDict(extra="forbid")

    python: str | None = Field(
        default=None, description="'module:attribute' of an action, @tool or plain function."
    )
    workflow: str | None = Field(
        default=None, description="Path of a workflow file, relative to this one."
    )
    mcp: str | None = Field(
        default=None,
        description="An MCP server: a command line speaking MCP on stdio, or an http(s):// URL "
        "of a streamable-HTTP server. Each of its tools is an action named '<this name>.<tool>'.",
    )
    a2a: str | None = Field(
        default=None,
        description="An A2A agent: the http(s):// URL it serves its agent card under "
        "(/.well-known/agent-card.json), or mqtt(s)://HOST:PORT/ORG/UNIT/AGENT_ID for one on "
        "an MQTT broker (A2A over MQTT, its card read when the workflow is loaded); the agent "
        "is one action of this name.",
    )
    skill: str | None = Field(
        default=None, description="With 'a2a': the skill to call, for an agent with several."
    )
    timeout: float | None = Field(
        default=None,
        gt=0,
        description="With 'a2a': seconds a call may wait for its answer at most; for an "
        "mqtt:// agent also how long loading the workflow waits for its card (default 5).",
    )
    token_env: str | None = Field(
        default=None,
        description="With an http(s):// 'a2a' or 'mcp' URL: the environment variable holding "
        "the bearer token the server wants (sent as 'Authorization: Bearer <token>'); read "
        "when the workflow is loaded. Name the variable here, never the token itself.",
    )
    llm: LlmActionSpec | None = Field(
        default=None,
        description="An LLM agent defined here: instructions, model, tools (other actions by "
        "name) and settings; it is one action of this name.",
    )
    description: str | None = Field(default=None, description="Overrides the action's own.")

    #: The fields that say where an action comes from; a reference gives exactly one.
    _SOURCES: ClassVar[tuple[str, ...]] = ("python", "workflow", "mcp", "a2a", "llm")

    @field_validator("token_env")
    @classmethod
    def _variable_name(cls, value: str | None) -> str | None:
        # The value is not echoed: a token pasted here by mistake stays out of the message.
        if value is not None and not _ENV_NAME.fullmatch(value):
            raise ValueError(
                "'token_env' must name an environment variable (letters, digits and _, "
                "not starting with a digit) that holds the token, not the token itself"
            )
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> ActionRef:
        given = [name for name in self._SOURCES if getattr(self, name) is not None]
        if len(given) != 1:
            names = ", ".join(f"'{n}'" for n in self._SOURCES)
            raise ValueError(f"an action reference needs exactly one of {names}")
        if self.skill is not None and self.a2a is None:
            raise ValueError("'skill' names a skill of an A2A agent: it needs 'a2a'")
        if self.timeout is not None and self.a2a is None:
            raise ValueError("'timeout' bounds the calls of an A2A agent: it needs 'a2a'")
        if self.a2a is not None:
            _check_a2a_url(self.a2a)
        if self.token_env is not None:
            _check_token_source(self)
        return self


#: What an environment variable's name may be (``token_env``).
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _check_token_source(ref: ActionRef) -> None:
    """``ValueError`` unless ``token_env`` goes with a server reached over HTTP."""
    url = ref.a2a or ref.mcp
    if url is None:
        raise ValueError(
            "'token_env' names the bearer token of an HTTP 'a2a' or 'mcp' server: it needs one"
        )
    if url.strip().startswith(("http://", "https://")):
        return
    if ref.a2a is not None:
        raise ValueError(
            "'token_env' sends a bearer token over HTTP: an mqtt(s):// A2A agent is "
            "guarded by its broker's credentials (in the broker URL)"
        )
    raise ValueError(
        "'token_env' sends a bearer token to an http(s):// MCP server: a stdio command "
        "gets its secrets in its own environment"
    )


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
