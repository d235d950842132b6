"""An outcome on one request must not move its twin: same topic, another operation.

On a labelled set written blind (bench/data/third_*), feedback on half the
subtasks made the other half worse, because the nearest taught subtask of a
close pair of agents is usually its twin with the other agent. Outcomes now
count only between requests asking for the same kind of work
(``instruction.same_operation``); a repeated request still learns.
"""

from __future__ import annotations

import pytest

from weft.protocols import CapabilityCard, RouteRequest
from weft.runtime.routing.capability_router import CapabilityRouter
from weft.runtime.routing.embeddings import MiniLMEmbedder
from weft.runtime.routing.instruction import operation_terms, same_operation

CARDS = [
    CapabilityCard(
        agent_id="drafter",
        description="Drafts new contracts from scratch or from a template: NDAs, freelance "
        "and consulting agreements.",
        skills=["NDA", "service agreement", "clause templates"],
    ),
    CapabilityCard(
        agent_id="redliner",
        description="Reviews contracts the other side sent and marks risky clauses, "
        "unusual terms and missing protections.",
        skills=["contract review", "risk flags", "redlines"],
    ),
]
#: Taught: a review, asked as a question, first routed to the drafter (wrong).
TAUGHT = "client sent over their NDA, anything I should worry about before signing?"
#: Its twin: the same client and NDA, but the work is drafting.
TWIN = "The client sent us their NDA and it's awful. Let's just send them our own NDA."
#: The same kind of request again, with other specifics.
AGAIN = "supplier sent over their NDA, anything I should worry about before we sign?"


def test_requests_are_the_same_work_by_their_verbs() -> None:
    def same(a: str, b: str) -> bool:
        return same_operation(frozenset(operation_terms(a)), frozenset(operation_terms(b)))

    assert same("Draw the sales forecast in one graph.", "Draw the demand forecast as a chart.")
    assert same("Is this clause risky?", "Is the NDA one-sided?")  # two questions
    assert same("Turn the email into English.", "Make it readable for the English team.")
    assert not same("Summarise the ticket.", "Translate the ticket.")
    assert not same(TAUGHT, TWIN)  # a question and a drafting instruction


@pytest.fixture
async def taught_router(minilm: MiniLMEmbedder) -> CapabilityRouter:
    router = CapabilityRouter.open(minilm)
    router.add_cards(CARDS)
    twin_before = await router.route(RouteRequest(text=TWIN))
    assert twin_before.chosen is not None and twin_before.chosen.agent_id == "drafter"
    taught = RouteRequest(text=TAUGHT)
    await router.record_outcome(taught, "drafter", False, source="feedback")
    await router.record_outcome(taught, "redliner", True, source="feedback")
    near = float(
        await router.query_vector(taught) @ await router.query_vector(RouteRequest(text=TWIN))
    )
    assert near > 0.55  # close enough that the outcome would have counted as evidence
    return router


async def test_a_correction_does_not_move_its_twin(taught_router: CapabilityRouter) -> None:
    try:
        after = await taught_router.route(RouteRequest(text=TWIN))
        assert after.chosen is not None and after.chosen.agent_id == "drafter"
        by_agent = {c.agent_id: c for c in after.candidates}
        assert by_agent["drafter"].parts["success"] == 0
        assert "not: " + TAUGHT not in (by_agent["drafter"].evidence or "")
    finally:
        taught_router.close()


async def test_the_same_request_again_still_learns(taught_router: CapabilityRouter) -> None:
    try:
        after = await taught_router.route(RouteRequest(text=AGAIN))
        assert after.chosen is not None and after.chosen.agent_id == "redliner"
        assert {c.agent_id: c for c in after.candidates}["redliner"].parts["success"] > 0
    finally:
        taught_router.close()
