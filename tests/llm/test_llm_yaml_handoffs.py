"""``llm:`` actions in YAML: handoffs by name, sessions, and input/output checks as python refs."""

from __future__ import annotations

from pathlib import Path

import pytest

from weft.protocols import DefinitionError
from weft.runtime import run_workflow
from weft.runtime.engine.compiler import compile_workflow
from weft.testing import OpenAIServer, ScriptedModel, text, tool_call

CHECKS = '''
def no_digits(answer):
    """An output check: answers with digits are rejected."""
    return "it has digits" if any(c.isdigit() for c in str(answer)) else None

NOT_A_CHECK = 3
'''

WORKFLOW = """\
name: support
actions:
  triage:
    llm:
      instructions: "Route the customer."
      handoffs: [{handoffs}]
{extra}  refunds:
    llm:
      instructions: "You handle refunds."
      output_checks: ["{check}"]
    description: "Refunds orders."
nodes:
  answer:
    action: triage
    with: {{task: "Refund order A1", conversation_id: "ada"}}
"""


def write(folder: Path, *, handoffs: str = "refunds", extra: str = "", check: str = "") -> Path:
    module = f"yaml_checks_{folder.name.replace('-', '_')}"
    (folder / f"{module}.py").write_text(CHECKS)
    path = folder / "support.yaml"
    session = "      session: {path: conversations.db, max_turns: 5}\n"
    path.write_text(
        WORKFLOW.format(
            handoffs=handoffs, extra=session + extra, check=check or f"{module}:no_digits"
        )
    )
    return path


def line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


async def test_a_yaml_handoff_by_name_goes_on_in_that_llm_action(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path)
    model = ScriptedModel(
        [
            tool_call("transfer_to_refunds", {"reason": "refund"}),
            text("Refund 1 done."),  # rejected by the output check: it has digits
            text("Your refund is done."),
        ]
    )
    async with OpenAIServer(model) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("WEFT_MODEL", "m")
        result = await run_workflow(path, record=False)
    assert result.outputs == {"answer": "Your refund is done."}
    assert result.nodes["answer"].agent == "refunds"
    assert model.requests[1].system == "You handle refunds."
    assert (tmp_path / "conversations.db").exists()  # the session, next to the file
    model.assert_complete()


def test_an_unknown_handoff_is_an_error_at_its_line_with_a_suggestion(tmp_path: Path) -> None:
    path = write(tmp_path, handoffs="refund")
    with pytest.raises(DefinitionError) as caught:
        compile_workflow(path)
    message = str(caught.value)
    assert f"{path}:{line_of(path, 'handoffs:')}:" in message
    assert "actions.triage.llm.handoffs[0]" in message
    assert "handoff 'refund' is no action of this workflow (did you mean 'refunds'?" in message


def test_a_check_that_does_not_import_is_an_error_at_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, check="no_such_module_here:check")
    with pytest.raises(DefinitionError) as caught:
        compile_workflow(path)
    message = str(caught.value)
    assert f"{path}:{line_of(path, 'output_checks:')}:" in message
    assert "no_such_module_here" in message


def test_a_check_that_is_no_function_is_an_error_naming_it(tmp_path: Path) -> None:
    module = f"yaml_checks_{tmp_path.name.replace('-', '_')}"
    path = write(tmp_path, check=f"{module}:NOT_A_CHECK")
    with pytest.raises(DefinitionError) as caught:
        compile_workflow(path)
    message = str(caught.value)
    assert f"{path}:{line_of(path, 'output_checks:')}:" in message
    assert "action 'refunds': output_checks[0]: 3 is not a function" in message


def test_a_check_that_is_no_module_function_ref_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, check="just_a_name")
    with pytest.raises(DefinitionError, match="a check is a 'module:function' reference"):
        compile_workflow(path)


@pytest.mark.parametrize("choice", ["transfer_to_refunds", "required"])
async def test_tool_choice_may_force_a_handoff_of_an_agent_without_tools(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, choice: str
) -> None:
    """A small model must be told to hand off; the file was refused: ``'required' makes the
    model call a tool, but the agent has no 'tools'``, and a transfer was no tool's name."""
    path = write(tmp_path, extra=f"      tool_choice: {choice}\n")
    model = ScriptedModel([tool_call("transfer_to_refunds", {}), text("Your refund is done.")])
    async with OpenAIServer(model) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("WEFT_MODEL", "m")
        result = await run_workflow(path, record=False)
    assert result.nodes["answer"].agent == "refunds"
    sent = model.requests[0].body["tool_choice"]
    if choice == "required":
        assert sent == "required"
    else:
        assert sent == {"type": "function", "function": {"name": "transfer_to_refunds"}}


def test_tool_choice_naming_a_transfer_to_no_handoff_is_an_error_at_its_line(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, extra="      tool_choice: transfer_to_refund\n")
    with pytest.raises(DefinitionError) as caught:
        compile_workflow(path)
    message = str(caught.value)
    assert f"{path}:{line_of(path, 'tool_choice:')}:" in message
    assert "did you mean 'transfer_to_refunds'?" in message


def test_a_conversation_id_for_an_agent_without_a_session_says_to_give_it_one(
    tmp_path: Path,
) -> None:
    path = tmp_path / "no-session.yaml"
    path.write_text(
        "name: nosession\nactions:\n  triage:\n    llm: {instructions: Route.}\n"
        "nodes:\n  answer:\n    action: triage\n"
        "    with: {task: Refund A1, conversation_id: ada}\n"
    )
    with pytest.raises(DefinitionError) as raised:
        compile_workflow(path)
    message = str(raised.value)
    assert "has no parameter 'conversation_id'" in message
    assert "YAML 'session:'" in message
