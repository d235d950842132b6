"""A plain-text A2A client calls a tool as users write them: one required string and
optional ones with defaults (``greet(name, greeting="Hello", times=1)``).

Found in a real-use trial: ``weft a2a serve mytools.py:greet`` answered a text
part ``"Ann"`` with ``argument 'name' is required; argument 'text' is not a
parameter``, because the tool has a second (optional) string input, while
``weft ask`` gives the same tool a subtask's text without trouble.
"""

from __future__ import annotations

from typing import Any

from weft import tool
from weft.runtime.engine.action_table import ActionTable
from weft.runtime.interop.a2a_calls import A2aCalls


@tool
def greet_with(name: str, greeting: str = "Hello", times: int = 1) -> str:
    """Greets someone, in a chosen way."""
    return " ".join([f"{greeting}, {name}!"] * times)


@tool
def title_of(slug: str, language: str = "en", width: int = 40) -> str:
    """A required string among optional strings and numbers."""
    return f"{slug[:width]} ({language})"


@tool
def pair(left: str, right: str) -> str:
    """Two required strings: a lone text names neither."""
    return f"{left}/{right}"


def text_part(text: str) -> list[dict[str, Any]]:
    return [{"text": text}]


def test_a_lone_text_goes_to_the_one_required_string_among_optional_strings() -> None:
    calls = A2aCalls(ActionTable([greet_with, title_of]))
    assert calls.arguments(greet_with, text_part("Ann")) == {"name": "Ann"}
    assert calls.arguments(title_of, text_part("intro")) == {"slug": "intro"}


def test_two_required_strings_still_leave_a_lone_text_as_text() -> None:
    assert A2aCalls(ActionTable([pair])).arguments(pair, text_part("x")) == {"text": "x"}


async def test_a_plain_text_message_calls_the_tool_with_its_defaults() -> None:
    result = await A2aCalls(ActionTable([greet_with])).run(text_part("Ann"), task_id="t1")
    assert result.ok, result.error
    assert result.output == "Hello, Ann!"
