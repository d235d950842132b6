"""Outcomes as knowledge of the card: a correction becomes a learned example of the
right agent and a learned not-skill of the wrong one, scored like the card's own."""

from __future__ import annotations

import numpy as np
import pytest

from weft.protocols import CapabilityCard, RouteRequest
from weft.runtime.routing.capability_router import CapabilityRouter, ScoringWeights
from weft.runtime.routing.chroma_store import chroma_client
from weft.runtime.routing.embeddings import MiniLMEmbedder
from weft.runtime.routing.outcome_memory import DAY_S, OutcomeMemory

CARDS = [
    CapabilityCard(
        agent_id="translator",
        description="Translates documents between languages.",
        skills=["translation"],
    ),
    CapabilityCard(
        agent_id="triage",
        description="Sorts customer support tickets by urgency and routes them to the right team.",
        skills=["support tickets", "customer complaints"],
    ),
]
TAUGHT = "Turn the Portuguese complaint email into English for the support team."
NEW = (
    "Our Japanese client filed a support ticket about a refund; "
    "make it readable for the English-speaking team."
)


def test_outcomes_become_decayed_documents_of_the_current_card_version() -> None:
    now = [1_000_000.0]
    client = chroma_client(path=None, url=None)
    memory = OutcomeMemory(
        client,
        model_id="test",
        dimension=4,
        collection="learned-test",
        clock=lambda: now[0],
    )
    unit = np.asarray([1, 0, 0, 0], dtype=np.float32)
    memory.record(unit, "a", True, "right here", version=1, source="feedback")
    memory.record(unit, "a", True, "it only ran", version=1)  # a call's success: no example
    memory.record(unit, "b", False, "wrong here", version=1, source="critic")
    memory.record(unit, "b", False, "it raised", version=1)  # a call's failure: no not-skill
    memory.record(unit, "b", True, "an old card's", version=0, source="feedback")
    learned = memory.learned(["a", "b"], {"a": 1, "b": 1})
    assert learned["a"].kinds == ("learned",) and learned["a"].texts == ("right here",)
    assert learned["b"].kinds == ("not",) and learned["b"].texts == ("wrong here",)
    assert np.linalg.norm(learned["a"].vectors[0]) == pytest.approx(1.0)
    now[0] += 30 * DAY_S  # one half-life: a stale example matches half as well
    assert np.linalg.norm(memory.learned(["a"])["a"].vectors[0]) == pytest.approx(0.5)
    assert memory.learned(["c"]) == {}
    # Read back from the store by a second memory (another process), not only from the cache.
    again = OutcomeMemory(client, model_id="test", dimension=4, collection="learned-test")
    assert sorted(again.learned(["b"])["b"].kinds) == ["learned", "not"]


async def _scores_after_correction(minilm: MiniLMEmbedder, learned: float) -> dict[str, object]:
    router = CapabilityRouter.open(minilm, weights=ScoringWeights(learned=learned))
    try:
        router.add_cards(CARDS)
        before = await router.route(RouteRequest(text=NEW))
        taught = RouteRequest(text=TAUGHT)
        await router.record_outcome(taught, "triage", False, source="feedback")
        await router.record_outcome(taught, "translator", True, source="feedback")
        after = await router.route(RouteRequest(text=NEW))
        near = float(
            await router.query_vector(taught) @ await router.query_vector(RouteRequest(text=NEW))
        )
        return {
            "before": {c.agent_id: c.score for c in before.candidates},
            "after": {c.agent_id: c for c in after.candidates},
            "similarity": near,
        }
    finally:
        router.close()


async def test_a_correction_carries_to_a_different_request_of_the_same_kind(
    minilm: MiniLMEmbedder,
) -> None:
    got = await _scores_after_correction(minilm, learned=0.7)
    # Too far for the nearest-outcome evidence to count (its floor is 0.55) ...
    assert got["similarity"] < 0.55  # type: ignore[operator]
    before, after = got["before"], got["after"]
    translator, triage = after["translator"], after["triage"]  # type: ignore[index]
    assert translator.parts["success"] == 0 and triage.parts["success"] == 0
    # ... yet the right agent gains through its learned example, the wrong one loses
    # through its learned not-skill, and each says why.
    assert translator.evidence.startswith("learned: " + TAUGHT)
    assert "not: " + TAUGHT in triage.evidence
    assert translator.score > before["translator"]  # type: ignore[index]
    assert triage.score < before["triage"]  # type: ignore[index]
    assert translator.score - triage.score > 0.1


async def test_without_learned_documents_the_same_correction_changes_nothing(
    minilm: MiniLMEmbedder,
) -> None:
    got = await _scores_after_correction(minilm, learned=0.0)
    before, after = got["before"], got["after"]
    for agent in ("translator", "triage"):
        assert after[agent].score == pytest.approx(before[agent])  # type: ignore[index]


def test_neighbours_come_from_memory_and_follow_other_processes_within_a_second(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ticks = [100.0]
    monkeypatch.setattr("weft.runtime.routing.outcome_memory.time.monotonic", lambda: ticks[0])
    client = chroma_client(path=None, url=None)
    here = OutcomeMemory(client, model_id="test", dimension=4, collection="follow-test")
    there = OutcomeMemory(client, model_id="test", dimension=4, collection="follow-test")
    near = np.asarray([1, 0, 0, 0], dtype=np.float32)
    far = np.asarray([0, 1, 0, 0], dtype=np.float32)
    here.record(near, "a", True, "near")
    here.record(far, "b", True, "far")
    # only the similar past subtask counts, with its similarity
    estimates = here.estimates(np.asarray([0.9, 0.1, 0, 0], dtype=np.float32))
    assert set(estimates) == {"a"} and estimates["a"].nearest == pytest.approx(0.994, abs=1e-3)
    assert there.estimates(near) == {}  # another process: not yet asked again
    ticks[0] += 1.5
    assert set(there.estimates(near)) == {"a"}
