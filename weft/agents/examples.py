"""Few-shot examples for an ``LLMAgent``: fixed ones, or its own best past steps on similar inputs.

**Fixed examples** (``LLMAgent(examples=[...])``, the YAML ``llm: examples:``)
are input/output pairs written by the user: ``(input, output)`` tuples or
``{"input": ..., "output": ...}`` mappings. Every one is shown, in order,
before the task, as a user turn and the assistant's answer to it (the
few-shot prompting most frameworks offer). An input is a string, or the
agent's arguments as a mapping (rendered as the real task will be); an
output is a string, or any JSON value (sent as JSON: what an agent with an
``output_type`` is to answer). ``fixed_examples`` checks them when the agent
is made, so a wrong one is an ``InvalidExample`` naming ``examples[i]``.

**A source of past steps** is the other kind. An agent cannot import the
runtime (``weft.agents`` sits below it), so the source is duck-typed: any object with a method
``examples(text, *, agent, k)`` (the runtime's ``ExperienceMemory`` is one),
or a plain callable ``(text, agent, k)``. Either returns past steps, each an
object with ``input`` and ``output`` attributes (``StepRecord``), a mapping
with those keys, or an ``(input, output)`` pair, best first. The source
decides the pools: ``ExperienceMemory`` answers the agent's own steps first
and fills up from every agent's (the shared pool).

The lookup is synchronous (Chroma and the embedder are), so it runs in a
worker thread. Examples are an optimisation, never a reason to fail a call:
a source that raises is logged and the call goes on without examples.
Bounded twice: at most ``k`` pairs, and at most ``max_chars`` characters of
example text (a pair that does not fit is skipped, the next smaller one may).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from weft.protocols import WeftError

log = logging.getLogger(__name__)


class InvalidExample(WeftError, ValueError):
    """A fixed example that is no input/output pair; ``index`` and ``field`` say where."""

    def __init__(self, index: int, field: str | None, problem: str) -> None:
        self.index = index
        self.field = field
        self.problem = problem
        where = f"examples[{index}]" + (f".{field}" if field else "")
        super().__init__(f"{where}: {problem}")


def _fixed_pair(index: int, entry: Any) -> tuple[Any, Any]:
    """``(input, output)`` of a fixed example as given: a pair or an input/output mapping."""
    if isinstance(entry, Mapping):
        unknown = sorted(str(key) for key in entry if key not in ("input", "output"))
        if unknown:
            raise InvalidExample(
                index, None, f"unknown key '{unknown[0]}' (an example has input and output)"
            )
        missing = [key for key in ("input", "output") if key not in entry]
        if missing:
            raise InvalidExample(index, missing[0], "missing (an example has input and output)")
        return entry["input"], entry["output"]
    if isinstance(entry, tuple | list) and len(entry) == 2:
        return entry[0], entry[1]
    raise InvalidExample(
        index, None, f"{entry!r} is not an example: give {{input: ..., output: ...}}"
    )


def fixed_examples(
    entries: object,
    render: Callable[[Mapping[str, Any]], str],
    check_output: Callable[[str], object] | None = None,
) -> list[tuple[str, str]]:
    """Fixed examples as ``(user text, assistant text)`` pairs; see the module docstring.

    ``render`` turns an input given as a mapping into the user text (the
    agent's own renderer); ``check_output``, when given, parses an output as the
    agent's answer would be (its ``output_type``) and raises when it does not fit.
    Raises ``InvalidExample`` at the first wrong entry.
    """
    if isinstance(entries, str | bytes) or not isinstance(entries, Sequence):
        raise InvalidExample(0, None, "examples must be a list of {input, output} pairs")
    pairs: list[tuple[str, str]] = []
    for index, entry in enumerate(entries):
        given, answered = _fixed_pair(index, entry)
        if isinstance(given, Mapping):
            text = render(given)
        elif isinstance(given, str):
            text = given
        else:
            raise InvalidExample(
                index, "input", f"{given!r} is neither text nor the agent's arguments (a mapping)"
            )
        if not text.strip():
            raise InvalidExample(index, "input", "empty")
        if answered is None or answered == "":
            raise InvalidExample(index, "output", "empty: give the answer the model is to learn")
        reply = answered if isinstance(answered, str) else json.dumps(answered, default=str)
        if check_output is not None:
            try:
                check_output(reply)
            except ValueError as exc:
                raise InvalidExample(
                    index, "output", f"not an answer the agent may give: {exc}"
                ) from None
        pairs.append((text, reply))
    return pairs


def example_tasks(entries: Sequence[Any]) -> list[str]:
    """The tasks of fixed examples (their text inputs, or the ``task`` of their arguments),
    for the agent's capability card: example tasks it handles well."""
    tasks: list[str] = []
    for index, entry in enumerate(entries):
        given = _fixed_pair(index, entry)[0]
        if isinstance(given, Mapping):
            given = given.get("task")
        if isinstance(given, str) and given.strip():
            tasks.append(given.strip())
    return tasks


@runtime_checkable
class ExampleSource(Protocol):
    """Where past steps come from: ``examples(text, agent=..., k=...)``, best first."""

    def examples(self, text: str, *, agent: str | None, k: int) -> Sequence[Any]: ...


#: A source given as a function ``(text, agent, k) -> steps``.
ExampleFunction = Callable[[str, str | None, int], Sequence[Any]]


def _pair(step: Any) -> tuple[str, str] | None:
    """``(input, output)`` of one step, or None when it is not shaped like one."""
    if isinstance(step, Mapping):
        given, answered = step.get("input"), step.get("output")
    elif isinstance(step, tuple) and len(step) == 2:
        given, answered = step
    else:
        given, answered = getattr(step, "input", None), getattr(step, "output", None)
    if not isinstance(given, str) or not isinstance(answered, str):
        return None
    if not given.strip() or not answered.strip():
        return None
    return given, answered


def select(
    steps: Sequence[Any], *, k: int, max_chars: int, skip: str = ""
) -> list[tuple[str, str]]:
    """At most ``k`` distinct pairs within ``max_chars``, in the source's order.

    ``skip`` drops a step whose input is the current input itself: showing the
    model its own question answered adds nothing and would copy an old answer.
    """
    chosen: list[tuple[str, str]] = []
    seen: set[str] = set()
    budget = max_chars
    for step in steps:
        pair = _pair(step)
        if pair is None or pair[0] in seen or pair[0].strip() == skip.strip():
            continue
        size = len(pair[0]) + len(pair[1])
        if size > budget:
            continue
        chosen.append(pair)
        seen.add(pair[0])
        budget -= size
        if len(chosen) >= k:
            break
    return chosen


def example_messages(pairs: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    """Each pair as a prior user turn and the assistant's answer to it."""
    messages: list[dict[str, Any]] = []
    for given, answered in pairs:
        messages.append({"role": "user", "content": given})
        messages.append({"role": "assistant", "content": answered})
    return messages


async def fetch_examples(
    source: ExampleSource | ExampleFunction,
    text: str,
    *,
    agent: str,
    k: int,
    max_chars: int,
) -> list[tuple[str, str]]:
    """The pairs to show for ``text`` (empty when the source fails; see the module docstring)."""
    if k <= 0 or max_chars <= 0:
        return []
    try:
        if isinstance(source, ExampleSource):
            steps = await asyncio.to_thread(source.examples, text, agent=agent, k=k)
        else:
            steps = await asyncio.to_thread(source, text, agent, k)
    except Exception as exc:  # an optimisation only: the call goes on without
        log.warning("agent %s: examples unavailable: %s", agent, exc)
        return []
    return select(list(steps or []), k=k, max_chars=max_chars, skip=text)
