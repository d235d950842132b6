"""What the compiler hands the executor: nodes and edges with everything precomputed.

These records are the engine's shared vocabulary. They import no other part
of the engine except the action table, so the scheduler, the node calls and
the workflow-as-action can all read a compiled workflow without knowing how
it was compiled (``compiler.py`` knows that).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from weft.protocols import Action, JoinMode, NodeSpec, RetryPolicy, WorkflowSpec
from weft.runtime.engine.action_table import ActionTable
from weft.workflows import GraphPlan
from weft.workflows.expressions import Condition, Renderer

#: A join's reducer: ``(values, sources) -> value`` (``weft.workflows.reducers``).
Reducer = Any


@dataclass(frozen=True, slots=True)
class CompiledEdge:
    """A forward or loop edge with its condition and critic ready to use."""

    source: str
    target: str
    condition: Condition | None
    critic: str | None
    max_iterations: int | None
    body: tuple[str, ...] = ()
    #: How many times the critic may send the artifact back for revision (``critics``).
    max_rounds: int = 0
    #: No condition and no critic: delivery needs no evaluation.
    plain: bool = True


@dataclass(slots=True)
class CompiledNode:
    """Everything the executor needs about one node, precomputed."""

    name: str
    spec: NodeSpec
    action_name: str
    action: Action
    render_args: Renderer | None
    default_param: str | None
    #: The action's parameters when an object input that has ``default_param`` as a key
    #: is taken apart into them (``unwrapping_keys``); None: the input goes whole.
    param_keys: frozenset[str] | None
    render_foreach: Renderer | None
    reducer: Reducer
    join_mode: JoinMode
    quorum: int
    timeout: float | None
    retry: RetryPolicy
    incoming: tuple[CompiledEdge, ...]
    outgoing: tuple[CompiledEdge, ...]
    loops_out: tuple[CompiledEdge, ...]
    loops_in: tuple[CompiledEdge, ...]
    predecessors: tuple[str, ...]
    #: False for actions that declare they never read their context (most tools).
    uses_context: bool = True
    #: Parameters the action's schema marks secret: registered before each call.
    secret_params: frozenset[str] = frozenset()
    #: Paths into this node's output that feed a secret argument (``secret_flow``).
    secret_outputs: tuple[tuple[str, ...], ...] = ()

    @property
    def templated(self) -> bool:
        """Whether its arguments are rendered (``with`` or ``foreach``), not passed on."""
        return self.render_args is not None or self.render_foreach is not None


@dataclass
class PreparedWorkflow:
    """A validated, compiled workflow plus the actions it calls."""

    spec: WorkflowSpec
    plan: GraphPlan
    nodes: dict[str, CompiledNode]
    registry: ActionTable
    graph_hash: str
    source: str | None
    outputs: dict[str, Renderer]
    sub_hashes: dict[str, str] = field(default_factory=dict)
    #: Paths into the run's inputs that are secret, registered before the run is journaled.
    secret_inputs: tuple[tuple[str, ...], ...] = ()
    #: Literal strings the workflow passes to secret arguments.
    secret_literals: tuple[str, ...] = ()
    #: The inputs that are secret in whole or in part (marked ``writeOnly`` in its schema).
    secret_input_names: frozenset[str] = frozenset()
    #: Mistakes that may be meant (``{topic}`` for ``${inputs.topic}``), one located line each:
    #: ``weft validate`` prints them, a run logs them (``node_argument_checks``).
    warnings: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.spec.name


def single_parameter(schema: Mapping[str, Any]) -> str | None:
    """The parameter a node without ``with`` passes its predecessor's output to: the one
    required parameter, else the only one; ``None`` when that is ambiguous."""
    props = list(schema.get("properties", {}))
    required = list(schema.get("required", []))
    if len(required) == 1:
        return str(required[0])
    if len(props) == 1:
        return str(props[0])
    return None


def unwrapping_keys(schema: Mapping[str, Any], param: str | None) -> frozenset[str] | None:
    """The parameters an object input is taken apart into, when it has ``param`` as a key.

    A node without ``with`` gives its input to ``param`` whole. When that input is
    an object that has ``param`` itself as a key (``{"text": ...}`` from a LangGraph
    graph whose state is ``text``, or from the same graph one node up), the whole
    object in ``param`` would nest (``{"text": {"text": ...}}``) or fail a ``str``
    parameter; its keys that are parameters are the arguments instead. Not when
    ``param`` declares an object (``dict``, a model, a ``TypedDict``): that
    parameter takes the whole object as it always did. Decided here, once per
    node, so the per-call path only looks the key up (``arguments._passed_on``).
    """
    if param is None:
        return None
    properties = schema.get("properties") or {}
    if _takes_object(properties.get(param, {})):
        return None
    return frozenset(properties)


def _takes_object(schema: Any) -> bool:
    """Whether a parameter's schema may declare an object; True when unsure (``$ref``)."""
    if not isinstance(schema, Mapping):
        return False
    if "$ref" in schema or "allOf" in schema or "properties" in schema:
        return True
    kind = schema.get("type")
    if kind == "object" or (isinstance(kind, list) and "object" in kind):
        return True
    if "additionalProperties" in schema and kind is None:
        return True
    return any(_takes_object(s) for key in ("anyOf", "oneOf") for s in schema.get(key) or ())
