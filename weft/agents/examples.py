"""Few-shot examples for an ``LLMAgent``: its own best past steps on similar inputs.

An agent cannot import the runtime (``weft.agents`` sits below it), so the
source of examples is duck-typed: any object with a method
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
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

log = logging.getLogger(__name__)


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
