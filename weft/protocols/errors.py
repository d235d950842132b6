"""The short list of exceptions a weft user can catch.

Every error a user can cause carries a location (file, line, column, node,
field) so that the CLI can print one precise line instead of a traceback.
Errors raised *inside* an action never escape the executor: they become an
``ActionResult`` with state ``error``. These exceptions are for definitions,
configuration and the run as a whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Location:
    """Where in a definition a problem sits; every part is optional."""

    file: str | None = None
    line: int | None = None
    column: int | None = None
    node: str | None = None
    field: str | None = None

    def __str__(self) -> str:
        parts: list[str] = []
        if self.file:
            where = self.file
            if self.line is not None:
                where += f":{self.line}"
                if self.column is not None:
                    where += f":{self.column}"
            parts.append(where)
        elif self.line is not None:
            parts.append(f"line {self.line}" + (f", column {self.column}" if self.column else ""))
        if self.node:
            parts.append(f"node '{self.node}'")
        if self.field:
            parts.append(f"field '{self.field}'")
        return ", ".join(parts)


class WeftError(Exception):
    """Base of every weft exception; ``str()`` is a complete user-facing message."""


class DefinitionError(WeftError):
    """A workflow or action definition is invalid (bad YAML, cycle, unknown action...).

    ``problems`` holds every problem found, so a user fixes them all in one go;
    the message lists them one per line with their location.
    """

    def __init__(self, problems: list[tuple[str, Location]]) -> None:
        self.problems = problems
        lines = [f"{loc}: {msg}" if str(loc) else msg for msg, loc in problems]
        super().__init__("\n".join(lines))

    @classmethod
    def single(cls, message: str, location: Location | None = None) -> DefinitionError:
        return cls([(message, location or Location())])


class InputError(WeftError):
    """Inputs given to a run do not match the workflow's declared inputs."""


class RunNotFoundError(WeftError):
    """A run id given to ``resume`` or ``runs`` is not in the journal."""


class ResumeMismatchError(WeftError):
    """The workflow changed since the run started, so resuming it would mix two graphs."""


class RunInProgressError(WeftError):
    """A run is still executing in another process (its journal lease is alive), so it
    cannot be resumed now; or this process lost the run to one that took it over."""


class RunFailedError(WeftError):
    """Raised by convenience helpers that return only outputs when the run did not succeed."""


class BusError(WeftError):
    """A bus operation failed: not connected, closed, or the broker refused it."""


class CallTimeoutError(BusError):
    """A request on the bus got no reply before its deadline."""


class PublishRefusedError(BusError):
    """The broker refused a publish (MQTT v5 PUBACK reason code >= 0x80).

    Typically 0x87 "Not authorized": the broker's ACL does not let this
    client write to ``topic``. Sending it again changes nothing, so callers
    fail at once (not retryable) instead of waiting for a reply until their
    deadline. ``broker`` is the broker's URL without its password; the
    message says all three, in the same words for the bus and the A2A client.
    """

    def __init__(self, broker: str, topic: str, reason: str) -> None:
        super().__init__(
            f"broker {broker} refused the publish to {topic!r}: {reason} "
            "(not retryable: is this client allowed to write to this topic? "
            "see the broker's ACL)"
        )
        self.broker = broker
        self.topic = topic
        self.reason = reason


class NeedsInput(WeftError):
    """Raise inside an action (or let ``ctx.ask`` raise it) to stop for a person's answer.

    The call ends ``needs_input`` rather than ``error``: it is not retried,
    and the run waits, journaled, until it is resumed with an answer
    (``weft.protocols.human_input``). ``choices``, when given, are the only
    answers ``weft resume`` accepts.
    """

    def __init__(
        self, question: str, *, choices: Sequence[Any] | None = None, index: int = 0
    ) -> None:
        super().__init__(question)
        self.question = question
        self.choices = list(choices) if choices is not None else None
        #: Which of the call's questions this is (0 for its first ``ask``).
        self.index = index


class ActionFailed(WeftError):
    """Raise inside an action to fail it with a chosen error type and retry advice.

    Any other exception fails the call too (type = the exception's class name),
    retryable only for ``TimeoutError`` and ``ConnectionError``.
    """

    def __init__(self, message: str, *, retryable: bool = False, error_type: str | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.error_type = error_type or type(self).__name__


def name_apart(name: str) -> str:
    """How to give two different actions that share ``name`` names of their own.

    One hint for every place that refuses such a clash (the registry, the
    builder, an agent's tools): the usual causes are two lambdas, which Python
    names ``<lambda>`` alike, and two LangGraph graphs compiled without a name.
    """
    if name == "<lambda>":
        return (
            "a lambda has no name of its own; write each as a def, or name it: "
            "weft.tool(name='add')(lambda a, b: a + b)"
        )
    if name == "LangGraph":  # what LangGraph names a graph compiled without a name
        return (
            "a LangGraph graph compiled without a name is named 'LangGraph'; name each: "
            "builder.compile(name='writer'), or weft.from_langgraph(graph, name='writer')"
        )
    return f"give one another name: weft.tool(name='other_{name}')(fn)"
