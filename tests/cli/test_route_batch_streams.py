"""``weft route --batch`` prints each chunk's decisions as soon as they are made.

A batch routed with a larger scorer takes minutes (seconds per subtask): its
lines must come out as it goes, in order, not all at the end. The router here
is a stand-in that records how many lines had been printed when each chunk was
asked for; the contract's lines themselves are checked in
tests/routing/test_route_batch.py with the real router.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

from weft.cli import _route_batch
from weft.protocols import Candidate, CapabilityCard, RouteRequest, RoutingDecision


class RecordingRouter:
    def __init__(self, printed: list[dict[str, Any]]) -> None:
        self.printed = printed
        self.seen_at_call: list[int] = []

    async def route_many(self, requests: Iterable[RouteRequest]) -> list[RoutingDecision]:
        self.seen_at_call.append(len(self.printed))
        card = CapabilityCard(agent_id="echo", description="Repeats text.")
        return [
            RoutingDecision(
                request=r,
                chosen=card,
                candidates=[Candidate(agent_id="echo", version=1, score=0.9)],
            )
            for r in requests
        ]


async def test_lines_come_out_chunk_by_chunk_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_route_batch, "BATCH_CHUNK", 2)
    printed: list[dict[str, Any]] = []
    router = RecordingRouter(printed)
    texts = [f"subtask {i}" for i in range(5)]
    lines = await _route_batch.route_batch(router, texts, [], 5, emit=printed.append)
    assert router.seen_at_call == [0, 2, 4]  # each chunk asked for after the last one printed
    assert [line["text"] for line in printed] == texts
    assert lines == printed
    assert printed[0] == {
        "text": "subtask 0",
        "chosen": "echo",
        "candidates": [{"agent_id": "echo", "score": 0.9}],
    }
