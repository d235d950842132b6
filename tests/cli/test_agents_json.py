"""``weft agents --json`` writes its list a slice of cards at a time: the same bytes as at once.

The slices are indented by re-indenting each card's text, which is only
right if no newline inside a value survives unescaped: descriptions with
newlines, quotes and non-ASCII text check that, across slice boundaries.
"""

from __future__ import annotations

import json
import time

import orjson
import pytest

from weft.cli import agents as agents_cli
from weft.protocols import ActionSpec, AgentCard, Topics
from weft.runtime.remote.directory import AgentInfo, Trust


def infos(count: int) -> list[AgentInfo]:
    now = time.time()
    listed = []
    for i in range(count):
        card = AgentCard(
            agent_id=f"agent-{i:04d}",
            actions=[
                ActionSpec(name="write", description=f'line one\nline "two" of {i}, é ✓'),
                ActionSpec(name="read", description="\\n is not a newline"),
            ],
            topic=Topics("t").agent_call(f"agent-{i:04d}"),
        )
        verdict = Trust(None, "k", "local key") if i % 3 else Trust(frozenset({"read"}), None, "x")
        listed.append(AgentInfo(card, now - 5, now - 1.5, verdict))
    return listed


@pytest.mark.parametrize("count", [0, 1, 255, 256, 257, 600])
def test_the_list_written_in_slices_is_the_list_written_at_once(
    count: int, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    listed, now = infos(count), time.time()
    agents_cli._echo_cards_json(listed, now)
    written = capsysbinary.readouterr().out
    documents = [agents_cli._card_document(info, now) for info in listed]
    assert written == orjson.dumps(documents, option=orjson.OPT_INDENT_2) + b"\n"
    parsed = json.loads(written)
    assert len(parsed) == count
    if count:
        assert parsed[0]["trust"] == "partly trusted"
        assert parsed[0]["trusted_actions"] == ["read"]
        assert all(doc["trust"] == "trusted" for doc in parsed[1::3])
        assert parsed[-1]["actions"][0]["description"].startswith("line one\nline")
