"""``weft ask`` streams its agents' text as ``weft run --stream`` does: the subtasks'
LLM agents and the aggregator's answer, as they are generated; ``--json`` stays pure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from weft.cli import cli
from weft.cli._ask_display import AskProgress
from weft.protocols import EventKind, RunEvent
from weft.protocols.streaming import delta_data
from weft.testing import OpenAIServer, ScriptedModel, json_output, text

AGENTS = """
from weft.agents import LLMAgent

agents = [LLMAgent("writer", instructions="You write.", skills=["writing poems"])]
"""

PLAN = {
    "subtasks": [
        {
            "id": "s1",
            "description": "Write a poem about rivers",
            "capability": "writing poems",
            "depends_on": [],
            "expected_output": "",
        }
    ]
}
DRAFT = "Rivers run\nto the sea."
FINAL = "The answer: rivers run to the sea."


def ask(tmp_path: Path, server: OpenAIServer, *options: str) -> Result:
    agents = tmp_path / "team.py"
    agents.write_text(AGENTS)
    argv = ["ask", "A poem about rivers", "--agents", str(agents), "--no-memory"]
    argv += ["--aggregator", "llm"]  # the answer node streams too
    argv += ["--base-url", server.base_url, "--journal", str(tmp_path / "journal.db"), *options]
    return CliRunner().invoke(cli, argv, env={"WEFT_HOME": str(tmp_path)})


def model() -> ScriptedModel:
    """The planner's plan, the writer's draft, the aggregator's answer."""
    return ScriptedModel([json_output(PLAN), text(DRAFT), text(FINAL)])


def test_stream_prints_the_agents_text_and_the_answer_as_they_come(tmp_path: Path) -> None:
    scripted = model()
    with OpenAIServer(scripted) as server:
        result = ask(tmp_path, server, "--stream")
    assert result.exit_code == 0, result.output
    streamed, answer = result.stdout.rsplit("\n", 2)[0], result.stdout.rsplit("\n", 2)[1]
    assert streamed == f"[s1]\n{DRAFT}\n[answer]\n{FINAL}"
    assert answer == FINAL  # the answer is still printed whole, last
    planner, writer, aggregator = (r.body.get("stream") for r in scripted.requests)
    assert (planner, writer, aggregator) == (None, True, True)


def test_no_stream_and_a_pipe_print_only_the_answer(tmp_path: Path) -> None:
    for options in [("--no-stream",), ()]:
        scripted = model()
        with OpenAIServer(scripted) as server:
            result = ask(tmp_path, server, *options)
        assert result.exit_code == 0, result.output
        assert result.stdout == f"{FINAL}\n"
        assert not any(r.body.get("stream") for r in scripted.requests)


def test_stream_with_json_is_refused(tmp_path: Path) -> None:
    with OpenAIServer(ScriptedModel()) as server:
        result = ask(tmp_path, server, "--stream", "--json")
    assert result.exit_code == 2
    assert "--stream" in result.output and "--json" in result.output


def test_json_streams_nothing(tmp_path: Path) -> None:
    scripted = model()
    with OpenAIServer(scripted) as server:
        result = ask(tmp_path, server, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["answer"] == FINAL
    assert not any(r.body.get("stream") for r in scripted.requests)


def piece(node: str, text: str) -> RunEvent:
    return RunEvent(
        run_id="r", kind=EventKind.PROGRESS, at=0.0, node=node, key=node,
        data={"message": "", "fraction": None, **delta_data(text)},
    )  # fmt: skip


def test_the_live_panel_prints_whole_lines_above_it_and_shows_the_line_being_written(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with AskProgress(live=True, text=True) as progress:
        progress.on_event(
            RunEvent(run_id="r", kind=EventKind.NODE_STARTED, at=0.0, node="s1", key="s1")
        )
        progress.on_event(piece("s1", "Rivers run\nto the"))
        assert progress.text is not None and progress.text.partial == {"s1": "to the"}
        progress.on_event(piece("s1", " sea."))
        progress.on_event(
            RunEvent(
                run_id="r",
                kind=EventKind.NODE_FINISHED,
                at=0.0,
                node="s1",
                key="s1",
                state="succeeded",
            )
        )
    shown = capsys.readouterr().err
    assert "── s1 ──" in shown and "Rivers run" in shown and "to the sea." in shown
    assert progress.rows["s1"].note == ""  # text pieces are not progress messages


ASKING_AGENTS = """
from weft.agents import LLMAgent


def approve(topic: str, ctx) -> str:
    \"\"\"Ask a person whether the topic is fine.\"\"\"
    return "approved" if ctx.ask(f"Write about {topic}?") == "yes" else "refused"


agents = [
    LLMAgent("writer", instructions="You write.", skills=["writing poems"], tools=[approve])
]
"""


def test_a_resumed_ask_streams_as_the_ask_did(tmp_path: Path) -> None:
    """``weft resume --stream`` of an ask shows the agents' text and the answer as they
    come, as ``weft ask --stream`` does (it printed only the answer)."""
    from weft.testing import tool_calls
    from weft.testing.steps import ToolCall

    (tmp_path / "team.py").write_text(ASKING_AGENTS)
    scripted = ScriptedModel(
        [
            json_output(PLAN),
            tool_calls(ToolCall("approve", {"topic": "rivers"}, id="c1")),
            text(DRAFT),
            text(FINAL),
        ]
    )
    journal = str(tmp_path / "journal.db")
    env = {"WEFT_HOME": str(tmp_path)}
    with OpenAIServer(scripted) as server:
        argv = ["ask", "A poem about rivers", "--agents", str(tmp_path / "team.py")]
        argv += ["--aggregator", "llm"]
        argv += ["--no-memory", "--base-url", server.base_url, "--journal", journal, "--json"]
        asked = CliRunner().invoke(cli, argv, env=env)
        assert asked.exit_code == 1, asked.output
        run_id = json.loads(asked.stdout)["run_id"]
        resumed = CliRunner().invoke(
            cli,
            ["resume", run_id, "--answer", "s1=yes", "--journal", journal, "--stream"],
            env={**env, "OPENAI_BASE_URL": server.base_url},
        )
    assert resumed.exit_code == 0, resumed.output
    assert f"[s1]\n{DRAFT}\n[answer]\n{FINAL}" in resumed.stdout
    assert resumed.stdout.rstrip().endswith(FINAL)
