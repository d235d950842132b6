"""What a new user met trying today's features from a fresh clone.

Each case here went wrong before: the YAML example of docs/yaml.md ("Asking
a person") published the draft when the person answered "no"; a run stopped
for a person's answer showed the nodes below the question as ``(upstream
failed)`` and printed its outputs as ``None``; ``weft ask --router llm`` and
``--aggregator llm`` without a model did not name ``OPENAI_BASE_URL``, which
is enough; ``choices: yes`` for ``weft.agents.human:ask`` said the argument
"should be the parameter's schema" instead of what it takes; a ``foreach``
whose items asked showed "2 of 2 items failed" with the first question only
and ``--answer NODE=ANSWER`` as the command, and a wrong answer to a yes/no
question of ``true``/``false`` listed the choices as ``True, False``.
"""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from weft.cli import cli

DOCS = Path(__file__).resolve().parents[2] / "docs"

TOOLS = '''
from weft import tool


@tool
def draft(topic: str) -> str:
    """Draft a post."""
    return f"A post about {topic}."


@tool
def publish(text: str) -> str:
    """Publish it."""
    return f"published: {text}"
'''


def weft(tmp_path: Path, *args: str) -> Result:
    return CliRunner().invoke(
        cli,
        list(args),
        env={
            "WEFT_HOME": str(tmp_path),
            "WEFT_BROKER": None,
            "OPENAI_API_KEY": None,
            "OPENAI_BASE_URL": None,
        },
    )


def docs_gate_example() -> str:
    """The YAML block of docs/yaml.md's "Asking a person", as the user copies it."""
    text = (DOCS / "yaml.md").read_text()
    section = text.split("## Asking a person", 1)[1]
    block = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert block is not None
    return block.group(1)


def gate_workflow(tmp_path: Path) -> Path:
    """The docs' example completed with the tools it names (the writer drafts on rivers)."""
    (tmp_path / "gate_post.py").write_text(TOOLS)
    example = docs_gate_example()
    example = example.replace(
        'ask: {python: "weft.agents.human:ask"}',
        'ask: {python: "weft.agents.human:ask"}\n'
        '  writer: {python: "gate_post:draft"}\n'
        '  publish: {python: "gate_post:publish"}',
    ).replace("    action: writer\n", "    action: writer\n    with: {topic: rivers}\n")
    path = tmp_path / "gate.yaml"
    path.write_text(example)
    return path


def stopped_run(tmp_path: Path) -> str:
    ran = weft(tmp_path, "run", str(gate_workflow(tmp_path)))
    assert ran.exit_code == 1, ran.output
    return next(line.split()[1] for line in ran.stdout.splitlines() if line.startswith("run "))


@pytest.mark.parametrize(("answer", "published"), [("yes", "succeeded"), ("no", "skipped")])
def test_the_docs_gate_example_publishes_only_on_yes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, answer: str, published: str
) -> None:
    monkeypatch.chdir(tmp_path)
    run_id = stopped_run(tmp_path)
    done = weft(tmp_path, "resume", run_id, "--answer", f"approve={answer}", "--json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["nodes"]["publish"]["state"] == published


def test_a_node_below_a_question_is_shown_waiting_not_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "gate_post.py").write_text(TOOLS)
    (tmp_path / "wait.yaml").write_text(
        textwrap.dedent(
            """
            name: wait
            actions:
              ask: {python: "weft.agents.human:ask"}
              publish: {python: "gate_post:publish"}
            nodes:
              approve: {action: ask, with: {question: "Publish?", choices: ["yes", "no"]}}
              publish: {action: publish, after: approve, with: {text: "${approve}"}}
            outputs:
              result: ${publish}
            """
        )
    )
    ran = weft(tmp_path, "run", "wait.yaml")
    assert ran.exit_code == 1, ran.output
    line = next(x for x in ran.stdout.splitlines() if x.strip().startswith("- publish"))
    assert "upstream failed" not in line
    assert "waiting for an answer upstream" in line
    assert "result: None" not in ran.stdout


@pytest.mark.parametrize("option", ["--router", "--aggregator"])
def test_an_llm_option_without_a_model_names_every_way_to_give_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, option: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "gate_post.py").write_text(TOOLS)
    asked = weft(
        tmp_path, "ask", "Publish a post", "--agents", "gate_post.py:publish", option, "llm"
    )
    assert asked.exit_code == 2, asked.output
    assert f"{option} llm needs a model: set OPENAI_API_KEY, OPENAI_BASE_URL or --base-url" in (
        asked.output
    )


def test_a_wrong_argument_of_an_optional_list_says_what_it_takes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "asks.yaml").write_text(
        textwrap.dedent(
            """
            name: asks
            actions:
              ask: {python: "weft.agents.human:ask"}
            nodes:
              approve:
                action: ask
                with: {question: "Publish?", choices: yes}
            """
        )
    )
    checked = weft(tmp_path, "validate", "asks.yaml")
    assert checked.exit_code == 2, checked.output
    assert (
        "asks.yaml:8:34, node 'approve', field 'with.choices': argument 'choices' of action "
        "'ask' should be array or null, got bool True"
    ) in checked.output


FOREACH = """
name: checks
inputs:
  items: {type: array, default: ["a", "b"]}
actions:
  ask: {python: "weft.agents.human:ask"}
nodes:
  check:
    action: ask
    foreach: ${inputs.items}
    with: {question: "OK ${item}?", choices: [true, false]}
"""


def test_each_question_of_a_foreach_is_shown_with_its_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "checks.yaml").write_text(FOREACH)
    ran = weft(tmp_path, "run", "checks.yaml")
    assert ran.exit_code == 1, ran.output
    assert "  ? check[0]: OK a?  (one of: true, false)" in ran.stdout
    assert "  ? check[1]: OK b?  (one of: true, false)" in ran.stdout
    assert "items failed" not in ran.stdout
    run_id = next(line.split()[1] for line in ran.stdout.splitlines() if line.startswith("run "))
    assert f"answer with: weft resume {run_id} --answer 'check[0]=true'" in ran.stdout

    wrong = weft(tmp_path, "resume", run_id, "--answer", "check[0]=maybe")
    assert wrong.exit_code == 2, wrong.output
    assert "'maybe' is not one of the choices: true, false" in wrong.output
