"""``weft trace show`` under a routing decision names the candidates skipped when chosen."""

from __future__ import annotations

from types import SimpleNamespace

from weft.cli._trace_notes import span_notes


def test_a_skipped_favourite_is_named_under_the_decision_and_not_as_a_runner_up() -> None:
    span = SimpleNamespace(
        kind="route",
        status="ok",
        attributes={
            "weft.action": "shout",
            "weft.capability": "translate the text",
            "weft.skipped": {"translate": "not trusted (agent 'stranger': unsigned card)"},
            "candidates": [
                {"agent_id": "translate", "score": 0.9, "excluded": "refused when chosen"},
                {"agent_id": "shout", "score": 0.8, "excluded": None},
                {"agent_id": "count", "score": 0.5, "excluded": None},
            ],
        },
    )
    lines = [text.plain for text in span_notes(span, full=False, seen=set())]
    assert lines == [
        "→ shout  score 0.80 · next count 0.50  (for 'translate the text')",
        "  skipped translate: not trusted (agent 'stranger': unsigned card)",
    ]
