"""``llm:`` actions: an LLM agent defined in the workflow YAML alone, no Python module.

The run goes through ``weft run`` in a subprocess and the real ``openai`` client
against the local scripted server; the mistakes a user can make in the
``llm:`` block are errors at their line naming the action and what is wrong.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from weft.protocols import DefinitionError
from weft.runtime.engine.compiler import compile_workflow
from weft.testing import OpenAIServer, ScriptedModel, text, tool_call

TOOLS = '''
def count_words(text: str) -> int:
    """Count the words of a text."""
    return len(text.split())
'''

WORKFLOW = """\
name: notes
inputs:
  topic: {{default: heat pumps}}
actions:
  count: {{python: "notes_tools:count_words"}}
  writer:
    llm:
      instructions: "You write short, clear notes."
{extra}      tools: [{tools}]
      temperature: 0.2
      max_turns: 4
    description: "Writes notes."
nodes:
  write:
    action: writer
    with: {{task: "Write a note about ${{inputs.topic}}"}}
"""


def write_workflow(folder: Path, *, tools: str = "count", extra: str = "") -> Path:
    (folder / "notes_tools.py").write_text(TOOLS)
    path = folder / "notes.yaml"
    path.write_text(WORKFLOW.format(tools=tools, extra=extra))
    return path


def weft(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "weft", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )


def line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def test_weft_run_runs_an_llm_action_that_calls_a_python_tool(tmp_path: Path) -> None:
    path = write_workflow(tmp_path)
    model = ScriptedModel(
        [tool_call("count", {"text": "heat pumps move heat"}), text("Heat pumps: 4 words.")]
    )
    with OpenAIServer(model) as server:
        done = weft(
            "run", str(path), "--json", env={"OPENAI_BASE_URL": server.base_url, "WEFT_MODEL": "m"}
        )
    assert done.returncode == 0, done.stderr
    assert "Heat pumps: 4 words." in done.stdout
    model.assert_complete()
    first, second = model.requests
    assert first.system == "You write short, clear notes."
    assert "heat pumps" in first.last_user_text
    assert [t["function"]["name"] for t in first.tools] == ["count"]
    assert first.body.get("temperature") == 0.2
    assert first.model == "m"
    assert second.last_message["role"] == "tool"
    assert json.loads(second.last_message["content"]) == 4


def test_a_misspelt_llm_field_names_file_line_action_and_field(tmp_path: Path) -> None:
    path = write_workflow(tmp_path, extra="      tempreature: 0.5\n")
    with pytest.raises(DefinitionError) as caught:
        compile_workflow(path)
    message = str(caught.value)
    assert f"{path}:{line_of(path, 'tempreature')}:" in message
    assert "action 'writer'" in message
    assert "unknown field 'tempreature'" in message
    assert "'temperature'" in message


def test_a_tool_naming_no_action_is_an_error_at_its_line_listing_the_known(
    tmp_path: Path,
) -> None:
    path = write_workflow(tmp_path, tools="count, summarise")
    with pytest.raises(DefinitionError) as caught:
        compile_workflow(path)
    message = str(caught.value)
    assert f"{path}:{line_of(path, '      tools:')}:" in message
    assert "action 'writer'" in message
    assert "'summarise'" in message
    assert "count" in message.split("summarise", 1)[1]


def test_an_unset_api_key_env_is_an_error_naming_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NOTES_KEY", raising=False)
    path = write_workflow(tmp_path, extra="      api_key_env: NOTES_KEY\n")
    with pytest.raises(DefinitionError) as caught:
        compile_workflow(path)
    message = str(caught.value)
    assert f"{path}:{line_of(path, 'api_key_env')}:" in message
    assert "NOTES_KEY is not set" in message


def test_the_api_key_env_key_is_sent_to_the_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_workflow(tmp_path, extra="      api_key_env: NOTES_KEY\n")
    model = ScriptedModel([text("A note.")])
    with OpenAIServer(model) as server:
        done = weft(
            "run",
            str(path),
            "--json",
            env={"OPENAI_BASE_URL": server.base_url, "NOTES_KEY": "sk-notes-123"},
        )
    assert done.returncode == 0, done.stderr
    assert model.requests[0].headers.get("authorization") == "Bearer sk-notes-123"


def test_weft_validate_checks_an_llm_action(tmp_path: Path) -> None:
    good = write_workflow(tmp_path)
    done = weft("validate", str(good), env={})
    assert done.returncode == 0, done.stderr
    assert "ok: workflow 'notes'" in done.stdout
    bad = write_workflow(tmp_path, tools="cout")
    done = weft("validate", str(bad), env={})
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert "'cout'" in done.stderr and "did you mean 'count'" in done.stderr


def test_a_tool_the_file_does_not_define_is_asked_of_the_broker_s_agents(tmp_path: Path) -> None:
    from weft.runtime.remote.distributed import unresolved_actions

    path = write_workflow(tmp_path, tools="count, translate, notes.search")
    text_ = path.read_text().replace("actions:\n", 'actions:\n  notes: {mcp: "notes-server"}\n')
    path.write_text(text_)
    assert unresolved_actions(path) == {"translate"}


NOTE_SCHEMA = """\
      output_schema:
        title: Note
        type: object
        properties:
          title: {type: string}
          words: {type: integer, minimum: 1}
        required: [title, words]
        additionalProperties: false
"""


def test_output_schema_answers_json_that_fits_and_a_misfit_is_re_asked_with_the_error(
    tmp_path: Path,
) -> None:
    path = write_workflow(tmp_path, tools="", extra=NOTE_SCHEMA + "      max_repairs: 1\n")
    model = ScriptedModel(
        [
            text('{"title": "Heat pumps", "words": "four"}'),
            text('{"title": "Heat pumps", "words": 4}'),
        ]
    )
    with OpenAIServer(model) as server:
        done = weft(
            "run", str(path), "--json", env={"OPENAI_BASE_URL": server.base_url, "WEFT_MODEL": "m"}
        )
    assert done.returncode == 0, done.stderr
    assert {"title": "Heat pumps", "words": 4} in json.loads(done.stdout)["outputs"].values()
    model.assert_complete()
    first, second = model.requests
    assert first.response_format is not None
    sent = first.response_format["json_schema"]
    assert sent["name"] == "Note"
    assert sent["schema"]["properties"]["words"]["type"] == "integer"
    repair = second.last_user_text
    assert "rejected" in repair and "words" in repair and "integer" in repair


def test_a_reply_that_never_fits_the_schema_fails_after_max_repairs(tmp_path: Path) -> None:
    path = write_workflow(tmp_path, tools="", extra=NOTE_SCHEMA + "      max_repairs: 0\n")
    model = ScriptedModel([text('{"title": "Heat pumps"}')])
    with OpenAIServer(model) as server:
        done = weft(
            "run", str(path), "--json", env={"OPENAI_BASE_URL": server.base_url, "WEFT_MODEL": "m"}
        )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert "InvalidOutput" in done.stdout + done.stderr
    assert "'words' is a required property" in done.stdout + done.stderr
    assert len(model.requests) == 1


def test_an_output_schema_that_is_no_json_schema_is_an_error_at_its_line(tmp_path: Path) -> None:
    bad = NOTE_SCHEMA.replace("{type: integer, minimum: 1}", "{type: integr}")
    path = write_workflow(tmp_path, tools="", extra=bad)
    with pytest.raises(DefinitionError) as caught:
        compile_workflow(path)
    message = str(caught.value)
    assert f"{path}:{line_of(path, 'words: {type: integr}')}:" in message
    assert "action 'writer'" in message
    assert "output_schema" in message and "'integr'" in message


def test_skills_and_description_make_the_agent_s_capability_card(tmp_path: Path) -> None:
    path = write_workflow(tmp_path, extra='      skills: ["write notes", "summarise"]\n')
    card = compile_workflow(path).registry.get("writer").spec.card
    assert card is not None
    assert card.skills == ["write notes", "summarise"]
    assert card.description == "Writes notes."


def test_tool_choice_naming_no_tool_of_the_agent_is_an_error_at_its_line(tmp_path: Path) -> None:
    path = write_workflow(tmp_path, extra="      tool_choice: cuont\n")
    with pytest.raises(DefinitionError) as caught:
        compile_workflow(path)
    message = str(caught.value)
    assert f"{path}:{line_of(path, 'tool_choice')}:" in message
    assert "action 'writer'" in message
    assert "'cuont'" in message and "did you mean 'count'" in message


def test_tool_choice_naming_a_tool_is_sent_on_the_first_turn(tmp_path: Path) -> None:
    path = write_workflow(tmp_path, extra="      tool_choice: count\n      stream: false\n")
    model = ScriptedModel([tool_call("count", {"text": "a b"}), text("2 words.")])
    with OpenAIServer(model) as server:
        done = weft(
            "run", str(path), "--json", env={"OPENAI_BASE_URL": server.base_url, "WEFT_MODEL": "m"}
        )
    assert done.returncode == 0, done.stderr
    first, second = model.requests
    assert first.body["tool_choice"] == {"type": "function", "function": {"name": "count"}}
    assert second.body["tool_choice"] == "auto"
    assert not first.body.get("stream")
