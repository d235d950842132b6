"""A routed call's own success counts for that request only; a verdict teaches the card.

"shout hello there" routed to the greeter succeeds as a greeting: the call
returned, the route was still wrong. Counted for similar requests and kept as
a learned example of the greeter, such successes made every wrong route
reinforce itself. Now a call's success counts only for a near-identical
request, and no call's outcome teaches the card; ``weft feedback`` (or a critic) counts
for similar requests too.
"""

from __future__ import annotations

from weft.protocols import CapabilityCard, RouteRequest
from weft.runtime.routing.capability_router import CapabilityRouter
from weft.runtime.routing.embeddings import MiniLMEmbedder

CARDS = [
    CapabilityCard(
        agent_id="greet",
        description="Greets a person by name with a friendly hello.",
        skills=["greetings", "welcome messages"],
    ),
    CapabilityCard(
        agent_id="shout",
        description="Shouts a message in capital letters so nobody misses it.",
        skills=["shouting", "loud announcements"],
    ),
]
ROUTED = "shout hello there"
SIMILAR = "shout hello to everyone in the office"


async def _after(minilm: MiniLMEmbedder, source: str) -> dict[str, float]:
    router = CapabilityRouter.open(minilm)
    try:
        router.add_cards(CARDS)
        await router.record_outcome(RouteRequest(text=ROUTED), "greet", True, source=source)
        decision = await router.route(RouteRequest(text=SIMILAR))
        by_agent = {c.agent_id: c for c in decision.candidates}
        greet = by_agent["greet"]
        assert source != "call" or not (greet.evidence or "").startswith("learned:")
        return {a: c.score for a, c in by_agent.items()} | {"greet.success": greet.parts["success"]}
    finally:
        router.close()


async def test_a_call_that_returned_does_not_move_a_similar_request(
    minilm: MiniLMEmbedder,
) -> None:
    called = await _after(minilm, "call")
    judged = await _after(minilm, "feedback")
    assert called["shout"] > called["greet"]  # the wrong route did not reinforce itself
    assert called["greet.success"] == 0 < judged["greet.success"]
    assert judged["greet"] > called["greet"]  # a person's word counts, as a learned example
