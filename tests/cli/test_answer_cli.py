"""``weft run`` stops at a person's question; ``weft resume --answer`` gives the answer.

The summary shows each question with the command that answers it; a bad
``--answer`` is a usage error naming what is wrong, and changes nothing.
Both engines take the answers (``--engine langgraph`` included), and an
action served by an agent process over MQTT asks and is answered the same
way: the answers travel in the call.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import textwrap
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from weft import ActionContext, tool
from weft.cli import cli
from weft.runtime.bus.mqtt.mqtt_bus import MqttBus
from weft.runtime.remote.agent_host import AgentHost
from weft.runtime.remote.card_signing import AgentKey

TOOLS = """
from weft import ActionContext, tool


@tool
def draft(order: str, log: str) -> str:
    with open(log, "a") as f:
        f.write("draft\\n")
    return f"refund $420 for {order}"


@tool
def approve(text: str, ctx: ActionContext) -> str:
    if ctx.ask(f"Approve the {text}?", choices=["yes", "no"]) != "yes":
        return "rejected"
    return f"approved {text}: {ctx.ask('A note for the customer?')}"
"""

WORKFLOW = """
name: refund
inputs:
  order: {type: string}
  log: {type: string}
actions:
  draft: {python: "refund_tools:draft"}
  approve: {python: "refund_tools:approve"}
nodes:
  draft: {action: draft, with: {order: "${inputs.order}", log: "${inputs.log}"}}
  approve: {action: approve, after: [draft], with: {text: "${draft}"}}
outputs:
  result: "${approve}"
"""


def weft(tmp_path: Path, *args: str) -> Result:
    return CliRunner().invoke(
        cli, list(args), env={"WEFT_HOME": str(tmp_path), "WEFT_BROKER": None}
    )


@pytest.fixture(autouse=True)
def _importable_tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))


def stopped_run(tmp_path: Path, *options: str) -> tuple[str, Result]:
    (tmp_path / "refund_tools.py").write_text(TOOLS)
    (tmp_path / "refund.yaml").write_text(WORKFLOW)
    ran = weft(
        tmp_path, "run", "refund.yaml", *options,
        "-i", "order=#7", "-i", f"log={tmp_path / 'calls.log'}",
    )  # fmt: skip
    assert ran.exit_code == 1, ran.output
    run_id = next(line.split()[1] for line in ran.stdout.splitlines() if line.startswith("run "))
    return run_id, ran


def test_the_summary_shows_the_question_and_how_to_answer_it(tmp_path: Path) -> None:
    run_id, ran = stopped_run(tmp_path)
    assert f"run {run_id} needs_input" in ran.stdout
    assert "? approve: Approve the refund $420 for #7?  (one of: yes, no)" in ran.stdout
    assert f"answer with: weft resume {run_id} --answer approve=yes" in ran.stdout


@pytest.mark.parametrize("engine", ["weft", "langgraph"])
def test_answers_given_to_resume_finish_the_run(tmp_path: Path, engine: str) -> None:
    run_id, _ = stopped_run(tmp_path)
    second = weft(tmp_path, "resume", run_id, "--engine", engine, "--answer", "approve=yes")
    assert second.exit_code == 1, second.output
    assert "? approve: A note for the customer?" in second.stdout
    assert "--answer approve=ANSWER" in second.stdout
    done = weft(
        tmp_path, "resume", run_id, "--engine", engine, "--json",
        "--answer", "approve=Sorry for the wait",
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    result = json.loads(done.stdout)
    assert result["outputs"] == {"result": "approved refund $420 for #7: Sorry for the wait"}
    assert (tmp_path / "calls.log").read_text() == "draft\n"  # never ran again


def test_the_json_result_carries_the_question(tmp_path: Path) -> None:
    (tmp_path / "refund_tools.py").write_text(TOOLS)
    (tmp_path / "refund.yaml").write_text(WORKFLOW)
    ran = weft(
        tmp_path, "run", "refund.yaml", "--json",
        "-i", "order=#9", "-i", f"log={tmp_path / 'calls.log'}",
    )  # fmt: skip
    assert ran.exit_code == 1
    result = json.loads(ran.stdout)
    assert result["state"] == "needs_input"
    assert result["nodes"]["approve"]["error"]["details"] == {
        "question": "Approve the refund $420 for #9?",
        "choices": ["yes", "no"],
        "index": 0,
    }


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        ("approve", "Invalid value for '--answer': 'approve' is not NODE=VALUE"),
        ("=yes", "Invalid value for '--answer': '=yes' is not NODE=VALUE"),
        ("approve=maybe", "'maybe' is not one of the choices: 'yes', 'no'"),
        ("aprove=yes", "'aprove' is not waiting for an answer (did you mean 'approve'?)"),
    ],
)
def test_a_bad_answer_is_refused_and_changes_nothing(
    tmp_path: Path, answer: str, says: str
) -> None:
    run_id, _ = stopped_run(tmp_path)
    refused = weft(tmp_path, "resume", run_id, "--answer", answer)
    assert refused.exit_code == 2
    assert says in refused.output
    assert "Traceback" not in refused.output
    later = weft(tmp_path, "resume", run_id, "--answer", "approve=no", "--json")
    assert json.loads(later.stdout)["outputs"] == {"result": "rejected"}


def test_a_node_answered_twice_is_a_usage_error(tmp_path: Path) -> None:
    refused = weft(tmp_path, "resume", "0123", "--answer", "a=1", "--answer", "a=2")
    assert refused.exit_code == 2
    assert "'a' is answered twice" in refused.output


@tool
def sign(contract: str, ctx: ActionContext) -> str:
    """Signs a contract once a person says who signs."""
    return f"{contract} signed by {ctx.ask(f'Who signs {contract}?')}"


async def weft_process(tmp_path: Path, *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "weft", *args, "--journal", str(tmp_path / "journal.db"),
        cwd=tmp_path,
        env={**os.environ, "WEFT_HOME": str(tmp_path)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_an_agent_process_asks_and_is_answered_over_mqtt(
    mqtt_broker_url: str, tmp_path: Path
) -> None:
    workflow = tmp_path / "contract.yaml"
    workflow.write_text(
        textwrap.dedent(
            """
            name: contract
            nodes:
              sign: {action: sign, with: {contract: "lease 12"}}
            outputs:
              signed: "${sign}"
            """
        )
    )
    namespace = f"answers-{uuid.uuid4().hex[:10]}"
    remote = ["--broker", mqtt_broker_url, "--namespace", namespace, "--wait-agents", "10"]
    async with (
        MqttBus(mqtt_broker_url, namespace=namespace) as bus,
        AgentHost(bus, [sign], key=AgentKey.load_or_create(tmp_path / "keys" / "agent.key")),
    ):
        code, out, err = await weft_process(tmp_path, "run", str(workflow), *remote)
        assert code == 1, err
        assert "? sign: Who signs lease 12?" in out
        # the hint carries what a later resume needs: the journal, broker and namespace
        hint = (
            f"--journal {tmp_path / 'journal.db'} --broker {mqtt_broker_url} "
            f"--namespace {namespace} --answer sign=ANSWER"
        )
        assert hint in out
        run_id = next(line.split()[1] for line in out.splitlines() if line.startswith("run "))
        code, out, err = await weft_process(
            tmp_path, "resume", run_id, "--answer", "sign=Ada Lovelace", "--json", *remote
        )
    assert code == 0, err
    assert json.loads(out)["outputs"] == {"signed": "lease 12 signed by Ada Lovelace"}


GATED = """
name: publish
actions:
  ask: {python: "weft.agents.human:ask"}
  publish: {python: "gate_tools:publish"}
nodes:
  approve:
    action: ask
    with: {question: "Publish the spring newsletter?", choices: ["yes", "no"]}
  publish:
    action: publish
    after: [{node: approve, when: "output == 'yes'"}]
    with: {title: spring newsletter}
"""

GATE_TOOLS = """
def publish(title: str) -> str:
    return f"published {title}"
"""


@pytest.mark.parametrize(("answer", "published"), [("yes", "succeeded"), ("no", "skipped")])
def test_a_yaml_workflow_gates_a_step_on_a_person(
    tmp_path: Path, answer: str, published: str
) -> None:
    (tmp_path / "gate_tools.py").write_text(GATE_TOOLS)
    (tmp_path / "gate.yaml").write_text(GATED)
    ran = weft(tmp_path, "run", "gate.yaml")
    assert ran.exit_code == 1, ran.output
    assert "? approve: Publish the spring newsletter?  (one of: yes, no)" in ran.stdout
    run_id = next(line.split()[1] for line in ran.stdout.splitlines() if line.startswith("run "))
    done = weft(tmp_path, "resume", run_id, "--answer", f"approve={answer}", "--json")
    assert done.exit_code == 0, done.output
    nodes = json.loads(done.stdout)["nodes"]
    assert nodes["approve"]["state"] == "succeeded"
    assert nodes["publish"]["state"] == published


def test_a_password_in_the_broker_url_is_not_repeated_in_the_hint() -> None:
    from weft.cli._resume_hint import without_password as _without_password

    assert _without_password("mqtt://ops:s3cret@host:1883") == "mqtt://ops:***@host:1883"
    assert _without_password("mqtts://host:8883?ca=ca.pem") == "mqtts://host:8883?ca=ca.pem"
