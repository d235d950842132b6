"""``validate``: references, conditions, reducers and actions, all reported together."""

from __future__ import annotations

from typing import Any

import pytest

from weft.agents import tool
from weft.protocols import ActionSpec, DefinitionError, WorkflowSpec
from weft.workflows import GraphPlan, loads_workflow, validate


@tool
def summarise(text: str, words: int = 50) -> str:
    """Shorten a text."""
    return text[:words]


@tool
def pair(left: str, right: str) -> str:
    return left + right


ACTIONS = {"summarise": summarise.spec, "pair": pair.spec, "t": ActionSpec(name="t")}


def workflow(nodes: dict[str, Any], **top: Any) -> WorkflowSpec:
    return WorkflowSpec.model_validate({"name": "v", "nodes": nodes, **top})


def problems(spec: WorkflowSpec, actions: dict[str, ActionSpec] | None = None) -> list[str]:
    with pytest.raises(DefinitionError) as info:
        validate(spec, actions)
    return [message for message, _ in info.value.problems]


def test_valid_workflow_returns_its_plan(rich_yaml: str) -> None:
    assert isinstance(validate(loads_workflow(rich_yaml)), GraphPlan)


def test_all_problems_are_reported_at_once() -> None:
    spec = workflow(
        {
            "a": {"action": "t", "after": ["ghost"], "with": {"x": "${nowhere}"}},
            "b": {"action": "t", "after": [{"node": "a", "when": "import os"}]},
        }
    )
    assert len(problems(spec)) == 3


def test_reference_to_a_direct_predecessor_is_allowed() -> None:
    validate(
        workflow(
            {
                "a": {"action": "t"},
                "b": {"action": "t", "after": ["a"], "with": {"x": "${a.field}"}},
            }
        )
    )


def test_reference_to_a_loop_predecessor_is_allowed() -> None:
    validate(
        workflow(
            {
                "a": {
                    "action": "t",
                    "after": [{"node": "b", "max_iterations": 2}],
                    "with": {"fb": "${b}"},
                },
                "b": {"action": "t", "after": ["a"]},
            }
        )
    )


def test_reference_to_an_indirect_ancestor_is_refused() -> None:
    spec = workflow(
        {
            "a": {"action": "t"},
            "b": {"action": "t", "after": ["a"]},
            "c": {"action": "t", "after": ["b"], "with": {"x": "${a}"}},
        }
    )
    assert problems(spec) == [
        "'${a}': node 'a' is not a direct predecessor of 'c' "
        "(data flows only along edges; add 'a' to its 'after')"
    ]


def test_item_and_index_need_foreach() -> None:
    spec = workflow({"a": {"action": "t", "with": {"x": "${item}", "i": "${index}"}}})
    assert len(problems(spec)) == 2


def test_item_inside_foreach_is_allowed() -> None:
    validate(
        workflow({"a": {"action": "t", "foreach": "${inputs.files}", "with": {"x": "${item}"}}})
    )


def test_foreach_must_be_one_whole_reference() -> None:
    spec = workflow({"a": {"action": "t", "foreach": "files: ${inputs.files}"}})
    assert problems(spec) == [
        "foreach must be a single ${...} reference to a list or a literal list "
        "(foreach: [a, b] or foreach: ${inputs.files}), got 'files: ${inputs.files}'"
    ]


def test_input_needs_an_incoming_edge() -> None:
    spec = workflow({"a": {"action": "t", "with": {"x": "${input}"}}})
    assert problems(spec) == ["'${input}': node 'a' has no incoming edge, so there is no input"]


def test_undeclared_input_is_refused_when_inputs_are_declared() -> None:
    spec = workflow(
        {"a": {"action": "t", "with": {"x": "${inputs.foldr}"}}}, inputs={"folder": "."}
    )
    assert problems(spec) == [
        "'${inputs.foldr}': unknown input 'foldr' (did you mean 'folder'?); declared inputs: folder"
    ]


def test_any_input_is_allowed_when_none_are_declared() -> None:
    validate(workflow({"a": {"action": "t", "with": {"x": "${inputs.anything}"}}}))


def test_malformed_reference_is_reported() -> None:
    spec = workflow({"a": {"action": "t", "with": {"x": "${inputs..x}"}}})
    assert problems(spec) == ["malformed reference '${inputs..x}': expected NAME(.FIELD)*"]


def test_unclosed_reference_is_reported() -> None:
    spec = workflow({"a": {"action": "t", "with": {"x": ["ok", {"deep": "${inputs.x"}]}}})
    assert problems(spec) == ["unclosed or nested '${' in '${inputs.x'"]


def test_outputs_may_refer_to_any_node() -> None:
    spec = workflow(
        {"a": {"action": "t"}, "b": {"action": "t", "after": ["a"]}},
        outputs={"first": "${a}", "second": "${b.x}"},
    )
    validate(spec)


def test_output_naming_no_node_is_reported() -> None:
    spec = workflow({"a": {"action": "t"}}, outputs={"r": "${b}"})
    assert problems(spec) == [
        "output 'r': '${b}' names no node; outputs may refer to any node or to inputs"
    ]


def test_condition_that_does_not_compile_is_reported() -> None:
    spec = workflow(
        {
            "a": {"action": "t"},
            "b": {"action": "t", "after": [{"node": "a", "when": "__import__('os')"}]},
        }
    )
    assert "only" in problems(spec)[0]


def test_unknown_reducer_is_reported_with_suggestion() -> None:
    spec = workflow({"a": {"action": "t", "join": {"reducer": "concatt"}}})
    assert problems(spec)[0].startswith("unknown reducer 'concatt' (did you mean 'concat'?)")


def test_module_function_reducer_is_accepted_without_import() -> None:
    validate(workflow({"a": {"action": "t", "join": {"reducer": "my.module:combine"}}}))


def test_quorum_larger_than_in_degree_is_reported() -> None:
    spec = workflow(
        {
            "a": {"action": "t"},
            "b": {"action": "t", "after": ["a"], "join": {"mode": "quorum", "count": 2}},
        }
    )
    assert problems(spec) == ["join quorum of 2 can never be met: the node has 1 incoming edge(s)"]


def test_reserved_node_name_is_reported() -> None:
    assert problems(workflow({"item": {"action": "t"}}))[0].startswith(
        "node name 'item' is reserved"
    )


def test_actions_are_not_checked_without_an_action_table() -> None:
    validate(workflow({"a": {"action": "anything"}}))


def test_unknown_critic_is_reported() -> None:
    spec = workflow(
        {"a": {"action": "t"}, "b": {"action": "t", "after": [{"node": "a", "critic": "judge"}]}}
    )
    assert problems(spec, ACTIONS) == [
        "critic: unknown action 'judge'; known actions: pair, summarise, t"
    ]


def test_actions_declared_in_the_file_count_as_known() -> None:
    spec = workflow({"a": {"action": "mine"}}, actions={"mine": {"python": "pkg:mine"}})
    validate(spec, ACTIONS)


def test_unknown_argument_is_reported_with_the_parameters() -> None:
    spec = workflow({"a": {"action": "summarise", "with": {"text": "x", "word": 3}}})
    assert problems(spec, ACTIONS) == [
        "action 'summarise' has no parameter 'word' (did you mean 'words'?); "
        "parameters: text, words"
    ]


def test_missing_required_argument_is_reported() -> None:
    spec = workflow({"a": {"action": "summarise", "with": {"words": 3}}})
    assert problems(spec, ACTIONS) == ["action 'summarise' is missing required argument(s): text"]


def test_literal_of_the_wrong_type_is_reported() -> None:
    spec = workflow({"a": {"action": "summarise", "with": {"text": "x", "words": "many"}}})
    assert problems(spec, ACTIONS) == [
        "argument 'words' of action 'summarise' should be integer, got str 'many'"
    ]


def test_reference_arguments_are_not_type_checked() -> None:
    validate(
        workflow({"a": {"action": "summarise", "with": {"text": "x", "words": "${inputs.n}"}}}),
        ACTIONS,
    )


def test_empty_with_after_a_predecessor_fills_the_single_required_parameter() -> None:
    spec = workflow({"a": {"action": "t"}, "b": {"action": "summarise", "after": ["a"]}})
    validate(spec, ACTIONS)


def test_empty_with_after_a_predecessor_is_left_to_the_executor() -> None:
    spec = workflow({"a": {"action": "t"}, "b": {"action": "pair", "after": ["a"]}})
    validate(spec, ACTIONS)


def test_empty_with_without_predecessors_reports_missing_arguments() -> None:
    spec = workflow({"a": {"action": "pair"}})
    assert problems(spec, ACTIONS) == ["action 'pair' is missing required argument(s): left, right"]


def test_unknown_action_in_action_concurrency_is_reported() -> None:
    spec = workflow({"a": {"action": "t"}}, action_concurrency={"summarize": 2})
    assert problems(spec, ACTIONS) == ["unknown action 'summarize' (did you mean 'summarise'?)"]


def test_a_short_unknown_name_suggests_names_one_edit_away() -> None:
    """``${aa}`` is too short for difflib's ratio to find ``ab`` (0.5 < 0.6): short names
    are matched by edit distance, closest first."""
    spec = workflow(
        {
            "a": {"action": "t"},
            "ab": {"action": "t"},
            "c": {"action": "t", "after": ["a", "ab"], "with": {"x": "${aa}"}},
        }
    )
    [message] = problems(spec)
    assert "unknown name 'aa' (did you mean 'a' or 'ab'?)" in message


def test_a_short_unknown_name_far_from_every_name_gets_no_suggestion() -> None:
    spec = workflow(
        {"ab": {"action": "t"}, "c": {"action": "t", "after": ["ab"], "with": {"x": "${zz}"}}}
    )
    [message] = problems(spec)
    assert "unknown name 'zz'; visible here" in message


def test_a_misspelt_name_in_a_condition_is_suggested() -> None:
    spec = workflow(
        {"a": {"action": "t"}, "b": {"action": "t", "after": [{"node": "a", "when": "outptu"}]}}
    )
    [message] = problems(spec)
    assert "unknown name 'outptu' (did you mean 'output'?" in message


def test_a_node_fed_only_by_a_loop_edge_would_start_with_no_input() -> None:
    # write -> review -> revise -> review, with the bound on the wrong edge:
    # revise's only edge is then the loop edge, so it runs first, on nothing
    spec = workflow(
        {
            "write": {"action": "t"},
            "review": {"action": "summarise", "after": ["write", "revise"]},
            "revise": {"action": "summarise", "after": [{"node": "review", "max_iterations": 3}]},
        }
    )
    [message] = problems(spec, ACTIONS)
    assert message.startswith(
        "node 'revise' has only loop edges in 'after' (from 'review'), so it runs first"
    )
    assert "needs argument(s) text" in message


def test_a_loop_target_with_a_forward_edge_too_is_fine() -> None:
    spec = workflow(
        {
            "write": {"action": "t"},
            "review": {
                "action": "summarise",
                "after": [{"node": "revise", "max_iterations": 3}, "write"],
                "join": {"reducer": "first"},
            },
            "revise": {"action": "summarise", "after": ["review"]},
        }
    )
    validate(spec, ACTIONS)


def test_a_loop_target_without_a_join_would_get_a_list() -> None:
    # as in LangGraph, the user expects the newest draft; weft's default join gives a list
    spec = workflow(
        {
            "write": {"action": "t"},
            "review": {
                "action": "summarise",
                "after": ["write", {"node": "revise", "max_iterations": 3}],
            },
            "revise": {"action": "summarise", "after": ["review"]},
        }
    )
    [message] = problems(spec, ACTIONS)
    assert message.startswith(
        "node 'review' has 2 incoming edges ('write', 'revise', a loop edge among them) and "
        "no join, so its input is the list of what arrived, but action 'summarise' takes text"
    )
    assert "join: {reducer: first}" in message
