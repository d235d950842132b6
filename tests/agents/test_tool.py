"""``@tool``: schemas from type hints, validation before the call, errors as results."""

from __future__ import annotations

from typing import Any

from weft import ActionCall, ActionFailed, ActionState, tool
from weft.runtime.engine.execution_context import UNUSED_CONTEXT


@tool
def typed(count: int, label: str = "x") -> str:
    """Repeat a label."""
    return label * count


@tool
def untyped(value: Any, scale: Any = 2) -> Any:
    return value * scale


async def call(action: Any, **arguments: Any) -> Any:
    return await action.invoke(ActionCall(action=action.name, arguments=arguments), UNUSED_CONTEXT)


def test_the_input_schema_comes_from_the_type_hints() -> None:
    schema = typed.spec.input_schema
    assert schema["properties"]["count"]["type"] == "integer"
    assert schema["required"] == ["count"] and typed.spec.description == "Repeat a label."


async def test_a_bad_argument_is_an_error_result_naming_the_field() -> None:
    result = await call(typed, count="many")
    assert result.state is ActionState.ERROR
    assert result.error.type == "ValidationError" and result.error.field == "count"


async def test_untyped_parameters_still_need_their_names_right() -> None:
    assert (await call(untyped, value=3)).output == 6
    missing = await call(untyped, scale=3)
    assert missing.error.type == "ValidationError" and missing.error.field == "value"
    extra = await call(untyped, value=1, nope=2)
    assert extra.error.type == "ValidationError" and extra.error.field == "nope"


async def test_an_exception_becomes_an_error_result_and_action_failed_sets_retry() -> None:
    @tool
    def flaky() -> None:
        raise ActionFailed("later", retryable=True, error_type="Busy")

    result = await call(flaky)
    assert (result.state, result.error.type, result.error.retryable) == (
        ActionState.ERROR,
        "Busy",
        True,
    )


async def test_a_bare_ctx_parameter_is_the_context_not_an_argument() -> None:
    """``def refund(order: str, ctx)``: the model was offered a ``ctx`` field and every
    call failed with "argument 'ctx' is required" (seen with a real model)."""
    from weft import Workflow
    from weft.runtime import run_workflow

    def refund(order: str, ctx) -> str:  # type: ignore[no-untyped-def]
        """Refund an order."""
        return f"refunded {order} as {ctx.idempotency_key}"

    action = tool(refund)
    assert list(action.spec.input_schema["properties"]) == ["order"]
    assert action.spec.input_schema["required"] == ["order"]
    wf = Workflow("w")
    wf.node("pay", action, with_={"order": "A17"})
    result = await run_workflow(wf, record=False)
    assert result.outputs == {"pay": f"refunded A17 as {result.run_id}:pay"}


def test_a_ctx_with_a_default_or_a_type_stays_an_argument() -> None:
    @tool
    def with_default(text: str, ctx=None) -> str:  # type: ignore[no-untyped-def]
        return text

    @tool
    def typed_ctx(text: str, ctx: str) -> str:
        return text + ctx

    assert "ctx" in with_default.spec.input_schema["properties"]
    assert typed_ctx.spec.input_schema["required"] == ["text", "ctx"]
