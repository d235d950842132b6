"""Every exception weft defines is a ``WeftError``, so ``except WeftError`` catches them all.

Private helpers (a name starting with ``_``) may stay outside the family:
they never leave the module that raises them. Where callers caught a builtin
before (``ValueError``, ``RuntimeError``), that stays a second base.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Iterator

import weft
from weft.protocols import WeftError


def weft_modules() -> Iterator[str]:
    """Every module of the package; ``__main__`` runs the CLI when imported, so it is left out."""
    yield "weft"
    for info in pkgutil.walk_packages(weft.__path__, "weft."):
        if not info.name.endswith("__main__"):
            yield info.name


def exceptions_defined_in_weft() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for name in weft_modules():
        module = importlib.import_module(name)
        for value in vars(module).values():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == module.__name__
            ):
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return found


def test_the_walk_finds_the_exceptions_it_must_judge() -> None:
    found = exceptions_defined_in_weft()
    assert "weft.protocols.errors.WeftError" in found
    assert "weft.agents.chat_errors.ModelCallError" in found
    assert "weft.workflows.expressions.ExpressionError" in found
    assert "weft.agents.chat_model._NotACompletion" in found


def test_every_public_weft_exception_derives_from_weft_error() -> None:
    """Errors, that is: a stop signal (``weft.cli._stops.Stopped``, a ``KeyboardInterrupt``)
    is no error, and ``except WeftError`` must not catch it."""
    strays = sorted(
        name
        for name, cls in exceptions_defined_in_weft().items()
        if not cls.__name__.startswith("_")
        and issubclass(cls, Exception)
        and not issubclass(cls, WeftError)
    )
    assert strays == [], f"not a WeftError: {', '.join(strays)}"


def test_the_only_exceptions_outside_exception_are_stop_signals() -> None:
    outside = {
        name: cls
        for name, cls in exceptions_defined_in_weft().items()
        if not issubclass(cls, Exception)
    }
    assert all(issubclass(cls, KeyboardInterrupt) for cls in outside.values()), outside


def test_errors_callers_caught_as_value_error_still_are() -> None:
    from weft.agents.structured import StructuredOutputError
    from weft.workflows.expressions import ExpressionError
    from weft.workflows.reducers import ReducerError

    for cls in (StructuredOutputError, ExpressionError, ReducerError):
        assert issubclass(cls, ValueError) and issubclass(cls, WeftError)
