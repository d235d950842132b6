"""The action schema: trusted construction matches validation, JSON schemas exist."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from weft.protocols import ActionCall, ActionResult, ActionState, Usage, json_schema
from weft.protocols.actions import NO_USAGE, trusted


def test_a_trusted_call_equals_a_validated_one() -> None:
    values = {
        "call_id": "0123456789abcdef",
        "action": "echo",
        "arguments": {"x": 1},
        "run_id": "run",
        "trace_id": "t" * 32,
        "parent_id": None,
        "node": "n",
        "attempt": 2,
        "deadline": None,
    }
    fast = trusted(ActionCall, dict(values))
    assert fast == ActionCall(**values)
    assert fast.model_dump() == ActionCall(**values).model_dump()
    assert ActionCall.model_validate_json(fast.model_dump_json()) == fast
    assert fast.model_copy(update={"attempt": 3}).attempt == 3


def test_a_trusted_success_result_equals_a_validated_one() -> None:
    fast = ActionResult.success("c1", {"ok": True})
    slow = ActionResult(call_id="c1", state=ActionState.OK, output={"ok": True})
    assert fast == slow
    assert fast.ok and fast.usage is NO_USAGE


def test_usage_is_immutable_so_the_zero_usage_can_be_shared() -> None:
    with pytest.raises(ValidationError):
        NO_USAGE.llm_calls = 1  # type: ignore[misc]
    total = Usage(llm_calls=1, cost=0.5).add(Usage(llm_calls=2, prompt_tokens=3))
    assert (total.llm_calls, total.prompt_tokens, total.cost) == (3, 3, 0.5)


@pytest.mark.parametrize(
    "name", ["ActionSpec", "ActionCall", "ActionResult", "CapabilityCard", "RunEvent", "Workflow"]
)
def test_every_public_model_exports_a_json_schema(name: str) -> None:
    schema = json_schema(name)
    assert schema["type"] == "object" and schema["properties"]
