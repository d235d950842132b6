"""The action schema: the shortcuts build what validation builds, JSON schemas exist."""

from __future__ import annotations

import logging

import pytest
from pydantic import ValidationError

from weft.protocols import ActionFailed, ActionResult, ActionState, ErrorInfo, Usage, json_schema
from weft.protocols.actions import NO_USAGE, TRACEBACK_MAX_CHARS


def test_a_success_result_equals_a_validated_one_and_shares_the_zero_usage() -> None:
    fast = ActionResult.success("c1", {"ok": True})
    slow = ActionResult.model_validate({"call_id": "c1", "state": "ok", "output": {"ok": True}})
    assert fast == slow
    assert fast.model_dump_json() == slow.model_dump_json()
    assert fast.ok and fast.usage is NO_USAGE


def test_an_exception_becomes_an_error_typed_by_its_class_and_named_by_its_source() -> None:
    result = ActionResult.from_exception("c1", KeyError("city"), source="action 'weather'")
    assert result.state is ActionState.ERROR and not result.ok
    error = result.error
    assert error is not None
    assert (error.type, error.message, error.retryable) == (
        "KeyError",
        "action 'weather': 'city'",
        False,
    )


def _raise_in_a_helper(depth: int) -> None:
    if depth:
        _raise_in_a_helper(depth - 1)
    raise ValueError("no such city")


def test_an_exception_keeps_its_traceback_ending_where_it_was_raised() -> None:
    try:
        _raise_in_a_helper(2)
    except ValueError as exc:
        error = ErrorInfo.from_exception(exc, source="weather")
    stack = error.details["traceback"]
    assert stack.startswith("Traceback (most recent call last):")
    assert "in _raise_in_a_helper" in stack
    assert stack.rstrip().endswith("ValueError: no such city")


def _raise_chained(layers: int) -> None:
    """Raises an exception caused by ``layers`` others: a traceback of many blocks."""
    try:
        if layers:
            _raise_chained(layers - 1)
        raise KeyError("root")
    except Exception as exc:
        raise ValueError(f"layer {layers}") from exc


def test_a_long_traceback_keeps_its_end_within_the_limit() -> None:
    try:
        _raise_chained(60)
    except ValueError as exc:
        error = ErrorInfo.from_exception(exc)
    stack = error.details["traceback"]
    marker, _, rest = stack.partition("\n")
    assert marker.startswith("… [") and marker.endswith(" chars cut]")
    assert len(rest) <= TRACEBACK_MAX_CHARS
    assert rest.startswith("  File ")  # cut before a whole frame
    assert rest.rstrip().endswith("ValueError: layer 60")
    assert len(error.model_dump_json()) < TRACEBACK_MAX_CHARS + 500  # bounded on the bus


def test_a_deliberate_action_failure_carries_no_traceback() -> None:
    error = ErrorInfo.from_exception(ActionFailed("quota reached", error_type="Busy"))
    assert error.details == {}


def test_every_exception_is_logged_at_debug_level_with_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="weft.actions")
    try:
        _raise_in_a_helper(0)
    except ValueError as exc:
        ErrorInfo.from_exception(exc, source="weather")
    [record] = caplog.records
    assert record.levelno == logging.DEBUG
    assert record.getMessage() == "weather raised ValueError: no such city"
    assert record.exc_info is not None and record.exc_info[0] is ValueError


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
