"""A compiled LangGraph graph as a weft action (``from_langgraph``).

A user who already has a LangGraph graph should not write glue to put it in a
workflow, offer it to an ``LLMAgent`` or serve it with ``weft agent serve``:
``as_action`` (and the builder, and ``LLMAgent(tools=...)``) recognise a
compiled graph by its public API and wrap it here.

What maps to what:

- the graph's input state schema (``get_input_jsonschema()``) is the action's
  input schema, its output state schema the output schema. No key of a
  ``TypedDict`` state is required, as LangGraph requires none (the state lists
  every key, most of them written by the graph's nodes); a pydantic or
  dataclass state keeps its required fields, as LangGraph builds it for the
  first node and fails there without them; keys outside the state are
  refused (``additionalProperties: false``), as LangGraph would drop them
  silently. A ``typing.TypedDict`` state, which pydantic refuses on Python 3.11,
  gets the same schema from its type hints (``_langgraph_state``);
- the input of a ``TypedDict`` state is checked at the call, as a tool's
  arguments are: a wrong type is a ``ValidationError`` naming the key, not an
  error inside the first node that reads it (keys with a reducer are
  LangGraph's to take);
- the call's arguments are the graph's input state; the result's output is the
  final state as JSON data: LangChain messages become OpenAI-style message
  dicts (``convert_to_openai_messages``), everything else follows weft's rule
  for results (``json_value``), as a tool's output does;
- the call runs through ``ainvoke`` on the event loop (LangGraph runs sync nodes
  in its own threads), or ``invoke`` in a worker thread for a checkpointer
  without async methods (below); weft's timeout and cancellation cancel it, and the
  call's deadline bounds it (``timeout`` result when it passes);
- an exception the graph raises (a node's error, ``GraphRecursionError``) is an
  ``error`` result naming the graph and, from the note LangGraph adds to it,
  the node it was raised in (``outer/inner`` inside a subgraph); usage is not
  known, so it is zero;
- a graph compiled with a checkpointer gets ``thread_id`` = the call's
  idempotency key. A call whose thread already has a checkpoint (a retry, or
  ``weft resume`` of the node with a lasting checkpointer) carries it on the
  way LangGraph resumes after an error, ``ainvoke(None)``, instead of adding
  the input to that state a second time; a checkpointer without async
  methods (``SqliteSaver``) is called through ``invoke`` in a worker thread
  (``_langgraph_threads``);
- a graph that stops on ``interrupt()`` ends the call ``needs_input`` with the
  interrupt's question, and the answers of ``weft resume --answer`` resume it
  (``_langgraph_interrupts``).

``langgraph`` is an optional dependency (the ``langgraph`` extra); this module
imports it only to convert messages, and says how to install it when missing.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError

from weft.agents import _langgraph_interrupts as interrupts
from weft.agents._deadline import within_deadline
from weft.agents._langgraph_state import InputCheck, state_is_built, state_schema
from weft.agents._langgraph_threads import thread_of
from weft.protocols import (
    ActionCall,
    ActionContext,
    ActionKind,
    ActionResult,
    ActionSpec,
    CapabilityCard,
    OutputNotJSON,
    json_value,
)
from weft.protocols.actions import idempotency_key_of
from weft.protocols.langgraph_objects import is_langgraph_graph

__all__ = ["LangGraphAction", "from_langgraph", "is_langgraph_graph"]


def _require_langgraph() -> None:
    try:
        import langgraph  # noqa: F401
    except ImportError:  # pragma: no cover - exercised only without the extra
        raise ImportError(
            "a LangGraph graph needs the 'langgraph' package: pip install 'weft[langgraph]'"
        ) from None


#: The note LangGraph adds to a node's exception (``pregel/_retry.py``): "During task
#: with name 'n' and id '...'", or "Before task with name 'n' ..." when building its input.
_TASK_NOTE = re.compile(r"^(?:During|Before) task with name '([^']+)'")


def failed_node(exc: BaseException) -> str | None:
    """The graph node ``exc`` was raised in, from LangGraph's notes: ``outer/inner`` in a
    subgraph (each graph adds its own note, innermost first); None without a note."""
    names = [
        found.group(1)
        for note in getattr(exc, "__notes__", None) or ()
        if isinstance(note, str) and (found := _TASK_NOTE.match(note))
    ]
    return "/".join(reversed(names)) or None


def _schema(graph: Any, which: str) -> dict[str, Any]:
    """The action's input or output schema: the state's (``_langgraph_state``), adapted."""
    schema = state_schema(graph, which)
    schema.pop("title", None)
    if which == "input":
        # LangGraph never requires a key of a TypedDict input state (its keys all look
        # required, yet most are written by the graph's own nodes), so neither does weft.
        # A pydantic or dataclass state is built for the first node, so LangGraph fails
        # there without its required fields: those stay required, for `weft validate`.
        if not state_is_built(graph):
            schema.pop("required", None)
        # ...but it drops a key its state does not have without a word, so a misspelt
        # argument would run the graph without it: a closed schema lets `weft validate`
        # name it (with the close key) before anything runs.
        if schema.get("properties") and "additionalProperties" not in schema:
            schema["additionalProperties"] = False
    return schema


def _messages_as_dicts(value: Any) -> Any:
    """``value`` with its LangChain messages as OpenAI-style dicts."""
    if isinstance(value, dict):
        return {k: _messages_as_dicts(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_messages_as_dicts(v) for v in value]
    if type(value).__module__.startswith("langchain_core.messages"):
        from langchain_core.messages import convert_to_openai_messages

        return convert_to_openai_messages(value)
    return value


def to_json_data(value: Any) -> Any:
    """``value`` as JSON data: messages as OpenAI-style dicts, the rest by weft's rule for
    results (``json_value``: a set a list, a datetime ISO text, an enum its value, a
    model its dump), so a graph's state reads as a tool's output would.

    What the rule refuses (bytes, an arbitrary object) is left in place: the
    executor then refuses the output as it refuses any action's (``OutputNotJSON``,
    naming the key), instead of passing its ``str()`` on.
    """
    converted = _messages_as_dicts(value)
    try:
        return json_value(converted)
    except OutputNotJSON:
        return converted


class LangGraphAction:
    """A compiled LangGraph graph served as an action: arguments in, final state out."""

    def __init__(
        self,
        graph: Any,
        *,
        name: str | None = None,
        description: str | None = None,
        kind: ActionKind = ActionKind.AGENT,
        card: CapabilityCard | None = None,
        recursion_limit: int | None = None,
    ) -> None:
        _require_langgraph()
        if not is_langgraph_graph(graph):
            raise TypeError(f"{graph!r} is not a compiled LangGraph graph (call .compile())")
        self.graph = graph
        self.recursion_limit = recursion_limit
        self._with_memory: Any = None
        graph_name = getattr(graph, "name", None) or "langgraph"
        self._spec = ActionSpec(
            name=name or graph_name,
            kind=kind,
            description=description
            if description is not None
            else f"LangGraph graph '{name or graph_name}'",
            input_schema=_schema(graph, "input"),
            output_schema=_schema(graph, "output"),
            card=card,
        )
        self._input = InputCheck(graph)

    @property
    def spec(self) -> ActionSpec:
        return self._spec

    @property
    def name(self) -> str:
        return self._spec.name

    def __repr__(self) -> str:
        return f"<langgraph {self._spec.name}>"

    def _config(self, graph: Any, thread: str) -> dict[str, Any]:
        config: dict[str, Any] = {"run_name": self._spec.name}
        if self.recursion_limit is not None:
            config["recursion_limit"] = self.recursion_limit
        if getattr(graph, "checkpointer", None) is not None:
            config["configurable"] = {"thread_id": thread}
        return config

    def _resumable(self) -> Any:
        """The graph, or a copy with an in-memory checkpointer: resuming an interrupt needs one."""
        if getattr(self.graph, "checkpointer", None) is not None:
            return self.graph
        if self._with_memory is None:
            from langgraph.checkpoint.memory import InMemorySaver

            self._with_memory = self.graph.copy(update={"checkpointer": InMemorySaver()})
        return self._with_memory

    async def invoke(self, call: ActionCall, ctx: ActionContext) -> ActionResult:
        """Run the graph once; never raises for the graph's failures (cancellation passes).

        A graph that stops on ``interrupt()`` asks a person (``_langgraph_interrupts``).
        An input its ``TypedDict`` state does not take fails before the graph runs.
        """
        from weft.agents.tool import describe_validation_error

        try:
            arguments = self._input.check(call.arguments)
        except ValidationError as exc:
            message, field = describe_validation_error(exc)
            return ActionResult.failure(
                call.call_id, "ValidationError", f"{self.name}: {message}", field=field
            )
        try:
            state = await within_deadline(
                call, self.name, lambda: interrupts.detached(self._run(call, arguments))
            )
        except Exception as exc:
            node = failed_node(exc)
            source = f"{self.name}: node '{node}'" if node else self.name
            return ActionResult.from_exception(call.call_id, exc, source=source)
        return state if isinstance(state, ActionResult) else self._result(call, state)

    async def _run(self, call: ActionCall, arguments: dict[str, Any]) -> Any:
        """The graph's final state, its answers given: one ``Command(resume=...)`` each.

        Without answers, a thread an earlier attempt started is carried on
        (``_langgraph_threads``). With answers, the call's answers thread is
        replayed from the input: one left by an earlier attempt is dropped
        first, as the answers it took would be asked for again.
        """
        key = idempotency_key_of(call)
        if not call.answers:
            thread = await thread_of(self.graph, self._config(self.graph, key))
            return await thread.invoke(None if thread.started else arguments)
        graph = self._resumable()
        thread = await thread_of(
            graph, self._config(graph, interrupts.answers_thread(key, call.answers))
        )
        if thread.started:
            await thread.delete()
        try:
            state = await thread.invoke(arguments)
            for answer in call.answers:
                waiting = interrupts.pending(state)
                if not waiting:
                    break
                state = await thread.invoke(interrupts.resume_command(waiting[0], answer))
            return state
        finally:
            if graph is self._with_memory:  # weft's own checkpoints: kept for this call only
                await thread.delete()

    def _result(self, call: ActionCall, state: Any) -> ActionResult:
        waiting = interrupts.pending(state)
        if not waiting:
            return ActionResult.success(call.call_id, to_json_data(state))
        first = waiting[0]
        value = getattr(first, "value", None)
        try:
            shown = json_value(_messages_as_dicts(value))
        except OutputNotJSON:  # kept in the error's details, which are JSON: its text
            shown = str(value)
        # the answers given so far were each taken by one interrupt, in order
        return interrupts.asked(call.call_id, self.name, first, len(call.answers), shown)


def from_langgraph(
    graph: Any,
    *,
    name: str | None = None,
    description: str | None = None,
    card: CapabilityCard | None = None,
    recursion_limit: int | None = None,
) -> LangGraphAction:
    """Wrap a compiled LangGraph graph as an action (name defaults to ``graph.name``).

    Raises ``TypeError`` for anything that is not a compiled graph, and
    ``ImportError`` naming the extra when ``langgraph`` is not installed.
    """
    return LangGraphAction(
        graph, name=name, description=description, card=card, recursion_limit=recursion_limit
    )
