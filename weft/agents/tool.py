"""``@tool``: a typed Python function becomes an action.

The input JSON Schema is generated from the type hints by pydantic, and the
arguments are validated before the function runs, so a bad argument becomes an
``ActionResult`` naming the field, never an exception in the executor. A
parameter annotated ``ActionContext`` receives the call context (to call other
actions or report progress) and is not part of the schema; so does a parameter
named ``ctx`` with no annotation and no default (``def refund(order: str,
ctx)``, as users write it): taking it for an argument of any type would offer
the model a ``ctx`` field to fill and fail every call.

Any callable will do (bound methods, objects with ``__call__``,
``functools.partial``, decorated functions); what cannot be a tool (a class,
a generator, a method taken from its class) is refused when the tool is made.
How each is read is ``_tool_signature``'s job; the docstring's parameter
descriptions reach the schema through ``_docstrings``.

An ``async def`` runs on the event loop. A plain ``def`` runs in a worker
thread (``worker_threads``): it may block (sleep, read a socket, wait on a
process) without stopping the other nodes, the agent's heartbeats or the
node's timeout. ``@tool(max_threads=n)`` gives an action a pool of its own;
``@tool(inline=True)`` keeps a trivial pure function on the loop, where a call
costs no thread hop but blocks everything else while it runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import functools
import inspect
import sys
import time
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any, overload

from pydantic import BaseModel, TypeAdapter, ValidationError

from weft.agents._docstrings import parameter_docs
from weft.agents._tool_signature import (
    arguments_model,
    callable_doc,
    callable_name,
    is_async_callable,
    output_adapter,
    positional_only,
    refuse_unsupported,
    resolved_hints,
    with_parameter_docs,
)
from weft.agents.thread_clock import RunningClock, take_clock
from weft.agents.worker_threads import (
    CallGivenUp,
    WorkerPool,
    given_up,
    given_up_check,
    run_in_thread,
    shared_pool,
    started_at,
)
from weft.protocols import (
    ActionCall,
    ActionContext,
    ActionKind,
    ActionResult,
    ActionSpec,
    CapabilityCard,
)
from weft.protocols.human_input import Questions

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


def _where_it_runs(
    fn: Callable[..., Any], is_async: bool, inline: bool, max_threads: int | None, blocking: bool
) -> tuple[bool, WorkerPool | None]:
    """``(inline, own pool)`` from ``@tool``'s options; a contradiction is a TypeError."""
    where = f"@tool {callable_name(fn)}"
    if inline and (blocking or max_threads is not None):
        raise TypeError(f"{where}: inline=True runs on the event loop, not in a thread")
    if is_async and (inline or max_threads is not None):
        raise TypeError(
            f"{where}: an async function runs on the event loop; inline and "
            "max_threads are for plain functions"
        )
    if max_threads is not None and (
        isinstance(max_threads, bool) or not isinstance(max_threads, int) or max_threads < 1
    ):
        raise TypeError(f"{where}: max_threads must be a whole number of at least 1")
    pool = WorkerPool(max_threads, name=f"weft-{callable_name(fn)}") if max_threads else None
    return inline, pool


class ThreadContext:
    """The call context as a tool in a worker thread sees it.

    ``progress`` is handed to the event loop's thread (the listeners it
    reaches are not thread-safe); ``call`` and ``actions`` only read.
    Once the call was given up on (its node timed out, its run was
    cancelled) its thread runs on, but nothing it says is used: ``progress``
    is dropped, neither traced nor streamed, and ``ask`` raises
    ``CallGivenUp`` in the thread at once (a question would otherwise stop a
    run that no longer waits for this call).
    ``invoke`` is a coroutine for the loop: a plain function that must call
    other actions is better written ``async def``.

    With ``clock`` (the node's timeout, ``thread_clock``), ``call.deadline``
    is the one that timeout applies: counted from when a thread started
    running the call, not from when it was submitted, so a tool that budgets
    its work by the deadline gets the time its wait for a thread did not use.
    """

    def __init__(
        self,
        ctx: ActionContext,
        loop: asyncio.AbstractEventLoop,
        clock: RunningClock | None = None,
    ) -> None:
        self._ctx = ctx
        self._loop = loop
        self._questions: Questions | None = None
        self._clock = clock
        self._call: ActionCall | None = None

    @property
    def call(self) -> ActionCall:
        if self._clock is None:
            return self._ctx.call
        if self._call is None:
            timed = self._timed_call(self._clock)
            if timed is None:
                return self._ctx.call
            self._call = timed
        return self._call

    def _timed_call(self, clock: RunningClock) -> ActionCall | None:
        """The call with the deadline ``clock`` applies; None outside the call's worker
        thread (a thread of the tool's own), which cannot tell when the call started."""
        call = self._ctx.call
        start = started_at()
        if start is None:
            return None
        if call.deadline is None:
            return call
        ago = time.monotonic() - start
        return call.model_copy(update={"deadline": time.time() - ago + clock.left_at(start)})

    @property
    def idempotency_key(self) -> str:
        return self._ctx.idempotency_key

    async def invoke(self, action: str, arguments: dict[str, Any]) -> ActionResult:
        return await self._ctx.invoke(action, arguments)

    def actions(self) -> list[ActionSpec]:
        return self._ctx.actions()

    def ask(self, question: str, *, choices: Sequence[Any] | None = None) -> Any:
        if given_up():
            raise CallGivenUp(
                f"{self.call.action}: the call was given up on (timed out or cancelled); "
                f"nobody will answer {question!r}"
            )
        if self._questions is None:
            self._questions = Questions(self.call)
        return self._questions.ask(question, choices)

    def progress(self, message: str, fraction: float | None = None, **data: Any) -> None:
        dropped = given_up_check()
        if dropped():
            return
        report = functools.partial(self._ctx.progress, message, fraction, **data)

        def on_loop() -> None:  # given up on since it was sent: dropped there too
            if not dropped():
                report()

        with contextlib.suppress(RuntimeError):  # the loop closed: the run is over
            self._loop.call_soon_threadsafe(on_loop)


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
        inline: bool = False,
        max_threads: int | None = None,
        blocking: bool = False,
        namespace: Mapping[str, Any] | None = None,
    ) -> None:
        """``namespace``: the names where ``@tool`` was applied, for hints that name local types."""
        if not callable(fn):
            raise TypeError(f"@tool: {fn!r} is not callable")
        refuse_unsupported(fn)
        self.fn = fn
        label = callable_name(fn)
        self._is_async = is_async_callable(fn)
        self.inline, self._pool = _where_it_runs(fn, self._is_async, inline, max_threads, blocking)
        self._threaded = not (self._is_async or self.inline)
        hints = resolved_hints(fn, namespace)
        fields: dict[str, Any] = {}
        self._context_param: str | None = None
        for pname, param in inspect.signature(fn).parameters.items():
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                star = "*" if param.kind is param.VAR_POSITIONAL else "**"
                raise TypeError(
                    f"@tool {label}: parameter '{star}{pname}' cannot be described to a model; "
                    "name each argument the tool takes (*args/**kwargs cannot be described)"
                )
            annotation = hints.get(pname, Any)
            bare_ctx = pname == "ctx" and pname not in hints and param.default is param.empty
            if bare_ctx or _is_context(annotation):
                self._context_param = pname
                continue
            default = ... if param.default is inspect.Parameter.empty else param.default
            fields[pname] = (annotation, default)
        self._positional = positional_only(fn)
        self.arguments_model: type[BaseModel] = arguments_model(label, fields)
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
            self._output_adapter = output_adapter(label, return_type)
        if return_type is not Any:
            try:
                output_schema = TypeAdapter(return_type).json_schema()
            except Exception:  # an exotic return type still makes a valid tool
                output_schema = {}
        input_schema = self.arguments_model.model_json_schema()
        input_schema.pop("title", None)
        doc = callable_doc(fn)
        self._spec = ActionSpec(
            name=name or label,
            version=version,
            kind=kind,
            description=description if description is not None else _first_paragraph(doc),
            input_schema=with_parameter_docs(input_schema, parameter_docs(doc)),
            output_schema=output_schema,
            card=card,
        )

    @property
    def spec(self) -> ActionSpec:
        return self._spec

    @property
    def name(self) -> str:
        return self._spec.name

    def named(self, name: str) -> FunctionAction:
        """This tool under the name ``name``: the same function, settings and thread pool.

        For a tool whose own name says nothing, a lambda's ``<lambda>``: ``weft ask
        --agents tools.py`` and ``weft agent serve`` name a tool made from a lambda
        after the variable that holds it (``add = weft.tool(lambda a, b: a + b)``).
        """
        renamed = copy.copy(self)
        renamed._spec = self._spec.model_copy(update={"name": name})
        return renamed

    @property
    def runs_in_thread(self) -> bool:
        """True for a plain ``def`` run in a worker thread: its node's timeout counts
        from when a thread takes the call (``thread_clock``), not while it waits."""
        return self._threaded

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
        # taken here, before anything awaits: ``ThreadContext`` reads the deadline from it
        clock = take_clock(self) if self._threaded else None
        if self._context_param is not None:
            given = ThreadContext(ctx, asyncio.get_running_loop(), clock) if self._threaded else ctx
            kwargs = {**kwargs, self._context_param: given}
        # Every node's call comes through here: the common path (an ``async def``
        # without positional-only parameters) stays as short as it can be.
        fn = self.fn
        if self._positional:  # ``def f(a, /)`` and builtins take these by position only
            fn, kwargs = _bind_positional(fn, self._positional, kwargs)
        try:
            if self._is_async:
                value = await fn(**kwargs)
            else:
                if self._threaded:
                    pool = self._pool or shared_pool()
                    value = await run_in_thread(pool, fn, kwargs, clock=clock)
                else:
                    value = fn(**kwargs)
                if inspect.isawaitable(value):
                    value = await value  # a plain def that returns a coroutine (a decorator)
            if self._output_adapter is not None:
                value = _dumped(self._output_adapter, value)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            return ActionResult.from_exception(call.call_id, exc, source=self.name)
        return ActionResult.success(call.call_id, value)


def _bind_positional(
    fn: Callable[..., Any], names: tuple[str, ...], kwargs: dict[str, Any]
) -> tuple[Callable[..., Any], dict[str, Any]]:
    """``fn`` with the positional-only arguments ``names`` bound, and the other keywords.

    Out of ``invoke``: a comprehension there would make ``kwargs`` a closure
    cell on every call of every tool.
    """
    rest = dict(kwargs)
    return functools.partial(fn, *[rest.pop(n) for n in names]), rest


def _dumped(adapter: TypeAdapter[Any], value: Any) -> Any:
    """``value`` dumped to JSON data by its declared return type.

    Left as it is when pydantic cannot dump it: the executor and the agent
    host then hold it to weft's one rule (``weft.protocols.results``), whose
    ``OutputNotJSON`` error names where the offending value sits.
    """
    try:
        return adapter.dump_python(value, mode="json")
    except ValueError:  # pydantic_core's PydanticSerializationError
        return value


@overload
def tool(fn: Callable[..., Any], /) -> FunctionAction: ...


@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    version: str = "1",
    card: CapabilityCard | None = None,
    inline: bool = False,
    max_threads: int | None = None,
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
    inline: bool = False,
    max_threads: int | None = None,
    blocking: bool = False,
) -> FunctionAction | Callable[[Callable[..., Any]], FunctionAction]:
    """Turn a typed function into an action: ``@tool`` or ``@tool(name=...)``.

    A plain ``def`` runs in a worker thread of the shared pool;
    ``max_threads=n`` gives it a pool of ``n`` threads of its own;
    ``inline=True`` runs it on the event loop instead (only for trivial pure
    functions: nothing else in the process moves while it runs).
    ``blocking=True`` is accepted for older code: it asks for a thread,
    which is the default now.
    """

    def wrap(f: Callable[..., Any], caller: Any = None) -> FunctionAction:
        if isinstance(f, FunctionAction):  # a tool made again: from its function, anew
            f = f.fn
        # The caller's names resolve the hints of a function defined inside another
        # one under ``from __future__ import annotations`` (used only when the
        # function's own globals do not resolve them; not kept).
        namespace = (caller or sys._getframe(1)).f_locals
        return FunctionAction(
            f,
            namespace=namespace,
            name=name,
            description=description,
            version=version,
            card=card,
            inline=inline,
            max_threads=max_threads,
            blocking=blocking,
        )

    return wrap(fn, sys._getframe(1)) if fn is not None else wrap
