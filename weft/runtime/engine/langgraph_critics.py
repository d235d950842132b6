"""An edge's critic on LangGraph's engine: the review, the send-backs, what passes on.

``to_langgraph`` gives every edge with a critic a LangGraph node of its own,
``source->target``, between the two. It runs ``review``: weft's exchange of
``critics.settle`` with LangGraph's calls (``langgraph_calls``) instead of the
executor's. The critic gets ``{artifact, source, target}``; rejected with
rounds left, the source's action is called again with the critic's feedback
and its draft (``critics.revision_arguments``, under the key
``source->target~round``, with the source node's timeout and retries), and
the critic reviews the revision; when the rounds run out the last revision
passes on, and on an edge without rounds a rejection delivers nothing. The
source node's own output stays what it was: only the edge carries the revision.
"""

from __future__ import annotations

from typing import Any

from weft.protocols import ActionCall, ActionResult, Usage
from weft.runtime.engine.arguments import ForeachPlan, node_arguments
from weft.runtime.engine.compiled import CompiledEdge, CompiledNode
from weft.runtime.engine.critics import ReviewListener, Verdict, read_review, revision_arguments
from weft.runtime.engine.langgraph_calls import RunScope
from weft.runtime.engine.slots import Slot
from weft.workflows.expressions import ExpressionError


class EdgeReview:
    """The review of one artifact on one edge, for one run; ``usage`` of every call made."""

    def __init__(
        self,
        edge: CompiledEdge,
        source: Slot,
        inputs: dict[str, Any],
        scope: RunScope,
        on_review: ReviewListener | None = None,
    ) -> None:
        self.edge = edge
        self.on_review = on_review
        self.scope = scope
        self.source = source
        self.inputs = inputs
        self.label = f"{edge.source}->{edge.target}"
        self.named = f"{edge.source} -> {edge.target}"
        self.usage: list[Usage] = []

    async def run(self, artifact: Any) -> Verdict:
        """Review ``artifact``, with up to ``edge.max_rounds`` revisions by the source."""
        max_rounds = self.edge.max_rounds
        rounds = 0
        while True:
            result = await self._critic(artifact, rounds)
            if self.on_review is not None:
                self.on_review(self.edge, result, rounds)
            if not result.ok:
                message = result.error.message if result.error else result.state.value
                return Verdict(True, artifact, rounds, f"critic on {self.named}: {message}")
            approved, artifact, feedback = read_review(result.output, artifact)
            if approved:
                return Verdict(True, artifact, rounds)
            if rounds >= max_rounds:
                return Verdict(max_rounds > 0, artifact, rounds)
            rounds += 1
            revised = await self._revise(artifact, feedback, rounds)
            if isinstance(revised, str):
                return Verdict(True, artifact, rounds, revised)
            artifact = revised[0]

    async def _critic(self, artifact: Any, rounds: int) -> ActionResult:
        edge = self.edge
        critic = self.scope.registry.get(edge.critic or "")
        call = ActionCall(
            action=critic.spec.name,
            arguments={"artifact": artifact, "source": edge.source, "target": edge.target},
            run_id=self.scope.run_id,
            node=self.scope.prefix + self.label + (f"~{rounds}" if rounds else ""),
        )
        result = await self.scope.invoke(critic, call)
        self.usage.append(result.usage)
        return result

    async def _revise(self, draft: Any, feedback: str, rounds: int) -> tuple[Any] | str:
        """``(revision,)``, or the message saying why there is none."""
        node: CompiledNode = self.source.node
        where = f"revision {rounds} of {self.named}"
        try:
            arguments = node_arguments(self.source, self.inputs)
        except ExpressionError as exc:
            return f"{where}: {exc}"
        if isinstance(arguments, ForeachPlan):
            return f"{where}: a foreach node's artifact cannot be sent back for revision"
        revised = revision_arguments(node.action.spec, arguments, draft, feedback)
        if revised is None:
            return (
                f"{where}: action '{node.action_name}' takes no 'feedback' parameter and no "
                "single text parameter, so the critic's instructions cannot be given to it"
            )
        result = await self.scope.call(node, f"{self.label}~{rounds}", revised)
        self.usage.append(result.usage)
        if not result.ok:
            message = result.error.message if result.error else result.state.value
            return f"{where} failed: {message}"
        return (result.output,)
