"""The CrewAI ports in the docs run as written: yaml.md's chain and teams.md's team.

Both are YAML files of ``llm:`` agents, a user's plain ``def`` search tool and (for the
team) an ``llm:`` manager choosing speakers. They run here against the local scripted
server, as a user runs them with ``OPENAI_BASE_URL`` pointing at a model.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from weft.runtime.engine.runner import run_workflow
from weft.testing import FunctionModel, ModelRequest, OpenAIServer, tool_call
from weft.testing.steps import Step

DOCS = Path(__file__).resolve().parents[2] / "docs"

TOOLS = '''
def web_search(query: str) -> str:
    """Search the web (canned results)."""
    return f"results for {query}: framework A, framework B"
'''


def docs_block(page: str) -> str:
    """The YAML block of ``page``'s "Coming from CrewAI" section, as a user copies it."""
    section = (DOCS / page).read_text().split("## Coming from CrewAI", 1)[1]
    block = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert block is not None, f"{page}: no YAML block under 'Coming from CrewAI'"
    return block.group(1)


def crew(request: ModelRequest) -> Step | str:
    """Each role by its instructions; the researcher searches first; members answer JSON text."""
    system, asked = request.system, request.last_user_text
    if "Who should speak next?" in asked:
        said = asked.split("Conversation so far:")[-1]
        name = next((n for n in ("researcher", "writer") if f"- {n} (" not in said), "editor")
        return json.dumps({"name": name})
    if "Research Analyst" in system and not request.tool_results():
        return tool_call("web_search", {"query": "AI agents"})
    results = request.tool_results()
    said = results[0]["content"] if results else asked.split("Context:")[-1].strip()
    role = system.split(".")[0].removeprefix("You are ").lower()
    if "Answer with one JSON object" not in asked:
        return f"[{role}] {said}"
    act = "conclude" if "Editor" in system else "speak"
    return json.dumps({"act": act, "text": f"[{role}] {said}"})


@pytest.fixture
def model(monkeypatch: pytest.MonkeyPatch) -> Iterator[FunctionModel]:
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    monkeypatch.setenv("WEFT_MODEL", "m")
    sys.modules.pop("tools", None)  # the docs' module name: each test imports its own
    yield FunctionModel(crew)
    sys.modules.pop("tools", None)


async def test_the_crewai_chain_of_yaml_md_runs_research_write_edit_in_order(
    tmp_path: Path, model: FunctionModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "tools.py").write_text(TOOLS)
    (tmp_path / "crew.yaml").write_text(docs_block("yaml.md"))
    async with OpenAIServer(model) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        result = await run_workflow(tmp_path / "crew.yaml", {"topic": "AI agents"}, record=False)
    assert result.ok, result.error
    post = result.outputs["post"]
    assert post == (
        "[an editor] [a tech content writer] [a senior research analyst] "
        "results for AI agents: framework A, framework B"
    )
    assert "Expected output: 5 bullet points." in model.requests[0].last_user_text


async def test_the_crewai_team_of_teams_md_concludes_with_the_editor_in_the_managers_order(
    tmp_path: Path, model: FunctionModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "tools.py").write_text(TOOLS)
    (tmp_path / "team.yaml").write_text(docs_block("teams.md"))
    async with OpenAIServer(model) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        result = await run_workflow(tmp_path / "team.yaml", record=False)
    assert result.ok, result.error
    assert result.outputs["reason"] == "concluded"
    assert result.outputs["post"].startswith("[an editor] ")
    members = [r.system.split(".")[0] for r in model.requests if "manage" not in r.system]
    assert members == [
        "You are a Senior Research Analyst",  # its search
        "You are a Senior Research Analyst",
        "You are a Tech Content Writer",
        "You are an Editor",
    ]
