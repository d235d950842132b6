"""What an action may ask of whoever runs it.

An agent that calls other actions (Agent-as-Tool) receives an object with this
interface. It is declared here, in the layer that imports nothing of weft, so
that ``weft.agents`` never depends on ``weft.runtime``: the executor supplies
an implementation, tests may supply their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from weft.protocols.actions import ActionCall, ActionResult, ActionSpec


@runtime_checkable
class ActionContext(Protocol):
    """Services available to an action during one call."""

    @property
    def call(self) -> ActionCall:
        """The call being served (ids, attempt, deadline)."""
        ...

    @property
    def idempotency_key(self) -> str:
        """A key for this call's work, the same on every attempt of it.

        Retries, a remote call moved to another replica after its agent died,
        and ``weft resume`` of the same node or foreach item all see the same
        key (``idempotency_key_of``), so an external side effect keyed by it
        (a payment, an e-mail, a row) happens once. Nested calls made through
        ``invoke`` get keys of their own, derived from this one.
        """
        ...

    async def invoke(self, action: str, arguments: dict[str, Any]) -> ActionResult:
        """Call another action by name as a child of this call.

        Never raises for a failed child: the child's ``ActionResult`` says so.
        Usage of the child is added to the current call's usage by the runtime.
        """
        ...

    def actions(self) -> list[ActionSpec]:
        """The actions this action may call (offered to LLM agents as tools)."""
        ...

    def progress(self, message: str, fraction: float | None = None, **data: Any) -> None:
        """Report progress; listeners (terminal display, traces) see it immediately."""
        ...

    def ask(self, question: str, *, choices: Sequence[Any] | None = None) -> Any:
        """A person's answer to ``question``, asked in the middle of this call.

        The first time, this stops the call: it raises ``NeedsInput``, the call
        ends ``needs_input`` with the question, and so does the run. ``weft
        resume RUN --answer NODE=VALUE`` calls the node again from its start,
        and this ``ask`` then returns VALUE (``choices``, if given, are the only
        answers accepted). Work done before the question is done again on
        resume, so ask before side effects, or key them by ``idempotency_key``.
        Implementations answer with a ``weft.protocols.human_input.Questions`` of the call.
        """
        ...


@runtime_checkable
class Action(Protocol):
    """Anything the executor can call: a tool, an agent, a workflow, a remote agent."""

    @property
    def spec(self) -> ActionSpec:
        """How the action presents itself (name, schemas, capability card)."""
        ...

    async def invoke(self, call: ActionCall, ctx: ActionContext) -> ActionResult:
        """Serve one call. Must not raise for failures of the action itself:
        they are returned as a result with an explicit state."""
        ...
