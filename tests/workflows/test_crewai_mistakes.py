"""What a user porting a CrewAI crew writes first, and the error that says where it goes in weft.

CrewAI's agents.yaml gives an agent a role, goal and backstory, and its tasks.yaml gives a
task an agent, a description, an expected output and a context of earlier tasks. Each is an
unknown field in weft, and "unknown field" alone does not say what to write instead.
"""

from __future__ import annotations

import pytest

from weft.agents import tool
from weft.protocols import ActionSpec, DefinitionError
from weft.workflows import loads_workflow, validate

CREW = """\
name: crew
actions:
  researcher:
    llm:
      instructions: "You research."
      {persona}: "Senior Research Analyst"
nodes:
  research:
    action: researcher
    with: {{task: "Research agents"}}
"""


@pytest.mark.parametrize("persona", ["role", "goal", "backstory"])
def test_a_crewai_persona_field_says_it_belongs_in_instructions(persona: str) -> None:
    with pytest.raises(DefinitionError) as info:
        loads_workflow(CREW.format(persona=persona), file="crew.yaml")
    [(message, where)] = info.value.problems
    assert f"unknown field '{persona}': CrewAI's role, goal and backstory are written in " in (
        message
    )
    assert "'instructions', the system prompt" in message
    assert where.line == 6


def test_a_crewai_persona_field_beside_llm_says_it_goes_in_the_llm_instructions() -> None:
    text = CREW.format(persona="goal").replace("      goal:", "    role:")
    with pytest.raises(DefinitionError) as info:
        loads_workflow(text, file="crew.yaml")
    [(message, _)] = info.value.problems
    assert "unknown field 'role': an agent's CrewAI role, goal and backstory go in llm: " in (
        message
    )


TASK = """\
name: crew
nodes:
  research:
    action: researcher
    {field}
"""


@pytest.mark.parametrize(
    "field,says",
    [
        ("agent: researcher", "a node names the agent (or tool) it calls in 'action'"),
        ("expected_output: five bullets", "in the agent's task text (with: {task: ...})"),
        ("context: [outline]", "a node reads earlier nodes through 'after' and ${NODE} in 'with'"),
        ("tools: [web_search]", "list them under its llm: 'tools'"),
    ],
)
def test_a_crewai_task_field_on_a_node_says_what_weft_does_instead(field: str, says: str) -> None:
    with pytest.raises(DefinitionError) as info:
        loads_workflow(TASK.format(field=field), file="crew.yaml")
    [(message, where)] = info.value.problems
    assert message.startswith(f"unknown field '{field.split(':')[0]}': "), message
    assert says in message
    assert "; allowed: action, capability" in message
    assert (where.line, where.node) == (5, "research")


def test_a_field_no_other_framework_has_is_reported_as_before() -> None:
    with pytest.raises(DefinitionError) as info:
        loads_workflow(TASK.format(field="colour: blue"), file="crew.yaml")
    [(message, _)] = info.value.problems
    assert message.startswith("unknown field 'colour'; allowed: action, capability")


@tool
def writer(task: str, context: str = "") -> str:
    """Write what the task asks."""
    return task


def test_a_task_written_only_as_the_node_description_says_the_description_is_not_sent() -> None:
    text = (
        "name: crew\nnodes:\n  write:\n    action: writer\n"
        "    description: Write a blog post about AI agents\n"
    )
    actions = {"writer": writer.spec}
    with pytest.raises(DefinitionError) as info:
        validate(loads_workflow(text, file="crew.yaml"), actions)
    [(message, _)] = info.value.problems
    assert message == (
        "action 'writer' is missing required argument(s): task; the node's 'description' "
        "documents it and is not sent: give the task in 'with' "
        '(with: {task: "Write a blog post about AI agents"})'
    )


def test_a_missing_task_without_a_description_is_reported_as_before() -> None:
    text = "name: crew\nnodes:\n  write:\n    action: writer\n"
    actions: dict[str, ActionSpec] = {"writer": writer.spec}
    with pytest.raises(DefinitionError) as info:
        validate(loads_workflow(text, file="crew.yaml"), actions)
    [(message, _)] = info.value.problems
    assert message == "action 'writer' is missing required argument(s): task"
