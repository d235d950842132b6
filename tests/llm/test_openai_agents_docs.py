"""agents.md's "Coming from the OpenAI Agents SDK" port runs as written.

The block is read from the docs and run as a user runs it, with a model behind
``OPENAI_BASE_URL``: here a scripted one that hands off to refunds, calls the
refund tool (which asks a person), then answers first with a card number
(rejected by the output check) and then without. The session file lands in the
test's own folder.
"""

from __future__ import annotations

import asyncio
import json
import re
import runpy
from pathlib import Path

import pytest

from weft.agents import SQLiteSession
from weft.testing import FunctionModel, ModelRequest, OpenAIServer, tool_call
from weft.testing.steps import Step

DOCS = Path(__file__).resolve().parents[2] / "docs"


def docs_blocks() -> tuple[str, str]:
    """The Python block of the section and the output it says the block prints."""
    section = (DOCS / "agents.md").read_text().split("## Coming from the OpenAI Agents SDK", 1)[1]
    section = section.split("\n## ", 1)[0]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    printed = re.search(r"it prints\n\n```\n(.*?)```", section, re.S)
    assert code is not None and printed is not None, "agents.md: the port or its output is gone"
    return code.group(1), printed.group(1)


def support_model(request: ModelRequest) -> Step | str:
    if request.system.startswith("Hand the customer"):
        return tool_call("transfer_to_refunds", {"reason": "a refund"})
    assert request.system.startswith("You handle refunds"), request.system
    called = [c["function"]["name"] for m in request.messages for c in m.get("tool_calls") or []]
    if "refund" not in called:
        return tool_call("refund", {"order_id": "A1"})
    if "rejected" not in request.last_user_text:
        return json.dumps({"reply": "Refunded to card 4111 1111 1111 1111.", "refunded": True})
    return json.dumps({"reply": "Order A1 is refunded to your card.", "refunded": True})


def test_the_support_port_asks_before_the_refund_and_keeps_card_numbers_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, printed = docs_blocks()
    (tmp_path / "support.py").write_text(code)
    model = FunctionModel(support_model)
    monkeypatch.chdir(tmp_path)  # the block's SQLiteSession("support.db")
    with OpenAIServer(model) as server:  # a thread: the block calls asyncio.run itself
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("WEFT_MODEL", "m")
        runpy.run_path(str(tmp_path / "support.py"), run_name="__main__")
    assert capsys.readouterr().out == printed
    rejected = model.requests[-1].last_user_text
    assert rejected.startswith("Your previous answer was rejected: it shows a card number")
    # triage's transfer, the refund tool call, (the approval) the answer with the card
    # number, its repair
    assert len(model.requests) == 4
    assert model.requests[2].system.startswith("You handle refunds")  # resumed in refunds
    kept = asyncio.run(SQLiteSession(tmp_path / "support.db").messages("customer-7"))
    assert [m["role"] for m in kept] == [
        "user",  # the customer's message
        "assistant",  # triage's transfer
        "tool",
        "assistant",  # refunds' refund call
        "tool",
        "assistant",  # the answer with the card number, rejected
        "user",
        "assistant",  # the answer
    ]
