"""``@tool``: a typed Python function becomes an action.

The input JSON Schema is generated from the type hints by pydantic, and the
arguments are validated before the function runs, so a bad argument becomes an
``ActionResult`` naming the field, never an exception in the executor. A
parameter annotated ``ActionContext`` receives the call context (to call other
actions or report progress) and is not part of the schema.

Sync functions run inline on the event loop: most tools are short CPU work and
a thread hop would cost more than the work. Mark a function that blocks on I/O
with ``@tool(blocking=True)`` and it runs in a worker thread instead.
"""

from __future__ import annotations

import asyncio
import inspect
import typing
from collections.abc import Callable
from typing import Any, get_type_hints, overload

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError, create_model

from weft.protocols import (
    ActionCall,
    ActionContext,
    ActionKind,
    ActionResult,
    ActionSpec,
    CapabilityCard,
)

_PASS_THROUGH = {int, float, str, bool, type(None), dict, list, Any}


def describe_validation_error(exc: ValidationError) -> tuple[str, str | None]:
    """One readable line per problem, and the first offending field's dotted path."""
    lines: list[str] = []
    first_field: str | None = None
    for err in exc.errors():
        path = ".".join(str(p) for p in err["loc"])
        first_field = first_field or path or None
        got = err.get("input")
        shown = repr(got) if not isinstance(got, dict) else "an object"
        if len(shown) > 60:
            shown = shown[:57] + "..."
        if err["type"] == "missing":
            lines.append(f"argument '{path}' is required")
        elif err["type"] == "extra_forbidden":
            lines.append(f"argument '{path}' is not a parameter")
        else:
            lines.append(f"argument '{path}': {err['msg']} (got {shown})")
    return "; ".join(lines), first_field


def _first_paragraph(doc: str | None) -> str:
    if not doc:
        return ""
    return inspect.cleandoc(doc).split("\n\n", 1)[0].replace("\n", " ").strip()


def _is_context(annotation: Any) -> bool:
    """True for ``ActionContext`` itself or a class that names it as a base."""
    return annotation is ActionContext or (
        isinstance(annotation, type) and ActionContext in getattr(annotation, "__mro__", ())
    )


class FunctionAction:
    """An action backed by a Python function; create it with ``@tool``."""

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        version: str = "1",
        kind: ActionKind = ActionKind.TOOL,
        card: CapabilityCard | None = None,
        blocking: bool = False,
    ) -> None:
        self.fn = fn
        self.blocking = blocking
        self._is_async = inspect.iscoroutinefunction(fn)
        hints = get_type_hints(fn, include_extras=True)
        signature = inspect.signature(fn)
        fields: dict[str, Any] = {}
        self._context_param: str | None = None
        for pname, param in signature.parameters.items():
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                raise TypeError(f"@tool {fn.__name__}: *args/**kwargs cannot be described")
            annotation = hints.get(pname, Any)
            if _is_context(annotation):
                self._context_param = pname
                continue
            default = ... if param.default is inspect.Parameter.empty else param.default
            fields[pname] = (annotation, default)
        model_name = f"{fn.__name__}_arguments"
        self.arguments_model: type[BaseModel] = create_model(
            model_name, __config__=ConfigDict(extra="forbid"), **fields
        )
        self._param_names = tuple(fields)
        # Parameters all typed ``Any`` with immutable defaults need no validation
        # beyond their names; checking names in Python skips building a model.
        immutable = (type(None), bool, int, float, str, bytes, tuple, frozenset)
        self._untyped = bool(fields) and all(
            annotation is Any and (default is ... or isinstance(default, immutable))
            for annotation, default in fields.values()
        )
        self._names = frozenset(fields)
        self._required = frozenset(n for n, (_, default) in fields.items() if default is ...)
        self._defaults = {n: d for n, (_, d) in fields.items() if d is not ...}
        return_type = hints.get("return", Any)
        self._output_adapter: TypeAdapter[Any] | None = None
        output_schema: dict[str, Any] = {}
        if return_type not in _PASS_THROUGH and typing.get_origin(return_type) not in (dict, list):
            self._output_adapter = TypeAdapter(return_type)
        if return_type is not Any:
            try:
                output_schema = TypeAdapter(return_type).json_schema()
            except Exception:  # an exotic return type still makes a valid tool
                output_schema = {}
        input_schema = self.arguments_model.model_json_schema()
        input_schema.pop("title", None)
        self._spec = ActionSpec(
            name=name or fn.__name__,
            version=version,
            kind=kind,
            description=description if description is not None else _first_paragraph(fn.__doc__),
            input_schema=input_schema,
            output_schema=output_schema,
            card=card,
        )

    @property
    def spec(self) -> ActionSpec:
        return self._spec

    @property
    def name(self) -> str:
        return self._spec.name

    @property
    def uses_context(self) -> bool:
        """False when the function takes no ``ActionContext``: callers may skip making one."""
        return self._context_param is not None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Calling the decorated function directly still works, unvalidated."""
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<tool {self._spec.name}>"

    async def invoke(self, call: ActionCall, ctx: ActionContext) -> ActionResult:
        arguments = call.arguments
        keys = arguments.keys()
        if self._untyped and keys == self._names:
            kwargs = arguments  # ``**`` below copies it: the caller's dict is never touched
        elif self._untyped and self._required <= keys <= self._names:
            kwargs = {**self._defaults, **arguments}
        else:
            try:
                parsed = self.arguments_model.model_validate(arguments)
            except ValidationError as exc:
                message, field = describe_validation_error(exc)
                return ActionResult.failure(
                    call.call_id, "ValidationError", f"{self.name}: {message}", field=field
                )
            # A validated model's __dict__ holds exactly its fields, already converted.
            kwargs = parsed.__dict__
        if self._context_param is not None:
            kwargs = {**kwargs, self._context_param: ctx}
        try:
            if self._is_async:
                value = await self.fn(**kwargs)
            elif self.blocking:
                value = await asyncio.to_thread(self.fn, **kwargs)
            else:
                value = self.fn(**kwargs)
            if self._output_adapter is not None:
                value = self._output_adapter.dump_python(value, mode="json")
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            return ActionResult.from_exception(call.call_id, exc, source=self.name)
        return ActionResult.success(call.call_id, value)


@overload
def tool(fn: Callable[..., Any], /) -> FunctionAction: ...


@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    version: str = "1",
    card: CapabilityCard | None = None,
    blocking: bool = False,
) -> Callable[[Callable[..., Any]], FunctionAction]: ...


def tool(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    version: str = "1",
    card: CapabilityCard | None = None,
    blocking: bool = False,
) -> FunctionAction | Callable[[Callable[..., Any]], FunctionAction]:
    """Turn a typed function into an action: ``@tool`` or ``@tool(name=...)``."""

    def wrap(f: Callable[..., Any]) -> FunctionAction:
        return FunctionAction(
            f, name=name, description=description, version=version, card=card, blocking=blocking
        )

    return wrap(fn) if fn is not None else wrap
