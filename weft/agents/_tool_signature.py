"""How ``@tool`` reads a Python callable: its name, docstring, type hints and schema.

Users hand weft every kind of callable: functions, bound methods, static and
class methods, objects with ``__call__``, ``functools.partial``, lambdas,
functions behind ``functools.wraps`` decorators. Each is read where its
information lives (a partial's hints are its function's, an object's its
``__call__``'s). What cannot be a tool is refused when the tool is made, with
a ``TypeError`` naming the function and the parameter and saying what to do:
a class, a generator, a method taken from its class (``Svc.m``, whose ``self``
would be offered to the model as an argument), a type with no JSON Schema.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable, Mapping
from typing import Any, get_type_hints

from pydantic import BaseModel, ConfigDict, PydanticUserError, TypeAdapter, create_model

__all__ = [
    "arguments_model",
    "callable_doc",
    "callable_name",
    "is_async_callable",
    "output_adapter",
    "refuse_unsupported",
    "resolved_hints",
    "with_parameter_docs",
]

JSON_TYPES_HINT = (
    "use str, int, float, bool, list, dict, a pydantic model, a dataclass or a TypedDict"
)


def _target(fn: Any) -> Any:
    """The function whose code a call runs: through partials, to an object's ``__call__``."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    if not (inspect.isroutine(fn) or isinstance(fn, type)) and callable(fn):
        return type(fn).__call__
    return fn


def callable_name(fn: Any) -> str:
    """The action name of a callable: its ``__name__``, a partial's function's, an object's
    class's.

    ``weft.workflows._callables`` names callables by the same rule (it may not
    import this layer): a workflow's node and the tool it becomes agree.
    """
    while isinstance(fn, functools.partial):
        fn = fn.func
    name = getattr(fn, "__name__", None)
    return name if isinstance(name, str) else type(fn).__name__


def callable_doc(fn: Any) -> str | None:
    """The docstring that describes a call: a partial's function's, an object's ``__call__``'s
    (else its class's)."""
    while isinstance(fn, functools.partial):
        fn = fn.func
    if not (inspect.isroutine(fn) or isinstance(fn, type)) and callable(fn):
        return inspect.getdoc(type(fn).__call__) or inspect.getdoc(type(fn))
    return inspect.getdoc(fn)


def is_async_callable(fn: Any) -> bool:
    """True for an ``async def``, also behind a partial or as an object's ``__call__``."""
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(_target(fn))


def refuse_unsupported(fn: Any) -> None:
    """A ``TypeError`` for a callable that cannot be a tool, saying what to pass instead."""
    where = f"@tool {callable_name(fn)}"
    if isinstance(fn, type):
        raise TypeError(
            f"{where}: is a class, not a function; pass a function, a bound method or an "
            "object with a __call__ method"
        )
    target = _target(fn)
    if inspect.isgeneratorfunction(target) or inspect.isasyncgenfunction(target):
        raise TypeError(
            f"{where}: is a generator function; a tool returns one result (return a list of "
            "the items, and report each step as it happens with ctx.progress(...))"
        )
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError) as exc:  # some builtins and C extensions have none
        raise TypeError(
            f"{where}: its signature cannot be read ({exc}); wrap it in a def that names "
            "its parameters"
        ) from None
    qualname = getattr(fn, "__qualname__", "")
    owner = qualname.rpartition(".")[0]
    if (
        inspect.isfunction(fn)
        and params
        and params[0].name == "self"
        and params[0].annotation is inspect.Parameter.empty
        and owner
        and not owner.endswith("<locals>")
    ):
        raise TypeError(
            f"@tool {qualname}: is a method taken from its class, so 'self' would be an "
            f"argument; make the tool from an object's method (tool({owner}(...).{fn.__name__})) "
            "or make it a @staticmethod"
        )


def resolved_hints(fn: Any, localns: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The callable's resolved type hints; a hint that cannot be resolved is a ``TypeError``.

    ``localns`` (the namespace ``@tool`` was applied in) resolves the types a
    function defined inside another one names under ``from __future__ import
    annotations``. A name that is still unknown is a type imported only under
    ``TYPE_CHECKING``, or one defined after the tool.
    """
    target = _target(fn)
    if not (inspect.isroutine(target) or inspect.isclass(target)):
        return {}
    try:
        return get_type_hints(target, include_extras=True)
    except Exception as exc:
        error: Exception = exc
    if isinstance(error, NameError) and localns:
        try:
            return get_type_hints(target, localns=dict(localns), include_extras=True)
        except Exception as exc:
            error = exc
    hint = "the types a tool's parameters use must be importable where it is defined"
    if isinstance(error, NameError):
        hint = (
            "define that type before the tool, and import it outside 'if TYPE_CHECKING:' "
            "(the tool reads its hints when it is made)"
        )
    raise TypeError(
        f"@tool {callable_name(fn)}: cannot resolve its type hints "
        f"({type(error).__name__}: {error}); {hint}"
    ) from None


def type_name(annotation: Any) -> str:
    if isinstance(annotation, type) and typing.get_origin(annotation) is None:
        return annotation.__qualname__
    return repr(annotation)  # list[Thing] as written, not 'list'


def _why_not(exc: PydanticUserError) -> str:
    """pydantic's reason in one line, with its advice for the one case users meet most."""
    if exc.code == "typed-dict-version":
        return (
            ": on Python < 3.12 a TypedDict must come from typing_extensions "
            "(from typing_extensions import TypedDict), not typing"
        )
    if exc.code == "schema-for-unknown-type" or "arbitrary_types_allowed" in str(exc):
        return f", which has no JSON Schema; {JSON_TYPES_HINT}"
    return ": " + str(exc).strip().splitlines()[0]


def arguments_model(name: str, fields: dict[str, Any]) -> type[BaseModel]:
    """The pydantic model of a tool's arguments, or a ``TypeError`` naming the parameter.

    pydantic's own error for a type it cannot describe (an arbitrary class) is
    several paragraphs about ``arbitrary_types_allowed``; a tool's author needs
    to know which parameter, and what to use instead.
    """
    config = ConfigDict(extra="forbid")
    try:
        return create_model(f"{name}_arguments", __config__=config, **fields)
    except PydanticUserError as exc:
        error = exc
    for pname, (annotation, _default) in fields.items():
        try:
            TypeAdapter(annotation)
        except PydanticUserError as exc:
            raise TypeError(
                f"@tool {name}: parameter '{pname}' has type {type_name(annotation)}{_why_not(exc)}"
            ) from None
    raise TypeError(f"@tool {name}: its parameters have no JSON Schema{_why_not(error)}")


def output_adapter(name: str, return_type: Any) -> TypeAdapter[Any]:
    try:
        return TypeAdapter(return_type)
    except PydanticUserError as exc:
        why = _why_not(exc)
        if why.startswith(", which"):  # no schema at all: say it plainly
            why = f" has no JSON Schema; {JSON_TYPES_HINT}"
        raise TypeError(
            f"@tool {name}: its return type {type_name(return_type)}{why} "
            "(or leave the return unannotated)"
        ) from None


def with_parameter_docs(schema: dict[str, Any], docs: Mapping[str, str]) -> dict[str, Any]:
    """``schema`` with each documented parameter's text as its ``description``.

    A description given in the type (``Annotated[int, Field(description=...)]``)
    wins over the docstring's.
    """
    properties = schema.get("properties")
    if not docs or not isinstance(properties, dict):
        return schema
    for pname, prop in properties.items():
        text = docs.get(pname)
        if text and isinstance(prop, dict) and "description" not in prop:
            prop["description"] = text
    return schema


def positional_only(fn: Callable[..., Any]) -> tuple[str, ...]:
    """Names of the parameters that cannot be passed by keyword (``def f(a, /)``, builtins)."""
    return tuple(
        p.name
        for p in inspect.signature(fn).parameters.values()
        if p.kind is inspect.Parameter.POSITIONAL_ONLY
    )
