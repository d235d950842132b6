"""``weft ask --agents crew.yaml``: a workflow file's ``actions:`` as the team to plan with.

A CrewAI user's agents, written as ``llm:`` actions with skills and a
``python:`` tool, are planned over and routed to by their cards; the answer
may be the last task's output (``--aggregator last``), and ``weft resume``
finds the same agents again from another folder. The real ``openai`` client
talks to ``OpenAIServer``.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from weft.cli import cli
from weft.runtime.engine.journal import Journal
from weft.testing import FunctionModel, ModelRequest, OpenAIServer, Reply, json_output, text

CREW = """\
name: research-crew
inputs:
  topic: {type: string, default: "AI agents"}
actions:
  web_search: {python: "crew_search_tools:web_search", description: "Search the web for articles."}
  researcher:
    llm:
      instructions: "You are the researcher."
      tools: [web_search]
      skills: [web research, finding facts]
    description: "Researches a topic and lists the facts."
  writer:
    llm:
      instructions: "You are the writer."
      skills: [writing blog posts]
    description: "Writes blog posts from research notes."
  editor:
    llm:
      instructions: "You are the editor."
      skills: [editing and proofreading posts]
    description: "Edits and polishes a draft post."
nodes:
  research: {action: researcher, with: {task: "Research ${inputs.topic}"}}
outputs:
  facts: ${research}
"""

TOOLS = '''
def web_search(query: str) -> str:
    """Search the web for articles."""
    return "articles on " + query
'''

PLAN = {
    "subtasks": [
        {
            "id": "research",
            "description": "Research AI agents and list the facts",
            "capability": "web research",
            "depends_on": [],
            "expected_output": "",
        },
        {
            "id": "write",
            "description": "Write a blog post about AI agents from the research",
            "capability": "writing blog posts",
            "depends_on": ["research"],
            "expected_output": "",
        },
        {
            "id": "edit",
            "description": "Edit and proofread the blog post",
            "capability": "editing and proofreading posts",
            "depends_on": ["write"],
            "expected_output": "",
        },
    ]
}

#: What each agent answers, by the start of its instructions.
SAYS = {
    "You are the researcher": "FACTS: agents plan and act.",
    "You are the writer": "DRAFT: a post about agents.",
    "You are the editor": "FINAL: the polished post.",
}


def crew_model() -> FunctionModel:
    """The planner gets ``PLAN``; each agent says its line (100 tokens each)."""

    def reply(request: ModelRequest) -> Reply:
        for start, line in SAYS.items():
            if request.system.startswith(start):
                return text(line, usage=(80, 20))
        return json_output(PLAN, usage=(10, 10))

    return FunctionModel(reply)


@pytest.fixture
def crew(tmp_path: Path) -> Path:
    folder = tmp_path / "crew"
    folder.mkdir()
    (folder / "crew.yaml").write_text(CREW)
    (folder / "crew_search_tools.py").write_text(textwrap.dedent(TOOLS))
    return folder / "crew.yaml"


def weft(tmp_path: Path, *args: str) -> Result:
    return CliRunner().invoke(
        cli,
        [*args, "--journal", str(tmp_path / "journal.db")],
        env={"WEFT_HOME": str(tmp_path), "WEFT_BROKER": None},
        catch_exceptions=False,
    )


def agents_asked(model: FunctionModel) -> list[str]:
    return [
        r.system.split(".")[0]
        for r in model.requests
        if not r.system.startswith("You are the planner")
    ]


def test_a_crew_yaml_is_planned_over_routed_by_skills_and_answers_with_the_last_task(
    tmp_path: Path, crew: Path
) -> None:
    model = crew_model()
    with OpenAIServer(model) as server:
        result = weft(
            tmp_path, "ask", "Write a blog post about AI agents", "--agents", str(crew),
            "--base-url", server.base_url, "--aggregator", "last", "--router", "capability",
            "--no-memory", "--json",
        )  # fmt: skip
    assert result.exit_code == 0, result.output
    answer: dict[str, Any] = json.loads(result.stdout)
    assert answer["routes"] == {"research": "researcher", "write": "writer", "edit": "editor"}
    assert answer["answer"] == "FINAL: the polished post."  # the editor's text, as it is
    assert answer["results"]["write"] == "DRAFT: a post about agents."
    # the planner read each agent's card: its description and its skills
    planner = next(r for r in model.requests if r.system.startswith("You are the planner"))
    for seen in ("Researches a topic and lists the facts", "finding facts", "writing blog posts"):
        assert seen in planner.system
    assert agents_asked(model) == [
        "You are the researcher",
        "You are the writer",
        "You are the editor",
    ]
    # the writer got the research as its context; the researcher was offered its tool
    writer = next(r for r in model.requests if r.system.startswith("You are the writer"))
    assert "FACTS: agents plan and act." in writer.last_user_text
    researcher = next(r for r in model.requests if r.system.startswith("You are the researcher"))
    assert [t["function"]["name"] for t in researcher.tools] == ["web_search"]


def test_yaml_and_python_agents_mix(tmp_path: Path, crew: Path) -> None:
    """A Python tool beside the YAML agents: the rule planner routes to either."""
    (tmp_path / "extra.py").write_text(
        textwrap.dedent(
            '''
            from weft import tool

            @tool
            def count_words(text: str) -> str:
                """Count the words of a text."""
                return f"{len(text.split())} words"

            agents = [count_words]
            '''
        )
    )
    result = weft(
        tmp_path, "ask", "Count the words of a text.", "--agents", str(crew),
        "--agents", str(tmp_path / "extra.py"), "--router", "lexical", "--no-memory", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["routes"] == {"s1": "count_words"}
    assert answer["answer"] == "6 words"


def test_a_mistake_in_the_yaml_is_reported_as_weft_run_reports_it(
    tmp_path: Path, crew: Path
) -> None:
    crew.write_text(CREW.replace("      skills: [writing blog posts]\n", "      role: Writer\n"))
    asked = weft(tmp_path, "ask", "Write a post", "--agents", str(crew), "--no-memory")
    ran = weft(tmp_path, "run", str(crew))
    assert asked.exit_code == ran.exit_code == 2, asked.output
    [line] = [x for x in asked.stderr.splitlines() if x.startswith("error:")]
    assert line == next(x for x in ran.stderr.splitlines() if x.startswith("error:"))
    assert f"{crew}:15:7" in line and "role" in line
    assert "Traceback" not in asked.output


def test_a_yaml_file_that_is_not_there_is_named(tmp_path: Path) -> None:
    result = weft(tmp_path, "ask", "Write a post", "--agents", "nowhere/crew.yml")
    assert result.exit_code == 2, result.output
    assert (
        result.stderr.strip() == "error: --agents nowhere/crew.yml: no such file nowhere/crew.yml"
    )


def test_an_ask_its_budget_stopped_is_resumed_with_the_same_yaml_agents_from_elsewhere(
    tmp_path: Path, crew: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Planner 20 + researcher 100 + writer 100 tokens pass 150: the editor never ran.
    The results paid for are printed with a note; ``weft resume`` from another folder
    loads crew.yaml (given relative) again and runs the editor alone."""
    model = crew_model()
    monkeypatch.chdir(crew.parent)
    with OpenAIServer(model) as server:
        stopped = weft(
            tmp_path, "ask", "Write a blog post about AI agents", "--agents", "crew.yaml",
            "--base-url", server.base_url, "--aggregator", "last", "--router", "capability",
            "--no-memory", "--max-tokens", "150",
        )  # fmt: skip
        assert stopped.exit_code == 1, stopped.output
        assert stopped.stdout == (
            "## Research AI agents and list the facts\n\nFACTS: agents plan and act.\n\n"
            "## Write a blog post about AI agents from the research\n\n"
            "DRAFT: a post about agents.\n"
        )
        assert "error: token budget exceeded: 220 > 150" in stopped.stderr
        assert "note: the budget stopped the ask after 2 of 3 subtask(s) finished" in stopped.stderr
        hint = stopped.stderr.split("resume with: ")[1]
        assert "--max-tokens N  (N: a larger budget for the whole ask; what finished" in hint
        run_id = hint.split()[2]

        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir()
        monkeypatch.chdir(elsewhere)
        done = weft(tmp_path, "resume", run_id, "--max-tokens", "1000", "--json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["answer"] == "FINAL: the polished post."
    # the researcher and the writer came from the journal: only the editor ran again
    assert agents_asked(model) == [
        "You are the researcher",
        "You are the writer",
        "You are the editor",
    ]
    journal = Journal(tmp_path / "journal.db")
    try:
        assert journal.get_run(run_id).state.value == "succeeded"
    finally:
        journal.close()


AGENTS_ONLY = """\
# the agents alone: no name, no nodes
actions:
  web_search: {python: "crew_search_tools:web_search", description: "Search the web for articles."}
  writer:
    llm:
      instructions: "You are the writer."
      skills: [writing blog posts]
    description: "Writes blog posts from research notes."
"""


def test_a_file_of_actions_alone_is_an_agents_file(tmp_path: Path, crew: Path) -> None:
    agents = crew.parent / "agents.yml"
    agents.write_text(AGENTS_ONLY)
    result = weft(
        tmp_path, "ask", "Search the web for articles.", "--agents", str(agents),
        "--router", "lexical", "--no-memory", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["routes"] == {"s1": "web_search"}
    assert answer["answer"] == "articles on Search the web for articles"


def test_a_mistake_in_an_agents_file_is_at_its_own_line(tmp_path: Path, crew: Path) -> None:
    agents = crew.parent / "agents.yaml"
    agents.write_text(AGENTS_ONLY.replace("skills: [writing blog posts]", "role: Writer"))
    result = weft(tmp_path, "ask", "Write a post", "--agents", str(agents), "--no-memory")
    assert result.exit_code == 2, result.output
    [line] = [x for x in result.stderr.splitlines() if x.startswith("error:")]
    assert line.startswith(f"error: {agents}:7:7, field 'actions.writer.llm.role'"), line
    assert "nodes" not in line and "Traceback" not in result.output
