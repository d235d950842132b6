"""The action schema: the shortcuts build what validation builds, JSON schemas exist."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from weft.protocols import ActionFailed, ActionResult, ActionState, ErrorInfo, Usage, json_schema
from weft.protocols.actions import NO_USAGE


def test_a_success_result_equals_a_validated_one_and_shares_the_zero_usage() -> None:
    fast = ActionResult.success("c1", {"ok": True})
    slow = ActionResult.model_validate({"call_id": "c1", "state": "ok", "output": {"ok": True}})
    assert fast == slow
    assert fast.model_dump_json() == slow.model_dump_json()
    assert fast.ok and fast.usage is NO_USAGE


def test_an_exception_becomes_an_error_typed_by_its_class_and_named_by_its_source() -> None:
    result = ActionResult.from_exception("c1", KeyError("city"), source="action 'weather'")
    assert result.state is ActionState.ERROR and not result.ok
    assert result.error == ErrorInfo(
        type="KeyError", message="action 'weather': 'city'", retryable=False
    )


@pytest.mark.parametrize("exc", [TimeoutError(), ConnectionResetError("peer left")])
def test_timeouts_and_connection_errors_are_retryable(exc: Exception) -> None:
    error = ErrorInfo.from_exception(exc)
    assert error.retryable and error.type == type(exc).__name__
    assert error.message == (str(exc) or type(exc).__name__)


def test_action_failed_keeps_the_type_and_retry_advice_its_raiser_chose() -> None:
    exc = ActionFailed("quota reached", retryable=True, error_type="Busy")
    error = ErrorInfo.from_exception(exc, source="fetch")
    assert (error.type, error.message, error.retryable) == ("Busy", "fetch: quota reached", True)


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
