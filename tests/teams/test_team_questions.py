"""A team member that asks a person stops the team ``needs_input``; resuming answers it.

The team's call carries the member's question; the conversation stops there
(no further turns) and the run ends ``needs_input`` at the team's node.
``weft resume --answer TEAM_NODE=VALUE`` holds the conversation again from
its start, and every member call that asks gets the answers in the order
the questions were asked in the conversation, whoever asked them. Members
are plain ``def`` (worker threads) and ``async def`` functions, named in
YAML or given as objects in Python, and agents served by another process.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from weft import ActionContext, RunState, WeftError, Workflow, tool
from weft.cli import cli
from weft.protocols import NodeState
from weft.protocols.human_input import question_of
from weft.runtime import Journal, resume_run, run_workflow
from weft.runtime.bus.inprocess import InProcessBroker, InProcessBus
from weft.runtime.remote.agent_host import AgentHost
from weft.runtime.remote.live_registry import LiveRegistry
from weft.runtime.teams import Cluster, Team

MEMBERS = """
from typing import Any

from weft import ActionContext, tool


def _log(context: dict[str, Any], line: str) -> None:
    with open("turns.log", "a") as f:
        f.write(line + "\\n")


@tool
async def bob(task: str, context: dict[str, Any]) -> Any:
    _log(context, f"bob {context['turn']}")
    return {"act": "speak", "text": "I drafted the plan", "to": "alice"}


@tool
def alice(task: str, context: dict[str, Any], ctx: ActionContext) -> Any:
    _log(context, f"alice {context['turn']}")
    verdict = ctx.ask("Ship the plan?", choices=["ship", "hold"])
    return {"act": "conclude", "text": f"the plan: {verdict}"}
"""

WORKFLOW = """
name: shipping
actions:
  team: {python: "weft.runtime.teams:team_action"}
  alice: {python: "team_members:alice"}
  bob: {python: "team_members:bob"}
nodes:
  discuss:
    action: team
    with: {task: "decide on the plan", members: [bob, alice], max_turns: 6}
outputs:
  decision: "${discuss.conclusion}"
"""


def weft(tmp_path: Path, *args: str) -> Result:
    return CliRunner().invoke(
        cli, list(args), env={"WEFT_HOME": str(tmp_path), "WEFT_BROKER": None}
    )


@pytest.fixture
def yaml_team(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "team_members.py").write_text(MEMBERS)
    (tmp_path / "shipping.yaml").write_text(WORKFLOW)
    return tmp_path


def stopped(tmp_path: Path) -> tuple[str, Result]:
    ran = weft(tmp_path, "run", "shipping.yaml")
    assert ran.exit_code == 1, ran.output
    run_id = next(line.split()[1] for line in ran.stdout.splitlines() if line.startswith("run "))
    return run_id, ran


@pytest.mark.parametrize("engine", ["weft", "langgraph"])
def test_a_yaml_team_member_asks_and_the_resumed_team_concludes_with_the_answer(
    yaml_team: Path, engine: str
) -> None:
    run_id, ran = stopped(yaml_team)
    assert f"run {run_id} needs_input" in ran.stdout
    assert "? discuss: alice asks: Ship the plan?  (one of: ship, hold)" in ran.stdout
    assert f"answer with: weft resume {run_id} --answer discuss=ship" in ran.stdout
    # the conversation stopped at alice's question: nobody spoke after it
    assert (yaml_team / "turns.log").read_text().split("\n")[:-1] == ["bob 1", "alice 2"]

    done = weft(
        yaml_team, "resume", run_id, "--engine", engine, "--answer", "discuss=hold", "--json"
    )
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["outputs"] == {"decision": "the plan: hold"}
    # bob's turn, which asked nothing, was replayed from the saved state: only alice was called
    assert (yaml_team / "turns.log").read_text().split("\n")[:-1] == [
        "bob 1",
        "alice 2",
        "alice 2",
    ]


def test_an_answer_that_is_not_one_of_the_choices_is_refused_before_the_team_runs(
    yaml_team: Path,
) -> None:
    run_id, _ = stopped(yaml_team)
    refused = weft(yaml_team, "resume", run_id, "--answer", "discuss=maybe")
    assert refused.exit_code == 2
    assert "'maybe' is not one of the choices: 'ship', 'hold'" in refused.output
    assert "Traceback" not in refused.output
    assert (yaml_team / "turns.log").read_text().split("\n")[:-1] == ["bob 1", "alice 2"]
    done = weft(yaml_team, "resume", run_id, "--answer", "discuss=ship", "--json")
    assert json.loads(done.stdout)["outputs"] == {"decision": "the plan: ship"}


def two_askers(said: list[str]) -> Workflow:
    """alice (a plain def) asks on turn 1, bob (async) on turn 2; alice concludes on 3."""

    @tool
    def alice(task: str, context: dict[str, Any], ctx: ActionContext) -> Any:
        said.append(f"alice {context['turn']}")
        if context["turn"] == 1:
            budget = ctx.ask("What is the budget?")
            return {"act": "speak", "text": f"budget {budget}", "to": "bob"}
        return {"act": "conclude", "text": " / ".join(m["text"] for m in context["history"][1:])}

    @tool
    async def bob(task: str, context: dict[str, Any], ctx: ActionContext) -> Any:
        said.append(f"bob {context['turn']}")
        deadline = ctx.ask("Which deadline?", choices=["june", "july"])
        return {"act": "speak", "text": f"deadline {deadline}", "to": "alice"}

    wf = Workflow("plan")
    wf.node("discuss", Team("planners", [alice, bob], max_turns=6), with_={"task": "plan"})
    wf.output("plan", "${discuss.conclusion}")
    return wf


async def test_two_questions_from_two_members_are_answered_in_the_order_asked(
    tmp_path: Path,
) -> None:
    said: list[str] = []
    wf = two_askers(said)
    journal = Journal(tmp_path / "journal.db")

    first = await run_workflow(wf, journal=journal, tracer=False)
    assert first.state is RunState.NEEDS_INPUT
    node = first.nodes["discuss"]
    assert node.state is NodeState.NEEDS_INPUT
    assert question_of(node.error) == {
        "question": "alice asks: What is the budget?",
        "choices": None,
        "index": 0,
    }
    assert node.error is not None and node.error.details["member"] == "alice"
    assert said == ["alice 1"]  # no turn after the question

    second = await resume_run(
        first.run_id, journal=journal, definition=wf, answers={"discuss": "5k"}, tracer=False
    )
    assert second.state is RunState.NEEDS_INPUT
    assert question_of(second.nodes["discuss"].error) == {
        "question": "bob asks: Which deadline?",
        "choices": ["june", "july"],
        "index": 1,
    }

    done = await resume_run(
        first.run_id, journal=journal, definition=wf, answers={"discuss": "july"}, tracer=False
    )
    assert done.state is RunState.SUCCEEDED, done.error
    assert done.outputs == {"plan": "budget 5k / deadline july"}
    assert journal.answers(first.run_id) == {"discuss": ["5k", "july"]}


async def test_a_refused_answer_to_a_python_team_changes_nothing(tmp_path: Path) -> None:
    said: list[str] = []
    wf = two_askers(said)
    journal = Journal(tmp_path / "journal.db")
    first = await run_workflow(wf, journal=journal, tracer=False)
    await resume_run(
        first.run_id, journal=journal, definition=wf, answers={"discuss": "5k"}, tracer=False
    )
    ran = list(said)
    with pytest.raises(WeftError, match=r"'august' is not one of the choices: 'june', 'july'"):
        await resume_run(
            first.run_id, journal=journal, definition=wf, answers={"discuss": "august"}
        )
    assert said == ran  # nothing ran
    assert journal.answers(first.run_id) == {"discuss": ["5k"]}


async def test_tasks_that_ask_at_once_are_answered_in_the_order_they_were_assigned(
    tmp_path: Path,
) -> None:
    @tool
    def lead(task: str, context: dict[str, Any]) -> Any:
        if context["turn"] == 1:
            tasks = [
                {"id": "a", "to": "ann", "task": "pick a colour", "mode": "sync"},
                {"id": "b", "to": "ben", "task": "pick a size", "mode": "sync"},
            ]
            return {"act": "assign", "text": "go", "tasks": tasks}
        results = context["history"]
        picked = [m["output"] for m in results if m["type"] == "task_result"]
        return {"act": "conclude", "text": ", ".join(sorted(picked))}

    @tool
    def ann(task: str, context: dict[str, Any], ctx: ActionContext) -> Any:
        if context["mode"] != "task":
            return {"act": "speak", "text": "done", "to": "lead"}
        return f"colour {ctx.ask('Which colour?')}"

    @tool
    async def ben(task: str, context: dict[str, Any], ctx: ActionContext) -> Any:
        return f"size {ctx.ask('Which size?')}"

    wf = Workflow("shop")
    team = Team("shop", [lead, ann, ben], max_turns=4)
    wf.node("pick", team, with_={"task": "choose a shirt"})
    journal = Journal(tmp_path / "journal.db")
    first = await run_workflow(wf, journal=journal, tracer=False)
    assert question_of(first.nodes["pick"].error)["question"] == "ann asks: Which colour?"  # type: ignore[index]
    second = await resume_run(
        first.run_id, journal=journal, definition=wf, answers={"pick": "red"}, tracer=False
    )
    assert question_of(second.nodes["pick"].error)["question"] == "ben asks: Which size?"  # type: ignore[index]
    done = await resume_run(
        first.run_id, journal=journal, definition=wf, answers={"pick": "L"}, tracer=False
    )
    assert done.state is RunState.SUCCEEDED, done.nodes["pick"].error
    assert done.nodes["pick"].output["conclusion"] == "colour red, size L"


async def test_a_nested_team_whose_member_asks_stops_the_outer_team(tmp_path: Path) -> None:
    @tool
    async def bob(task: str, context: dict[str, Any], ctx: ActionContext) -> Any:
        return {"act": "conclude", "text": f"bob picks {ctx.ask('Which colour?')}"}

    @tool
    def carol(task: str, context: dict[str, Any]) -> Any:
        return {"act": "conclude", "text": f"carol heard: {context['history'][-1]['text']}"}

    inner = Team("inner", [bob], max_turns=2)
    wf = Workflow("nested")
    wf.node("outer", Team("outer", [inner, carol], max_turns=4), with_={"task": "paint"})
    journal = Journal(tmp_path / "journal.db")
    first = await run_workflow(wf, journal=journal, tracer=False)
    asked = question_of(first.nodes["outer"].error)
    assert asked is not None and asked["question"] == "inner asks: bob asks: Which colour?"
    done = await resume_run(
        first.run_id, journal=journal, definition=wf, answers={"outer": "teal"}, tracer=False
    )
    assert done.state is RunState.SUCCEEDED, done.nodes["outer"].error
    assert done.nodes["outer"].output["conclusion"] == "carol heard: bob picks teal"


async def test_a_remote_member_asks_and_gets_its_answer_in_the_call(tmp_path: Path) -> None:
    broker = InProcessBroker()

    @tool
    async def remote_judge(task: str, context: dict[str, Any], ctx: ActionContext) -> Any:
        return {"act": "conclude", "text": f"judged: {ctx.ask('Fair?', choices=[True, False])}"}

    async with (
        InProcessBus(broker) as host_bus,
        AgentHost(host_bus, [remote_judge], heartbeat_interval=0.1),
        InProcessBus(broker) as caller_bus,
        LiveRegistry(caller_bus) as registry,
    ):
        await registry.wait_for(["remote_judge"], 5)
        wf = Workflow("judging")
        team = Team("court", [registry.remote("remote_judge")], max_turns=3)
        wf.node("judge", team, with_={"task": "judge it"})
        journal = Journal(tmp_path / "journal.db")
        first = await run_workflow(wf, journal=journal, tracer=False)
        assert first.state is RunState.NEEDS_INPUT
        asked = question_of(first.nodes["judge"].error)
        assert asked == {
            "question": "remote_judge asks: Fair?",
            "choices": [True, False],
            "index": 0,
        }
        done = await resume_run(
            first.run_id, journal=journal, definition=wf, answers={"judge": False}, tracer=False
        )
    assert done.state is RunState.SUCCEEDED, done.error
    assert done.nodes["judge"].output["conclusion"] == "judged: False"


async def test_a_team_served_by_an_agent_answers_a_member_named_by_string(
    tmp_path: Path,
) -> None:
    from weft.runtime.teams import team_action

    broker = InProcessBroker()

    @tool
    def alice(task: str, context: dict[str, Any], ctx: ActionContext) -> Any:
        return {
            "act": "conclude",
            "text": f"the plan: {ctx.ask('Ship?', choices=['ship', 'hold'])}",
        }

    async with (
        InProcessBus(broker) as host_bus,
        AgentHost(host_bus, [team_action, alice], heartbeat_interval=0.1),
        InProcessBus(broker) as caller_bus,
        LiveRegistry(caller_bus) as registry,
    ):
        await registry.wait_for([team_action.spec.name], 5)
        wf = Workflow("served")
        wf.node(
            "discuss",
            registry.remote(team_action.spec.name),
            with_={"task": "decide", "members": ["alice"], "max_turns": 3},
        )
        journal = Journal(tmp_path / "journal.db")
        first = await run_workflow(wf, journal=journal, tracer=False)
        assert first.state is RunState.NEEDS_INPUT, first.nodes["discuss"].error
        asked = question_of(first.nodes["discuss"].error)
        assert asked is not None and asked["question"] == "alice asks: Ship?"
        done = await resume_run(
            first.run_id, journal=journal, definition=wf, answers={"discuss": "hold"}, tracer=False
        )
    assert done.state is RunState.SUCCEEDED, done.nodes["discuss"].error
    assert done.nodes["discuss"].output["conclusion"] == "the plan: hold"


async def test_a_cluster_member_that_asks_stops_the_cluster_and_the_answer_reaches_it(
    tmp_path: Path,
) -> None:
    """A FoA cluster stops after the round in which a member asked, then the synthesizer's
    question; both answers reach the member calls that asked, in order."""
    drafted: list[str] = []

    @tool
    def ada(task: str, context: dict[str, Any], ctx: ActionContext) -> Any:
        drafted.append(f"ada {context['mode']}")
        if context["mode"] == "refine":
            return f"ada's estimate in {ctx.ask('Which currency?', choices=['EUR', 'USD'])}"
        return "ada's draft"

    @tool
    async def ben(task: str, context: dict[str, Any], ctx: ActionContext) -> Any:
        drafted.append(f"ben {context['mode']}")
        if context["mode"] == "synthesize":
            tone = ctx.ask("Formal or casual?")
            return f"{tone}: " + " + ".join(str(o["output"]) for o in context["outputs"])
        return "ben's draft"

    wf = Workflow("estimate")
    cluster = Cluster("pricing", [ada, ben], rounds=1, synthesizer=ben)
    wf.node("price", cluster, with_={"task": "price the job"})
    journal = Journal(tmp_path / "journal.db")

    first = await run_workflow(wf, journal=journal, tracer=False)
    assert first.state is RunState.NEEDS_INPUT
    assert question_of(first.nodes["price"].error) == {
        "question": "ada asks: Which currency?",
        "choices": ["EUR", "USD"],
        "index": 0,
    }
    assert "synthesize" not in " ".join(drafted)  # no synthesis before the answer

    second = await resume_run(
        first.run_id, journal=journal, definition=wf, answers={"price": "EUR"}, tracer=False
    )
    assert question_of(second.nodes["price"].error)["question"] == "ben asks: Formal or casual?"  # type: ignore[index]

    done = await resume_run(
        first.run_id, journal=journal, definition=wf, answers={"price": "formal"}, tracer=False
    )
    assert done.state is RunState.SUCCEEDED, done.nodes["price"].error
    assert done.nodes["price"].output["synthesis"] == "formal: ada's estimate in EUR + ben's draft"
