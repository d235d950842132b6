"""Scripted team members for the team tests: plain Python functions on the member protocol.

``Script`` maps a turn number to the reply the speaker of that turn gives,
and records who spoke, so a test can say what a conversation must look like
without a model. Tasks are answered ``"{member} did {task}"``; a task whose
text names a gate waits for that gate to open first (async tasks that report
only when the test lets them).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any

from weft.agents import FunctionAction, tool


class Script:
    """Replies by turn; ``speakers`` records ``(turn, member)`` for every turn reply given."""

    def __init__(self, replies: dict[int, dict[str, Any]], default: str = "noted") -> None:
        self.replies = replies
        self.default = default
        self.speakers: list[tuple[int, str]] = []
        self.tasks: list[tuple[str, str]] = []
        self.gates: dict[str, asyncio.Event] = {}

    def gate(self, name: str) -> asyncio.Event:
        return self.gates.setdefault(name, asyncio.Event())

    def member(self, name: str) -> FunctionAction:
        """An async Python member named ``name`` that follows this script."""

        async def answer(task: str, context: dict[str, Any]) -> Any:
            if context["mode"] == "task":
                job = context["task"]
                self.tasks.append((name, job["id"]))
                for gate, event in self.gates.items():
                    if gate in job["task"]:
                        await event.wait()
                return f"{name} did {job['task']}"
            self.speakers.append((context["turn"], name))
            if context["mode"] == "vote":
                return self.replies.get(context["turn"], {"act": "vote", "vote": "yes"})
            return self.replies.get(context["turn"], {"act": "speak", "text": self.default})

        answer.__name__ = name
        return tool(name=name)(answer)


def members(script: Script, *names: str) -> list[FunctionAction]:
    return [script.member(n) for n in names]


def failing(name: str, after: int = 0) -> FunctionAction:
    """A member that answers ``after`` turns, then fails every call (an agent lost)."""
    calls = {"n": 0}

    async def answer(task: str, context: dict[str, Any]) -> Any:
        calls["n"] += 1
        if calls["n"] > after:
            raise ConnectionError(f"{name} is gone")
        return {"act": "speak", "text": f"{name} speaks"}

    answer.__name__ = name
    return tool(name=name)(answer)


def echo(name: str, reply: Callable[[dict[str, Any]], Any]) -> FunctionAction:
    """A member whose reply is ``reply(context)`` (awaited when it is a coroutine)."""

    async def answer(task: str, context: dict[str, Any]) -> Any:
        value = reply(context)
        return await value if inspect.isawaitable(value) else value

    answer.__name__ = name
    return tool(name=name)(answer)
