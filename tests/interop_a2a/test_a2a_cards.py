"""weft actions and capability cards as A2A agent cards, validated by a2a-sdk's own types."""

from __future__ import annotations

from typing import Any

import pytest

from weft.protocols import ActionKind, ActionSpec, CapabilityCard
from weft.protocols.a2a import (
    a2a_agent_card,
    a2a_interface,
    a2a_skill,
    capability_from_a2a,
    capability_to_a2a,
    parts_to_value,
    specs_from_a2a,
    value_to_parts,
)
from weft.runtime.interop import A2aCardInvalid, validate_agent_card

HTTP = [a2a_interface("http://127.0.0.1:9999/")]

SUMMARISE = ActionSpec(
    name="summarise",
    kind=ActionKind.AGENT,
    description="Summarise a document.",
    input_schema={"type": "object", "properties": {"text": {"type": "string"}}},
    output_schema={"type": "object", "properties": {"summary": {"type": "string"}}},
    card=CapabilityCard(
        agent_id="summariser",
        version=3,
        description="Writes short summaries of long documents.",
        skills=["summarise reports", "condense meeting notes"],
        not_skills=["translate"],
        examples=["Summarise this 10-page report"],
        tags=["pii-ok"],
        cost_per_call=0.02,
        expected_latency_s=1.5,
        max_concurrency=4,
    ),
)
BARE = ActionSpec(name="word_count")


def test_a_skill_carries_id_name_description_tags_and_examples() -> None:
    skill = a2a_skill(SUMMARISE)
    assert skill == {
        "id": "summarise",
        "name": "summarise",
        "description": "Writes short summaries of long documents.",
        "tags": ["pii-ok", "summarise reports", "condense meeting notes"],
        "examples": ["Summarise this 10-page report"],
    }


def test_an_action_without_a_card_still_gives_a_valid_skill() -> None:
    skill = a2a_skill(BARE)
    assert skill["description"] == "word_count"
    assert skill["tags"] == ["tool"]  # A2A requires one tag at least
    validate_agent_card(a2a_agent_card("counter", [BARE], interfaces=HTTP))


def test_an_agent_card_validates_against_the_sdk_agent_card() -> None:
    card = a2a_agent_card("team", [SUMMARISE, BARE], interfaces=HTTP)
    written = validate_agent_card(card)
    assert [s["id"] for s in written["skills"]] == ["summarise", "word_count"]
    assert written["supportedInterfaces"][0]["protocolVersion"] == "1.0"


def test_specs_come_back_unchanged_from_a_card_weft_wrote() -> None:
    card = validate_agent_card(a2a_agent_card("team", [SUMMARISE, BARE], interfaces=HTTP))
    assert specs_from_a2a(card) == [SUMMARISE, BARE]


def test_a_capability_card_round_trips_through_an_a2a_card() -> None:
    assert SUMMARISE.card is not None
    a2a = validate_agent_card(capability_to_a2a(SUMMARISE.card, interfaces=HTTP))
    assert a2a["name"] == "summariser" and a2a["version"] == "3"
    assert capability_from_a2a(a2a) == SUMMARISE.card


FOREIGN: dict[str, Any] = {
    "name": "Currency Agent",
    "description": "Converts currencies.",
    "version": "2",
    "supportedInterfaces": [HTTP[0]],
    "capabilities": {"streaming": True},
    "defaultInputModes": ["text/plain"],
    "defaultOutputModes": ["text/plain"],
    "skills": [
        {
            "id": "convert",
            "name": "Convert currency",
            "description": "Converts an amount between two currencies.",
            "tags": ["currency", "exchange rates"],
            "examples": ["How much is 10 USD in EUR?"],
        },
        {
            "id": "rates",
            "name": "Rates",
            "description": "Lists today's rates.",
            "tags": ["rates"],
        },
    ],
}


def test_a_foreign_card_imports_as_one_capability_card_for_the_agent() -> None:
    card = capability_from_a2a(validate_agent_card(FOREIGN))
    assert card.agent_id == "Currency Agent" and card.version == 2
    assert card.description == "Converts currencies."
    assert card.skills == [
        "Converts an amount between two currencies.",
        "Lists today's rates.",
        "currency",
        "exchange rates",
        "rates",
    ]
    assert card.examples == ["How much is 10 USD in EUR?"]
    assert card.tags == []  # foreign tags are not weft's policy labels


def test_a_foreign_card_imports_as_one_spec_per_skill() -> None:
    specs = specs_from_a2a(FOREIGN)
    assert [s.name for s in specs] == ["convert", "rates"]
    assert specs[0].kind is ActionKind.AGENT
    assert specs[0].card is not None and specs[0].card.skills == ["currency", "exchange rates"]


def test_a_card_missing_required_fields_is_refused_with_their_names() -> None:
    broken = {**FOREIGN, "skills": [{"id": "x", "name": "x"}]}
    with pytest.raises(A2aCardInvalid, match=r"skills\[0\]\.description.*skills\[0\]\.tags"):
        validate_agent_card(broken)


def test_a_card_with_a_field_a2a_does_not_know_is_refused() -> None:
    with pytest.raises(A2aCardInvalid, match="no field named"):
        validate_agent_card({**FOREIGN, "endpoint": "http://x"})


@pytest.mark.parametrize(
    "value",
    [
        {"text": "hello"},
        {"text": "hello", "n": 2, "nested": {"xs": [1, 2.5]}},
        {"n": 2},
        "plain text",
        [1, 2, 3],
        7,
        None,
    ],
)
def test_a_value_survives_the_trip_through_a2a_parts(value: Any) -> None:
    back = parts_to_value(value_to_parts(value))
    assert back == ({"text": value} if isinstance(value, str) else value)


def test_parts_from_a_foreign_sender_join_text_and_merge_data() -> None:
    parts = [{"text": "a"}, {"data": {"x": 1.0}}, {"text": "b"}, {"url": "http://f"}]
    assert parts_to_value(parts) == {"x": 1, "text": "a\nb", "urls": ["http://f"]}
