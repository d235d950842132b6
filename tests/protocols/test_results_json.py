"""Results are JSON: one rule converts an output or refuses it, in-process and on an agent alike.

The rule lives in ``weft.protocols.results``; the executor applies it to every
node's result and the agent host to every result it serves, so the same tool
gives the same value, or the same ``OutputNotJSON`` error, wherever it runs.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import math
import uuid
from collections.abc import AsyncIterator
from pathlib import PurePosixPath
from typing import Any

import pytest
from pydantic import BaseModel

import weft
from weft.protocols import (
    ActionContext,
    ActionResult,
    ActionState,
    OutputNotJSON,
    json_result,
    json_value,
)
from weft.protocols.results import MAX_OUTPUT_DEPTH
from weft.runtime.bus.inprocess import InProcessBroker, InProcessBus
from weft.runtime.remote.agent_host import AgentHost
from weft.runtime.remote.live_registry import LiveRegistry


class Opaque:
    """An object JSON has no form for; its ``str()`` used to pass for it."""

    def __str__(self) -> str:
        return "opaque"


class Colour(enum.Enum):
    RED = "red"


class Point(BaseModel):
    x: float
    at: datetime.date


@dataclasses.dataclass
class Pair:
    left: Any
    right: Any


def refusal(value: Any) -> OutputNotJSON:
    with pytest.raises(OutputNotJSON) as info:
        json_value(value)
    return info.value


def test_values_that_are_json_come_back_as_the_same_objects() -> None:
    data = {"a": [1, "two", None, True, {"b": 2.5}], "c": {}}
    assert json_value(data) is data
    assert json_value("text") == "text" and json_value(None) is None


def test_nan_and_the_infinities_become_null() -> None:
    assert json_value({"x": [math.nan, math.inf, -math.inf, 1.5]}) == {"x": [None, None, None, 1.5]}


def test_tuples_and_sets_become_lists_sets_sorted_when_they_can_be() -> None:
    assert json_value({"t": (1, (2, 3)), "s": {3, 1, 2}}) == {"t": [1, [2, 3]], "s": [1, 2, 3]}
    assert sorted(json_value({1, "a"}), key=str) == [1, "a"]


def test_models_dataclasses_dates_enums_uuids_and_paths_are_converted() -> None:
    value = {
        "model": Point(x=math.nan, at=datetime.date(2024, 1, 2)),
        "pair": Pair(left=(1,), right=Colour.RED),
        "when": datetime.datetime(2024, 1, 2, 3, 4, 5),
        "id": uuid.UUID(int=1),
        "path": PurePosixPath("/tmp/x"),
    }
    assert json_value(value) == {
        "model": {"x": None, "at": "2024-01-02"},
        "pair": {"left": [1], "right": "red"},
        "when": "2024-01-02T03:04:05",
        "id": "00000000-0000-0000-0000-000000000001",
        "path": "/tmp/x",
    }


def test_integer_and_enum_keys_become_text_as_in_json() -> None:
    assert json_value({1: "a", Colour.RED: "b"}) == {"1": "a", "red": "b"}


def test_an_object_json_cannot_hold_is_refused_naming_its_path_and_type() -> None:
    error = refusal({"items": [1, 2, 3, Opaque()]})
    assert error.path == "result.items[3]"
    assert str(error).startswith(
        f"result.items[3] is a {__name__}.Opaque, which JSON cannot hold: return dict, list"
    )


def test_bytes_are_refused_with_what_to_do_instead() -> None:
    error = refusal({"data": b"\x00\x01"})
    assert str(error) == (
        "result.data is bytes, which JSON cannot hold: decode it to text, or base64-encode it"
    )


def test_keys_that_collide_in_json_or_are_not_text_are_refused() -> None:
    assert "two keys that are both '1'" in str(refusal({"n": {1: "a", "1": "b"}}))
    assert refusal({"n": {(1, 2): "a"}}).path == "result.n"


def test_text_with_a_lone_surrogate_is_refused_since_utf_8_cannot_carry_it() -> None:
    assert json_value({"t": "naïve"}) == {"t": "naïve"}
    error = refusal({"t": "a\ud800b"})
    assert str(error).startswith("result.t is text with a lone surrogate ('\\ud800' at index 1)")


def test_nesting_deeper_than_the_limit_is_refused() -> None:
    value: Any = []  # one level
    for _ in range(MAX_OUTPUT_DEPTH):
        value = [value]
    assert "nests deeper than 48 levels" in str(refusal(value))
    assert json_value(value[0]) is value[0]


def test_json_result_converts_an_ok_output_in_place() -> None:
    result = ActionResult.success("c1", {"x": math.nan, "t": (1,)})
    assert json_result(result, "tool") is result
    assert result.output == {"x": None, "t": [1]}


def test_json_result_turns_a_refused_output_into_an_output_not_json_error() -> None:
    result = json_result(ActionResult.success("c1", {"items": [Opaque()]}), "make")
    assert result.state is ActionState.ERROR and result.output is None
    assert result.error is not None
    assert (result.error.type, result.error.field, result.error.retryable) == (
        "OutputNotJSON",
        "result.items[0]",
        False,
    )
    assert result.error.message.startswith(f"make: result.items[0] is a {__name__}.Opaque")


def test_json_result_leaves_failed_results_alone() -> None:
    failed = ActionResult.failure("c1", "Boom", "no")
    assert json_result(failed, "make") is failed


# -- the same rule in-process and on an agent ------------------------------------------


@weft.tool
def make(kind: str):  # type: ignore[no-untyped-def]
    """Returns what JSON cannot hold, or a NaN: the output type is deliberately undeclared."""
    return {"opaque": {"items": [1, Opaque()]}, "nan": {"x": math.nan}, "set": {2, 1}}[kind]


@weft.tool
def make_declared(kind: str) -> object:
    """The same, with a declared return type (pydantic dumps the output first)."""
    return make(kind)


def workflow(action: str) -> weft.Workflow:
    wf = weft.Workflow("results")
    wf.input("kind", type="string")
    wf.node("m", action, with_={"kind": "${inputs.kind}"})
    return wf


@pytest.fixture
async def agent_actions() -> AsyncIterator[Any]:
    """``make`` and ``make_declared`` served by an agent on an in-process bus."""
    broker = InProcessBroker()
    async with (
        InProcessBus(broker) as agent_side,
        InProcessBus(broker) as caller_side,
        AgentHost(agent_side, [make, make_declared]),
        LiveRegistry(caller_side) as registry,
    ):
        await registry.wait_for(["make", "make_declared"], 10)
        yield registry.actions()


async def outcome(action: str, kind: str, actions: Any) -> tuple[Any, Any]:
    result = await weft.run_workflow(workflow(action), {"kind": kind}, actions=actions)
    node = result.nodes["m"]
    return result.outputs, (
        node.error.type,
        node.error.message,
        node.error.field,
    ) if node.error else None


@pytest.mark.parametrize("action", ["make", "make_declared"])
async def test_an_output_json_cannot_hold_is_the_same_error_locally_and_on_an_agent(
    action: str, agent_actions: Any
) -> None:
    local = await outcome(action, "opaque", [make, make_declared])
    remote = await outcome(action, "opaque", agent_actions)
    assert local == remote
    _, (kind, message, field) = local
    assert (kind, field) == ("OutputNotJSON", "result.items[1]")
    assert message.startswith(f"{action}: result.items[1] is a {__name__}.Opaque")


@weft.tool
async def ask_child(kind: str, ctx: ActionContext) -> Any:
    """Reports what a child call of ``make`` gave it: the child's result follows the rule too."""
    result = await ctx.invoke("make", {"kind": kind})
    return {"output": result.output, "error": result.error.type if result.error else None}


async def test_a_child_call_gets_its_result_by_the_same_rule() -> None:
    wf = weft.Workflow("children")
    wf.node("ask", "ask_child", with_={"kind": "set"})
    wf.node("fail", "ask_child", with_={"kind": "opaque"})
    result = await weft.run_workflow(wf, actions=[ask_child, make])
    assert result.outputs == {
        "ask": {"output": [1, 2], "error": None},
        "fail": {"output": None, "error": "OutputNotJSON"},
    }


@pytest.mark.parametrize("kind", ["nan", "set"])
async def test_a_converted_output_is_the_same_value_locally_and_on_an_agent(
    kind: str, agent_actions: Any
) -> None:
    local = await outcome("make", kind, [make])
    remote = await outcome("make", kind, agent_actions)
    assert local == remote == ({"m": {"x": None} if kind == "nan" else [1, 2]}, None)
