"""Running a team or cluster from Python, outside any workflow, and what both actions share.

``LocalContext`` is the context such a call gets: members given as objects
are called directly, so nothing needs a registry; a member named by a string
has nowhere to be found and fails as an unknown action (and is replaced from
its pool, or ends the team), as it would in a workflow that lacks it.
``run_locally`` makes the call; ``missing_task`` and ``SpecHolder`` are the
argument check and the ``spec``/``name`` both actions share.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from weft.protocols import Action, ActionCall, ActionFailed, ActionResult, ActionSpec, new_id
from weft.protocols.actions import new_call_id
from weft.protocols.human_input import Questions


class LocalContext:
    """An ``ActionContext`` for a team call made from Python (``Team.run``, ``Cluster.run``)."""

    def __init__(self, call: ActionCall, actions: Mapping[str, Action] | None = None) -> None:
        self._call = call
        self._actions = dict(actions or {})
        self._questions: Questions | None = None

    @property
    def call(self) -> ActionCall:
        return self._call

    @property
    def idempotency_key(self) -> str:
        return self._call.idempotency_key or self._call.call_id

    async def invoke(
        self,
        action: str,
        arguments: dict[str, Any],
        *,
        answers: tuple[Any, ...] = (),
        resume_state: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> ActionResult:
        """Call ``action`` with ``answers`` to the questions it asks (a team's member), the
        state it saved when it asked (``resume_state``) and the key of its work."""
        target = self._actions.get(action)
        if target is None:
            return ActionResult.failure(new_call_id(), "UnknownAction", f"no action '{action}'")
        call = ActionCall(
            action=action,
            arguments=arguments,
            run_id=self._call.run_id,
            trace_id=self._call.trace_id,
            parent_id=self._call.call_id,
            answers=answers,
            resume_state=resume_state,
            idempotency_key=idempotency_key,
        )
        try:
            return await target.invoke(call, LocalContext(call, self._actions))
        except Exception as exc:
            return ActionResult.from_exception(call.call_id, exc, source=action)

    def actions(self) -> list[ActionSpec]:
        return [a.spec for a in self._actions.values()]

    def names(self) -> set[str]:
        """The names ``invoke`` resolves (none for ``run_locally``: members are objects there)."""
        return set(self._actions)

    def ask(self, question: str, *, choices: Sequence[Any] | None = None) -> Any:
        if self._questions is None:
            self._questions = Questions(self.call)
        return self._questions.ask(question, choices)

    def progress(self, message: str, fraction: float | None = None, **data: Any) -> None:
        return None


async def run_locally(action: Action, arguments: dict[str, Any]) -> Any:
    """Call ``action`` from Python outside any run; its output, or ``ActionFailed``."""
    call = ActionCall(action=action.spec.name, arguments=arguments, run_id=new_id())
    result = await action.invoke(call, LocalContext(call))
    if not result.ok:
        error = result.error
        raise ActionFailed(
            error.message if error else result.state.value,
            error_type=error.type if error else None,
        )
    return result.output


def missing_task(call: ActionCall) -> ActionResult | None:
    """The failure of a team or cluster call without a ``task``, or None when it has one."""
    task = call.arguments.get("task")
    if isinstance(task, str) and task.strip():
        return None
    return ActionResult.failure(
        call.call_id, "ValidationError", "argument 'task' is required", field="task"
    )


class SpecHolder:
    """The ``spec`` and ``name`` of an action that keeps its ``ActionSpec`` in ``_spec``."""

    _spec: ActionSpec

    @property
    def spec(self) -> ActionSpec:
        return self._spec

    @property
    def name(self) -> str:
        return self._spec.name
