"""Functions as users write them become tools: the schema a model sees, the arguments a call gets.

Each common signature either works (its JSON Schema says what the function
takes, JSON arguments are converted to the declared types, the result is JSON)
or is refused when the tool is made, with a ``TypeError`` naming the function
and the parameter.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import functools
import sys
import threading
import uuid
from pathlib import Path
from typing import Annotated, Any, Literal, Optional

import pytest
from pydantic import BaseModel, Field
from typing_extensions import TypedDict

from weft import ActionCall, DefinitionError, Workflow, load_workflow, tool
from weft.agents.openai_tools import ToolSet
from weft.protocols import ActionContext, ActionResult
from weft.runtime import run_workflow
from weft.runtime.engine.execution_context import UNUSED_CONTEXT


async def call(action: Any, **arguments: Any) -> ActionResult:
    result: ActionResult = await action.invoke(
        ActionCall(action=action.name, arguments=arguments), UNUSED_CONTEXT
    )
    return result


def parameters(action: Any) -> dict[str, Any]:
    """The parameters the model is offered for ``action`` (its OpenAI function tool)."""
    [offered] = ToolSet([action.spec]).tools
    return offered["function"]["parameters"]  # type: ignore[no-any-return]


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Point(BaseModel):
    x: int
    y: int = 0


@dataclasses.dataclass
class Box:
    width: int
    label: str = "box"


class Entry(TypedDict):
    key: str
    count: int


# -- parameters and what a call gets ------------------------------------------------


async def test_defaults_keyword_only_and_optional_parameters_are_filled_in() -> None:
    @tool
    def f(
        a: int,
        b: str = "x",
        *,
        c: float = 1.5,
        d: Optional[int] = None,  # noqa: UP045 (as users write it)
        e: int | None = None,
    ) -> list[Any]:
        return [a, b, c, d, e]

    schema = parameters(f)
    assert schema["required"] == ["a"]
    assert schema["properties"]["c"]["default"] == 1.5
    assert schema["additionalProperties"] is False
    assert (await call(f, a="3")).output == [3, "x", 1.5, None, None]  # "3" from a model is 3
    assert (await call(f, a=1, c="2", e="4")).output == [1, "x", 2.0, None, 4]


async def test_literal_and_enum_arguments_are_checked_and_converted() -> None:
    @tool
    def paint(mode: Literal["fast", "slow"], color: Color) -> str:
        assert isinstance(color, Color)
        return f"{mode} {color.name}"

    schema = parameters(paint)
    assert schema["properties"]["mode"]["enum"] == ["fast", "slow"]
    assert schema["properties"]["color"]["enum"] == ["red", "blue"]  # inlined for the model
    assert (await call(paint, mode="fast", color="red")).output == "fast RED"
    bad = await call(paint, mode="quick", color="green")
    assert bad.error is not None
    assert "argument 'mode'" in bad.error.message and "argument 'color'" in bad.error.message


async def test_collections_datetimes_uuids_and_paths_come_converted_from_json() -> None:
    seen: dict[str, Any] = {}

    @tool
    def f(
        xs: list[int], d: dict[str, float], t: tuple[int, str], when: datetime.datetime,
        day: datetime.date, u: uuid.UUID, p: Path,
    ) -> datetime.date:  # fmt: skip
        seen.update(xs=xs, d=d, t=t, when=when, day=day, u=u, p=p)
        return day

    schema = parameters(f)["properties"]
    assert schema["t"]["prefixItems"] == [{"type": "integer"}, {"type": "string"}]
    assert schema["when"]["format"] == "date-time" and schema["u"]["format"] == "uuid"
    result = await call(
        f, xs=["1", 2], d={"a": "1.5"}, t=[1, "a"], when="2024-01-02T03:04:05Z",
        day="2024-01-02", u=str(uuid.UUID(int=1)), p="/tmp/x",
    )  # fmt: skip
    assert result.output == "2024-01-02"
    assert seen["xs"] == [1, 2] and seen["d"] == {"a": 1.5} and seen["t"] == (1, "a")
    assert seen["when"].tzinfo is not None and seen["u"] == uuid.UUID(int=1)
    assert seen["p"] == Path("/tmp/x")


async def test_models_dataclasses_and_typed_dicts_are_parameters_and_results() -> None:
    @tool
    def move(p: Point, box: Box, entry: Entry) -> Point:
        return Point(x=p.x + box.width + entry["count"])

    @tool
    def pack() -> Box:
        return Box(width=2)

    @tool
    def count() -> Entry:
        return {"key": "k", "count": 1}

    offered = parameters(move)["properties"]  # each definition inlined for the model
    assert "$defs" not in parameters(move)
    assert [set(offered[n]["properties"]) for n in ("p", "box", "entry")] == [
        {"x", "y"}, {"width", "label"}, {"key", "count"}
    ]  # fmt: skip
    moved = await call(move, p={"x": 1}, box={"width": 2}, entry={"key": "k", "count": "3"})
    assert moved.output == {"x": 6, "y": 0}
    assert move.spec.output_schema["title"] == "Point"
    assert (await call(pack)).output == {"width": 2, "label": "box"}
    assert (await call(count)).output == {"key": "k", "count": 1}


def test_a_typed_dict_from_typing_works_or_is_refused_naming_the_parameter() -> None:
    import typing

    class Old(typing.TypedDict):
        key: str

    def f(entry: Old) -> str:
        return entry["key"]

    if sys.version_info >= (3, 12):  # pydantic reads typing's TypedDict from 3.12 on
        assert tool(f).spec.input_schema["required"] == ["entry"]
        return
    with pytest.raises(TypeError, match=r"@tool f: parameter 'entry' has type .*typing_extensions"):
        tool(f)


async def test_annotated_field_constraints_reach_the_schema_and_are_checked() -> None:
    @tool
    def f(n: Annotated[int, Field(ge=0, description="How many.")]) -> int:
        return n

    assert parameters(f)["properties"]["n"] == {
        "description": "How many.", "minimum": 0, "type": "integer",  # no title "N": noise
    }  # fmt: skip
    negative = await call(f, n=-1)
    assert negative.error is not None
    assert "argument 'n': Input should be greater than or equal to 0" in negative.error.message


async def test_a_function_without_annotations_takes_any_json_value() -> None:
    @tool
    def pair(a, b=2):  # type: ignore[no-untyped-def]
        return [a, b]

    assert parameters(pair)["properties"] == {"a": {}, "b": {"default": 2}}
    assert (await call(pair, a={"any": "thing"})).output == [{"any": "thing"}, 2]


# -- docstrings ------------------------------------------------------------------------


def google(city: str, days: int = 1) -> str:
    """Forecast the weather.

    Args:
        city: The city to forecast,
            by its English name.
        days (int): How many days ahead.

    Returns:
        The forecast.
    """
    return city


def numpy(city: str, days: int = 1) -> str:
    """Forecast the weather.

    Parameters
    ----------
    city : str
        The city to forecast,
        by its English name.
    days : int, optional
        How many days ahead.
    """
    return city


def sphinx(city: str, days: int = 1) -> str:
    """Forecast the weather.

    :param city: The city to forecast,
        by its English name.
    :param int days: How many days ahead.
    :returns: The forecast.
    """
    return city


@pytest.mark.parametrize("fn", [google, numpy, sphinx], ids=["google", "numpy", "sphinx"])
def test_parameter_descriptions_in_the_docstring_reach_the_schema(fn: Any) -> None:
    made = tool(fn)
    assert made.spec.description == "Forecast the weather."
    properties = parameters(made)["properties"]
    assert properties["city"]["description"] == "The city to forecast, by its English name."
    assert properties["days"]["description"] == "How many days ahead."


def test_a_description_given_in_the_type_wins_over_the_docstring() -> None:
    def f(n: Annotated[int, Field(description="From the type.")]) -> int:
        """Do it.

        Args:
            n: From the docstring.
        """
        return n

    assert parameters(tool(f))["properties"]["n"]["description"] == "From the type."


# -- hints under ``from __future__ import annotations`` (this module's) -------------------


def test_a_type_defined_in_the_enclosing_function_resolves() -> None:
    class Local(BaseModel):
        a: int

    @tool
    def f(x: Local) -> Local:
        return x

    assert f.spec.input_schema["properties"]["x"] == {"$ref": "#/$defs/Local"}
    assert parameters(f)["properties"]["x"]["properties"] == {"a": {"type": "integer"}}


MODEL_DEFINED_AFTER_ITS_TOOL = """
from __future__ import annotations
from pydantic import BaseModel
from weft import tool

@tool
def f(x: DefinedLater) -> int:
    return 1

class DefinedLater(BaseModel):
    a: int
"""


def test_a_type_defined_after_the_tool_is_refused_saying_so() -> None:
    code = compile(MODEL_DEFINED_AFTER_ITS_TOOL, "later_tools.py", "exec")
    with pytest.raises(TypeError, match=r"^@tool f: .*'DefinedLater'.*define that type before"):
        exec(code, {"__name__": "later_tools"})


# -- every kind of callable ---------------------------------------------------------------


class Service:
    """A service with a state."""

    factor = 3

    def scale(self, x: int) -> int:
        """Scale by the factor."""
        return x * self.factor

    async def ascale(self, x: int) -> int:
        return x * self.factor

    @staticmethod
    def plus_one(x: int) -> int:
        return x + 1

    @classmethod
    def by_class(cls, x: int) -> int:
        return x * cls.factor


class Shouter:
    """Keeps nothing."""

    def __call__(self, text: str) -> str:
        """Say it louder."""
        return text.upper()


class AsyncShouter:
    async def __call__(self, text: str) -> int:
        return threading.get_ident()


async def test_bound_static_and_class_methods_are_tools_without_self() -> None:
    service = Service()
    for method, name in [
        (service.scale, "scale"), (service.ascale, "ascale"),
        (Service.plus_one, "plus_one"), (Service.by_class, "by_class"),
    ]:  # fmt: skip
        made = tool(method)
        assert made.name == name and list(parameters(made)["properties"]) == ["x"]
        assert (await call(made, x="2")).ok
    assert tool(service.scale).spec.description == "Scale by the factor."


async def test_an_object_with_a_call_method_is_a_tool_named_by_its_class() -> None:
    made = tool(Shouter())
    assert made.name == "Shouter"
    assert made.spec.description == "Say it louder."  # its __call__'s docstring
    assert list(parameters(made)["properties"]) == ["text"]
    assert (await call(made, text="hi")).output == "HI"
    on_loop = tool(AsyncShouter())  # an async __call__ runs on the event loop, not a thread
    assert (await call(on_loop, text="hi")).output == threading.get_ident()


async def test_a_partial_offers_the_parameters_it_left_open() -> None:
    def add(a: int, b: int, ctx: ActionContext) -> int:
        """Add two numbers."""
        return a + b

    made = tool(functools.partial(add, 1))
    assert made.name == "add" and made.spec.description == "Add two numbers."
    assert parameters(made)["required"] == ["b"]
    assert (await call(made, b="2")).output == 3
    by_keyword = tool(functools.partial(add, b=10))
    assert parameters(by_keyword)["required"] == ["a"]
    assert (await call(by_keyword, a=1)).output == 11


async def test_decorated_functions_keep_their_name_schema_and_kind() -> None:
    def logged(fn: Any) -> Any:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return fn(*args, **kwargs)

        return wrapper

    @logged
    def double(n: int) -> int:
        """Double it."""
        return n * 2

    @logged
    async def later(n: int) -> int:  # the sync wrapper returns the coroutine: it is awaited
        return n + 1

    made = tool(double)
    assert (made.name, made.spec.description, parameters(made)["required"]) == (
        "double", "Double it.", ["n"],
    )  # fmt: skip
    assert (await call(made, n="4")).output == 8
    assert (await call(tool(later), n=1)).output == 2


async def test_positional_only_parameters_are_passed_by_position() -> None:
    def f(a: int, /, b: int = 1) -> list[int]:
        return [a, b]

    assert (await call(tool(f), a=5)).output == [5, 1]
    assert (await call(tool(len), obj=[1, 2, 3])).output == 3


@pytest.mark.parametrize(
    ("fn", "message"),
    [
        (Service, r"^@tool Service: is a class, not a function"),
        (Service.scale, r"^@tool Service\.scale: is a method taken from its class, so 'self'"),
        (lambda *items: None, r"^@tool <lambda>: parameter '\*items' cannot be described"),
        (lambda **options: None, r"^@tool <lambda>: parameter '\*\*options' cannot be described"),
    ],
    ids=["class", "unbound-method", "args", "kwargs"],
)
def test_what_cannot_be_a_tool_is_refused_naming_it(fn: Any, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        tool(fn)


def test_generator_functions_are_refused_with_what_to_do_instead() -> None:
    def numbers(n: int):  # type: ignore[no-untyped-def]
        yield from range(n)

    async def stream(n: int):  # type: ignore[no-untyped-def]
        yield n

    for fn in (numbers, stream, functools.partial(numbers, 2)):
        with pytest.raises(TypeError, match=r"is a generator function; .*return a list"):
            tool(fn)


async def test_partials_objects_and_bare_ctx_functions_run_as_workflow_nodes() -> None:
    def add(a: int, b: int, ctx: ActionContext) -> int:
        return a + b

    def refund(order: str, ctx):  # type: ignore[no-untyped-def]
        return f"refunded {order}"

    wf = Workflow("callables")
    wf.node("partial", functools.partial(add, 1), with_={"b": 2})
    wf.node("object", Shouter(), with_={"text": "hi"})
    wf.node("bare_ctx", refund, with_={"order": "A1"})
    result = await run_workflow(wf)
    assert result.ok, result.nodes
    assert result.outputs == {"partial": 3, "object": "HI", "bare_ctx": "refunded A1"}


async def test_a_tool_made_again_from_a_tool_takes_the_new_options() -> None:
    @tool
    def double(n: int) -> int:
        return n * 2

    renamed = tool(name="twice")(double)
    assert renamed.name == "twice" and renamed.fn is double.fn
    assert (await call(renamed, n=2)).output == 4


YAML_CALLABLES = """
import functools


class Shout:
    def __call__(self, text: str) -> str:
        return text.upper()


def add(a: int, b: int) -> int:
    return a + b


def numbers(n: int):
    yield from range(n)


shout = Shout()
plus_one = functools.partial(add, 1)
"""


def yaml_with(action: str, arguments: str) -> str:
    return (
        f"name: refs\nactions:\n  act:\n    python: sig_yaml_tools:{action}\n"
        f"nodes:\n  n:\n    action: act\n    with: {arguments}\n"
    )


async def test_yaml_python_refs_take_objects_and_partials_and_refuse_generators(
    tmp_path: Path,
) -> None:
    (tmp_path / "sig_yaml_tools.py").write_text(YAML_CALLABLES)
    for action, arguments, output in [("shout", "{text: hi}", "HI"), ("plus_one", "{b: 2}", 3)]:
        path = tmp_path / f"{action}.yaml"
        path.write_text(yaml_with(action, arguments))
        result = await run_workflow(load_workflow(path))
        assert result.outputs == {"n": output}, result.nodes
    path = tmp_path / "numbers.yaml"
    path.write_text(yaml_with("numbers", "{n: 2}"))
    with pytest.raises(DefinitionError) as caught:
        await run_workflow(load_workflow(path))
    message = str(caught.value)
    assert "numbers.yaml:3:3" in message and "action 'act'" in message
    assert "numbers cannot be a weft action: is a generator function" in message


def test_the_workflow_builder_names_and_describes_callables_as_tool_does() -> None:
    from weft.workflows._callables import preview_spec  # the same rule, kept in its layer

    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    for fn in (add, functools.partial(add, 1), Shouter(), Service().scale, Service.plus_one):
        made, preview = tool(fn).spec, preview_spec(fn)
        assert (preview.name, preview.description) == (made.name, made.description)
        assert preview.input_schema.get("required") == made.input_schema.get("required")
