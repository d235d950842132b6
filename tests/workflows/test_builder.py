"""The Python builder produces the same validated ``WorkflowSpec`` as YAML."""

from __future__ import annotations

from typing import Any

import pytest

from weft import compile_workflow
from weft.agents import FunctionAction, tool
from weft.protocols import (
    ActionCall,
    ActionContext,
    ActionKind,
    ActionResult,
    ActionSpec,
    Defaults,
    DefinitionError,
    EdgeSpec,
    JoinMode,
    JoinSpec,
    RetryPolicy,
)
from weft.workflows import Workflow, loads_workflow


def list_documents(folder: str) -> list[str]:
    """List the documents of a folder."""
    return [folder]


def text_stats(path: str, position: int = 0) -> dict[str, Any]:
    return {"path": path, "position": position}


class Echo:
    """A minimal hand-written action (anything with ``spec`` and ``invoke``)."""

    spec = ActionSpec(name="echo")

    async def invoke(self, call: ActionCall, ctx: ActionContext) -> ActionResult:
        return ActionResult.success(call.call_id, call.arguments)


def test_builder_and_yaml_give_equal_specs(rich_yaml: str) -> None:
    wf = Workflow(
        "quickstart",
        description="Summarise the documents of a folder, with a review loop.",
        version="2",
        on_failure="continue",
        concurrency=8,
        action_concurrency={"summarise": 2},
        defaults=Defaults(timeout=30, retry=RetryPolicy(max_attempts=3, initial_delay=0.5)),
        python_path=["lib"],
    )
    wf.input("folder", type="string", default="docs", description="Folder to read.")
    wf.input("style", default="concise")
    wf.action_ref("summarise", python="my_tools:summarise")
    docs = wf.node("list", "list_documents", with_={"folder": "${inputs.folder}"})
    stats = wf.node(
        "stats",
        "text_stats",
        after=docs,
        foreach=docs.ref,
        concurrency=4,
        with_={"path": "${item}", "position": "${index}"},
    )
    summary = wf.node(
        "summary",
        "summarise",
        after=[docs],
        with_={"files": "${list}", "prompt": "Summarise these files.\nBe ${inputs.style}.\n"},
    )
    wf.node(
        "write",
        "writer",
        after=[stats, summary],
        join=JoinSpec(reducer="dict"),
        timeout=12.5,
        retry=RetryPolicy(max_attempts=2),
    )
    wf.node("review", "reviewer", after=[EdgeSpec(node="write", critic="checker")])
    wf.edge("review", "write", when="not output.approved", max_iterations=3)
    wf.output("report", "${write}")
    wf.output("approved", "${review.approved}")

    assert wf.build() == loads_workflow(rich_yaml)


def test_functions_become_tool_actions() -> None:
    wf = Workflow("w")
    wf.node("list", list_documents, with_={"folder": "docs"})
    assert wf.action_specs()["list_documents"].description == "List the documents of a folder."


def test_a_function_used_twice_is_one_action() -> None:
    wf = Workflow("w")
    wf.node("a", list_documents, with_={"folder": "a"})
    wf.node("b", list_documents, with_={"folder": "b"})
    assert list(wf.actions) == ["list_documents"]


def test_action_objects_are_collected_by_name() -> None:
    echo = Echo()
    wf = Workflow("w")
    wf.node("a", echo)
    assert wf.actions == {"echo": echo}


def test_two_objects_under_one_name_are_refused() -> None:
    wf = Workflow("w")
    wf.node("a", Echo())
    with pytest.raises(
        DefinitionError, match="two different objects are registered as action 'echo'"
    ):
        wf.node("b", Echo())


def test_repeated_node_name_is_refused() -> None:
    wf = Workflow("w")
    wf.node("a", "t")
    with pytest.raises(DefinitionError, match="node 'a' is already defined"):
        wf.node("a", "t")


def test_edge_to_a_node_not_yet_added_is_refused() -> None:
    wf = Workflow("w")
    with pytest.raises(DefinitionError, match="unknown node 'b'"):
        wf.edge("a", "b")


def test_edge_appends_to_the_target_after() -> None:
    wf = Workflow("w")
    wf.node("a", "t")
    wf.node("b", "t")
    wf.edge("a", "b", when="output.ok")
    assert wf.build().nodes["b"].after == [EdgeSpec(node="a", when="output.ok")]


def test_join_accepts_a_mode_name() -> None:
    wf = Workflow("w")
    wf.node("a", "t")
    wf.node("b", "t")
    wf.node("c", "t", after=["a", "b"], join="any")
    assert wf.build().nodes["c"].join == JoinSpec(mode=JoinMode.ANY)


def test_sub_workflow_is_an_action_with_its_inputs_as_parameters() -> None:
    inner = Workflow("inner", description="Does the inner thing.")
    inner.input("topic", type="string", required=True)
    inner.node("x", "t", with_={"q": "${inputs.topic}"})
    outer = Workflow("outer")
    outer.node("sub", inner, with_={"topic": "weft"})
    spec = outer.action_specs()["inner"]
    assert spec.kind is ActionKind.WORKFLOW
    assert spec.input_schema["required"] == ["topic"]
    assert spec.input_schema["properties"]["topic"]["type"] == "string"
    assert outer.actions == {"inner": inner}


def test_build_checks_arguments_of_object_actions() -> None:
    wf = Workflow("w")
    wf.node("list", list_documents, with_={"folda": "docs"})
    with pytest.raises(DefinitionError) as info:
        wf.build()
    messages = [m for m, _ in info.value.problems]
    assert "action 'list_documents' has no parameter 'folda'" in messages[0]


def test_build_reports_graph_problems_with_node_names() -> None:
    wf = Workflow("w")
    wf.node("a", "t", after=["b"])
    wf.node("b", "t", after=["a"])
    with pytest.raises(DefinitionError) as info:
        wf.build()
    message, where = info.value.problems[0]
    assert message.startswith("cycle without a loop bound: a -> b -> a")
    assert where.node == "a"


def test_actions_by_name_are_trusted_unless_a_table_is_given() -> None:
    wf = Workflow("w")
    wf.node("a", "remote_agent")
    wf.build()
    with pytest.raises(DefinitionError, match="unknown action 'remote_agent'"):
        wf.build(actions={})


def test_invalid_node_field_names_node_and_field() -> None:
    wf = Workflow("w")
    wf.node("a", "t", timeout=-1)
    with pytest.raises(DefinitionError) as info:
        wf.build()
    _, where = info.value.problems[0]
    assert (where.node, where.field) == ("a", "timeout")


def test_tool_objects_keep_working_as_actions() -> None:
    stats = tool(text_stats)
    wf = Workflow("w")
    wf.node("s", stats, with_={"path": "x"})
    assert wf.actions == {"text_stats": stats}


def test_function_that_cannot_be_a_tool_is_a_definition_error() -> None:
    def varargs(*texts: str) -> str:
        return "".join(texts)

    with pytest.raises(DefinitionError, match=r"\*args/\*\*kwargs cannot be described"):
        Workflow("w").node("a", varargs)


def test_a_function_stays_a_function_until_the_runtime_compiles_it() -> None:
    wf = Workflow("w")
    wf.node("list", list_documents, with_={"folder": "docs"})
    assert wf.actions == {"list_documents": list_documents}


def test_a_functions_required_parameters_are_checked_at_build() -> None:
    wf = Workflow("w")
    wf.node("list", list_documents, with_={})
    with pytest.raises(DefinitionError, match="missing required argument"):
        wf.build()


def test_a_bound_method_used_twice_is_one_action() -> None:
    class Lister:
        def list_documents(self, folder: str) -> list[str]:
            return [folder]

    lister = Lister()
    wf = Workflow("w")
    wf.node("a", lister.list_documents, with_={"folder": "a"})
    wf.node("b", lister.list_documents, with_={"folder": "b"})
    assert list(wf.actions) == ["list_documents"]


def test_compiling_wraps_a_function_as_a_tool() -> None:
    wf = Workflow("w")
    wf.node("list", list_documents, with_={"folder": "docs"})
    prepared = compile_workflow(wf)
    action = prepared.registry.get("list_documents")
    assert isinstance(action, FunctionAction)
    assert action.fn is list_documents


def test_compiling_checks_a_functions_argument_types() -> None:
    wf = Workflow("w")
    wf.node("list", list_documents, with_={"folder": 3})
    with pytest.raises(DefinitionError, match="argument 'folder' of action 'list_documents'"):
        compile_workflow(wf)


def test_after_takes_edges_written_as_yaml_writes_them() -> None:
    """Users copy ``after: [{node: draft, critic: editor}]`` from the YAML docs; before,
    the dict was taken for a node name ("node \\"{'node': ...}\\" must start with a letter")."""

    @tool
    def editor(artifact: Any, source: str, target: str) -> dict[str, Any]:
        """Approve everything."""
        return {"approved": True}

    wf = Workflow("reviewed")
    draft = wf.node("draft", list_documents, with_={"folder": "docs"})
    wf.node("notes", list_documents, with_={"folder": "notes"})
    wf.node(
        "publish",
        "publisher",
        after=[{"node": draft, "critic": editor, "max_rounds": 2}, {"node": "notes"}],
    )
    wf.node("archive", "archiver", after={"node": "publish", "when": "output != None"})
    spec = wf.build()
    assert spec.nodes["publish"].after == [
        EdgeSpec(node="draft", critic="editor", max_rounds=2),
        EdgeSpec(node="notes"),
    ]
    assert spec.nodes["archive"].after == [EdgeSpec(node="publish", when="output != None")]
    assert "editor" in wf.actions  # the critic object is registered, as by wf.edge

    typo = r"field 'after.0.max_round'.*did you mean 'max_rounds'"
    with pytest.raises(DefinitionError, match=typo):
        wf.node("bad", "publisher", after=[{"node": "draft", "max_round": 2}])


def test_a_reducer_given_as_a_function_is_refused_with_its_name() -> None:
    from weft.workflows.reducers import reduce_dict

    wf = Workflow("w")
    wf.node("a", "t")
    with pytest.raises(DefinitionError) as info:
        wf.node("b", "t", after="a", join={"reducer": reduce_dict})
    [(message, where)] = info.value.problems
    assert message.startswith(
        "a reducer is named, not passed as a function: "
        "write {'reducer': 'weft.workflows.reducers:reduce_dict'}"
    )
    assert (where.node, where.field) == ("b", "join.reducer")


def test_a_reducer_given_as_the_join_shorthand_says_where_it_goes() -> None:
    wf = Workflow("w")
    wf.node("a", "t")
    with pytest.raises(DefinitionError, match=r"write join=\{'reducer': 'concat'\}"):
        wf.node("b", "t", after="a", join="concat")


def test_a_join_mode_shorthand_still_works() -> None:
    wf = Workflow("w")
    wf.node("a", "t")
    wf.node("b", "t", after="a", join="any")
    assert wf.build().nodes["b"].join is not None
