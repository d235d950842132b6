"""An ask whose actions cannot take a subtask says which ones it set aside, and why.

Found in a real-use trial: ``weft ask "Summarise ..." --agents
asyncgraph.py:summariser`` (a LangGraph graph whose TypedDict state has
``text``, ``words`` and ``summary``, none required) answered only "no agents to
route to: give actions that take a 'task' or a single argument": the user could
not tell that their graph was the action refused, nor what in it to change.
"""

from __future__ import annotations

import pytest

from weft import tool
from weft.protocols import WeftError
from weft.runtime.orchestrator import Orchestrator


@tool
def order_total(item: str, qty: int, unit_price: float) -> float:
    """Total cost of an order."""
    return qty * unit_price


@tool
def summarise(text: str = "", words: int = 0, summary: str = "") -> str:
    """Several optional inputs, none of them 'task': no subtask knows where to go."""
    return summary or text


async def test_the_error_names_each_action_set_aside_and_its_parameters() -> None:
    with pytest.raises(WeftError) as caught:
        await Orchestrator([order_total, summarise]).ask("Summarise the cat sat on the mat")
    message = str(caught.value)
    assert message.startswith("no agents to route to: give actions that take a 'task'")
    assert "order_total takes item, qty, unit_price (item, qty, unit_price required)" in message
    assert "summarise takes text, words, summary (none required)" in message
