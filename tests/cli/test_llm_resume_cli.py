"""``weft resume --answer`` goes on where an LLM agent stopped, on both engines.

The agent's tool asked a person in the middle of a model turn whose other
tool call had finished. ``weft run`` stops ``needs_input``; ``weft resume``
with the answer makes only the call that asked, then asks the model for the
next turn: the finished refund is not made again, no model turn is asked
twice. Real ``openai`` client against the scripted local server.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from weft.cli import cli
from weft.testing import OpenAIServer, ScriptedModel, text, tool_calls

WORKFLOW = """
from pathlib import Path

import weft
from weft import ActionContext, tool
from weft.agents import LLMAgent

LOG = Path(__file__).with_name("refunds.log")


@tool
def refund(order: str, amount: int, ctx: ActionContext) -> str:
    \"\"\"Refund an order; a person approves refunds over 100.\"\"\"
    if amount > 100 and ctx.ask(f"Refund {amount} on {order}?", choices=["yes", "no"]) != "yes":
        return f"refund of {order} declined"
    with LOG.open("a") as f:
        f.write(order + "\\n")
    return f"refunded {order}"


support = LLMAgent("support", model="m", tools=[refund])
workflow = weft.Workflow("support")
workflow.node("agent", support, with_={"task": "Refund A1 (50) and B2 (500)."})
"""


def weft(tmp_path: Path, server: OpenAIServer, *args: str) -> Result:
    env = {"WEFT_HOME": str(tmp_path), "OPENAI_BASE_URL": server.base_url, "WEFT_BROKER": None}
    return CliRunner().invoke(cli, list(args), env=env)


@pytest.mark.parametrize("engine", ["weft", "langgraph"])
def test_resume_goes_on_from_the_tool_call_that_asked(tmp_path: Path, engine: str) -> None:
    path = tmp_path / f"support_{uuid.uuid4().hex[:8]}.py"
    path.write_text(WORKFLOW)
    model = ScriptedModel(
        [
            tool_calls(
                ("refund", {"order": "A1", "amount": 50}),
                ("refund", {"order": "B2", "amount": 500}),
            ),
            text("Refunded A1 and B2."),
        ]
    )
    with OpenAIServer(model) as server:
        ran = weft(tmp_path, server, "run", str(path), "--engine", engine)
        assert ran.exit_code == 1, ran.output
        assert "? agent: refund asks: Refund 500 on B2?" in ran.stdout
        run_id = next(
            line.split()[1] for line in ran.stdout.splitlines() if line.startswith("run ")
        )
        done = weft(
            tmp_path, server, "resume", run_id, "--engine", engine, "--json",
            "--answer", "agent=yes",
        )  # fmt: skip
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["outputs"] == {"agent": "Refunded A1 and B2."}
    assert (tmp_path / "refunds.log").read_text() == "A1\nB2\n"  # A1 once
    assert len(model.requests) == 2
