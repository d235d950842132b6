"""An edge's critic on LangGraph's engine: the review, the send-backs, what passes on.

``to_langgraph`` gives every edge with a critic a LangGraph node of its own,
``source->target``, between the two. It runs weft's exchange,
``critics.settle``, with LangGraph's calls (``langgraph_calls``) instead of the
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

from weft.protocols import ActionResult, Usage
from weft.runtime.engine.compiled import CompiledEdge
from weft.runtime.engine.critics import (
    Broken,
    ReviewListener,
    Verdict,
    critic_call,
    revision_of,
    revision_request,
    settle,
)
from weft.runtime.engine.langgraph_calls import RunScope
from weft.runtime.engine.langgraph_flow import label
from weft.runtime.engine.slots import Slot


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
        self.usage: list[Usage] = []

    async def run(self, artifact: Any) -> Verdict:
        """Review ``artifact``, with up to ``edge.max_rounds`` revisions by the source."""
        return await settle(self.edge, artifact, self._critic, self._revise, self.on_review)

    async def _critic(self, artifact: Any, rounds: int) -> ActionResult:
        critic = self.scope.registry.get(self.edge.critic or "")
        call = critic_call(
            self.edge, critic.spec.name, artifact, rounds, self.scope.run_id, self.scope.prefix
        )
        result = await self.scope.invoke(critic, call)
        self.usage.append(result.usage)
        return result

    async def _revise(self, draft: Any, feedback: str, rounds: int) -> Any:
        """The revision, or ``Broken`` saying why there is none."""
        request = revision_request(self.edge, self.source, self.inputs, draft, feedback, rounds)
        if isinstance(request, Broken):
            return request
        result = await self.scope.call(self.source.node, f"{label(self.edge)}~{rounds}", request)
        self.usage.append(result.usage)
        return revision_of(self.edge, rounds, result)
