"""An endpoint that is no http(s) URL is said to be wrong where it is given.

The ``openai`` client takes any text as its base URL, so ``localhost:8765/v1``
failed only after every retry of every model call, as ``Connection error.``,
which does not say the URL is the mistake.
"""

from __future__ import annotations

from pathlib import Path

import pydantic
import pytest
from click.testing import CliRunner

from weft import Workflow
from weft.agents import LLMAgent
from weft.cli import cli
from weft.protocols import NodeState
from weft.runtime import run_workflow
from weft.testing import OpenAIServer, ScriptedModel, text

TOOLS = "import weft\n\n@weft.tool\ndef echo(text: str) -> str:\n    return text\n"


@pytest.mark.parametrize("command", ["ask", "route"])
def test_a_base_url_flag_without_a_scheme_is_a_usage_error(command: str, tmp_path: Path) -> None:
    (tmp_path / "endpoint_tools.py").write_text(TOOLS)
    args = {
        "ask": ["ask", "Say hi", "--agents", str(tmp_path / "endpoint_tools.py"), "--no-memory"],
        "route": ["route", "Say hi", "--agents", str(tmp_path / "endpoint_tools.py"), "--llm"],
    }[command]
    result = CliRunner().invoke(
        cli, [*args, "--base-url", "localhost:8765/v1"], env={"WEFT_HOME": str(tmp_path)}
    )
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--base-url': must be an http(s):// URL" in result.output
    assert "'localhost:8765/v1'" in result.output and "Traceback" not in result.output


async def test_an_openai_base_url_without_a_scheme_fails_the_call_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "localhost:8765/v1")
    workflow = Workflow("one")
    workflow.node("draft", LLMAgent("writer"), with_={"task": "write"})
    result = await run_workflow(workflow, record=False)
    outcome = result.nodes["draft"]
    assert outcome.state is NodeState.FAILED and outcome.error is not None
    assert outcome.error.type == "ModelNotConfigured"
    assert outcome.error.message == (
        "writer: OPENAI_BASE_URL must be an http(s):// URL such as "
        "http://127.0.0.1:8765/v1, not 'localhost:8765/v1'"
    )


async def test_an_agent_with_its_own_endpoint_is_not_failed_by_a_bad_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "localhost:8765/v1")
    async with OpenAIServer(ScriptedModel([text("done")])) as server:
        workflow = Workflow("one")
        agent = LLMAgent("writer", base_url=server.base_url)
        workflow.node("draft", agent, with_={"task": "write"})
        result = await run_workflow(workflow, record=False)
    assert result.nodes["draft"].output == "done"


def test_an_agent_given_an_endpoint_without_a_scheme_is_refused_when_made() -> None:
    with pytest.raises(pydantic.ValidationError, match=r"base_url must be an http\(s\):// URL"):
        LLMAgent("writer", base_url="127.0.0.1:8765/v1")
