"""Wire payloads ignore fields they do not know, so a newer peer can add some.

What a user writes (workflow YAML, a cards file) stays strict: a typo there
is an error, not a silently dropped setting.
"""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from weft.protocols import (
    ActionCall,
    ActionResult,
    AgentCard,
    CallAccepted,
    CallCancel,
    CapabilityCard,
    DeadLetter,
    RunEvent,
    WorkflowSpec,
)

NEWER = {"added_in_a_later_version": {"any": ["thing"]}}
DEAD_LETTER = {
    "reason": "undecodable",
    "detail": "x",
    "topic": "t",
    "received_by": "a",
    "payload_size": 1,
}


def test_a_result_with_unknown_fields_at_every_level_is_read() -> None:
    payload = {
        "call_id": "c1",
        "state": "error",
        "error": {"type": "Timeout", "message": "slow", "hint": "try later", **NEWER},
        "usage": {"llm_calls": 1, "reasoning_tokens": 7, **NEWER},
        "progress": [{"call_id": "c1", "message": "half", "eta_s": 3}],
        **NEWER,
    }
    result = ActionResult.model_validate(payload)
    assert result.error is not None and result.error.type == "Timeout"
    assert result.usage.llm_calls == 1 and result.progress[0].message == "half"
    assert "added_in_a_later_version" not in result.model_dump()


def test_a_card_with_unknown_fields_at_every_level_is_read() -> None:
    payload = {
        "agent_id": "a1",
        "topic": "weft/t/agents/a1/call",
        "load": {"capacity": 2, "gpu_memory": 0.5},
        "actions": [
            {
                "name": "shout",
                "streaming": True,
                "card": {"agent_id": "shout", "skills": ["upper-case"], "region": "eu"},
            }
        ],
        "signature": "…",
        **NEWER,
    }
    card = AgentCard.model_validate(payload)
    spec = card.spec("shout")
    assert spec is not None and spec.card is not None and spec.card.skills == ["upper-case"]
    assert card.load.capacity == 2


@pytest.mark.parametrize(
    ("model", "payload"),
    [
        (ActionCall, {"action": "shout", "priority": 3}),
        (CallAccepted, {"call_id": "c1", "attempt": 1, "agent_id": "a1", "queue": 4}),
        (CallCancel, {"call_id": "c1", "force": True}),
        (CapabilityCard, {"agent_id": "shout", "region": "eu"}),
        (RunEvent, {"run_id": "r1", "kind": "progress", "host": "h"}),
        (DeadLetter, {**DEAD_LETTER, "severity": "low"}),
    ],
)
def test_every_bus_payload_ignores_unknown_fields(
    model: type[BaseModel], payload: dict[str, object]
) -> None:
    assert model.model_validate(payload) is not None


@pytest.mark.parametrize("model", [ActionCall, ActionResult, AgentCard, CapabilityCard])
def test_the_published_schemas_do_not_forbid_more_fields(model: type[BaseModel]) -> None:
    assert model.model_json_schema().get("additionalProperties") is not False


def test_a_workflow_a_user_writes_still_rejects_unknown_fields() -> None:
    with pytest.raises(ValidationError, match=r"timout\s+Extra inputs are not permitted"):
        WorkflowSpec.model_validate({"name": "w", "nodes": {"a": {"action": "shout", "timout": 3}}})
