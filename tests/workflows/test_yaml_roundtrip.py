"""YAML → model → YAML → model gives the same model, and the dump reads like hand-written YAML."""

from __future__ import annotations

import yaml

from weft.protocols import EdgeSpec, WorkflowSpec
from weft.workflows import dumps_workflow, loads_workflow


def test_rich_workflow_round_trips_to_an_equal_model(rich_yaml: str) -> None:
    spec = loads_workflow(rich_yaml)
    assert loads_workflow(dumps_workflow(spec)) == spec


def test_dump_is_stable_after_one_round(rich_yaml: str) -> None:
    once = dumps_workflow(loads_workflow(rich_yaml))
    assert dumps_workflow(loads_workflow(once)) == once


def test_dump_writes_plain_edges_as_names(rich_yaml: str) -> None:
    data = yaml.safe_load(dumps_workflow(loads_workflow(rich_yaml)))
    assert data["nodes"]["write"]["after"][:2] == ["stats", "summary"]
    assert data["nodes"]["write"]["after"][2] == {
        "node": "review",
        "when": "not output.approved",
        "max_iterations": 3,
    }


def test_dump_omits_defaults_and_uses_the_with_alias(rich_yaml: str) -> None:
    data = yaml.safe_load(dumps_workflow(loads_workflow(rich_yaml)))
    assert data["nodes"]["list"] == {
        "action": "list_documents",
        "with": {"folder": "${inputs.folder}"},
    }
    assert data["nodes"]["write"]["join"] == {"reducer": "dict"}


def test_dump_keeps_node_order(rich_yaml: str) -> None:
    data = yaml.safe_load(dumps_workflow(loads_workflow(rich_yaml)))
    assert list(data["nodes"]) == ["list", "stats", "summary", "write", "review"]


def test_dump_is_block_style_with_multiline_strings_as_blocks(rich_yaml: str) -> None:
    text = dumps_workflow(loads_workflow(rich_yaml))
    assert "{" not in text.replace("${", "")
    assert "prompt: |\n" in text


def test_scalar_input_default_uses_the_shorthand(rich_yaml: str) -> None:
    data = yaml.safe_load(dumps_workflow(loads_workflow(rich_yaml)))
    assert data["inputs"]["style"] == "concise"


def test_numeric_version_is_read_as_text() -> None:
    spec = loads_workflow("name: x\nversion: 2.10\nnodes:\n  a:\n    action: t\n")
    assert spec.version == "2.10"


def test_node_named_like_a_yaml_boolean_stays_a_name() -> None:
    spec = loads_workflow("name: x\nnodes:\n  on:\n    action: t\n  no:\n    action: t\n")
    assert list(spec.nodes) == ["on", "no"]


def test_edge_shorthand_string_becomes_one_edge() -> None:
    spec = loads_workflow(
        "name: x\nnodes:\n  a:\n    action: t\n  b:\n    action: t\n    after: a\n"
    )
    assert spec.nodes["b"].after == [EdgeSpec(node="a")]


def test_loaded_spec_remembers_positions(rich_yaml: str) -> None:
    spec = loads_workflow(rich_yaml, file="rich.yaml")
    assert spec.source.file == "rich.yaml"
    assert spec.source.positions[("nodes", "write", "after", 2)] == (44, 9)


def test_loading_does_not_check_the_graph() -> None:
    text = "name: x\nnodes:\n  a:\n    action: t\n    after: [missing]\n"
    assert isinstance(loads_workflow(text), WorkflowSpec)


def test_yaml_anchors_and_merge_keys_work() -> None:
    text = (
        "name: x\n"
        "nodes:\n"
        "  a: &base\n    action: t\n    timeout: 3\n"
        "  b:\n    <<: *base\n    action: u\n"
    )
    spec = loads_workflow(text)
    assert (spec.nodes["b"].action, spec.nodes["b"].timeout) == ("u", 3)


def test_the_published_schema_accepts_the_documented_example(rich_yaml: str) -> None:
    """docs/yaml.md's complete example says ``version: 2``, which the loader reads as
    "2"; the schema editors check files with flagged it (``2 is not of type 'string'``)."""
    import jsonschema  # a dev dependency

    from weft.protocols import workflow_json_schema

    schema = workflow_json_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    document = yaml.safe_load(rich_yaml)
    assert document["version"] == 2
    assert [e.message for e in validator.iter_errors(document)] == []
    assert loads_workflow(rich_yaml).version == "2"
