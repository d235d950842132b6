"""Capability nodes: a node names what it needs, a real CapabilityRouter picks the agent.

The router is the real one (MiniLM embeddings, embedded Chroma in memory);
the decision is traced as a ``route`` span under the node's span.
"""

from __future__ import annotations

import json
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from weft.agents import tool
from weft.cli import cli
from weft.protocols import DefinitionError, NodeState
from weft.runtime.engine.capability import Resolution
from weft.runtime.engine.runner import run_workflow
from weft.runtime.routing.capability_router import CapabilityRouter, ScoringWeights
from weft.runtime.routing.embeddings import MiniLMEmbedder
from weft.runtime.tracing import MemoryTracer
from weft.workflows import Workflow
from weft.workflows.casting import Capability
from weft.workflows.topologies import generate


@tool
def translator(text: str) -> str:
    """Translate text from Spanish into English."""
    return f"english({text})"


@tool
def summariser(text: str) -> str:
    """Summarise a long document or report in a few sentences."""
    return f"summary({text})"


@tool
def unit_converter(text: str) -> str:
    """Convert quantities between units: miles to kilometres, Fahrenheit to Celsius."""
    return f"converted({text})"


@tool
def proofreader(artifact: Any, source: str, target: str) -> dict[str, Any]:
    """Proofread and translate text between languages; reviews drafts."""
    return {"approved": True}


AGENTS = [translator, summariser, unit_converter, proofreader]


@pytest.fixture(scope="module")
def minilm() -> MiniLMEmbedder:
    return MiniLMEmbedder().load()


@pytest.fixture
def router(minilm: MiniLMEmbedder) -> Iterator[CapabilityRouter]:
    router = CapabilityRouter.open(minilm, learn=False)
    yield router
    router.close()


def pipeline() -> Workflow:
    wf = Workflow("support")
    wf.input("task")
    first = wf.node(
        "translate",
        capability="translate the Spanish ticket into English",
        with_={"task": "${inputs.task}"},
    )
    wf.node("shorten", capability="summarise the report in two sentences", after=[first])
    return wf


async def test_capability_nodes_are_served_by_the_agents_that_fit(
    router: CapabilityRouter,
) -> None:
    tracer = MemoryTracer()
    result = await run_workflow(
        pipeline(), {"task": "hola"}, actions=AGENTS, router=router, record=False, tracer=tracer
    )
    assert result.ok, result.error
    assert result.outputs == {"shorten": "summary(english(hola))"}
    chosen = {s.node: s.attributes["weft.action"] for s in tracer.spans if s.kind == "route"}
    assert chosen == {"translate": "translator", "shorten": "summariser"}


async def test_the_decision_and_its_candidates_are_in_the_nodes_span(
    router: CapabilityRouter,
) -> None:
    tracer = MemoryTracer()
    wf = generate("chain", 1, Capability("convert 70 Fahrenheit to Celsius"))
    result = await run_workflow(
        wf, {"task": "70F"}, actions=AGENTS, router=router, record=False, tracer=tracer
    )
    assert result.ok, result.error
    (node,) = [s for s in tracer.spans if s.kind == "node"]
    (route,) = [s for s in tracer.spans if s.kind == "route"]
    assert route.parent_id == node.span_id and route.node == "n0"
    assert route.attributes["weft.action"] == "unit_converter"
    assert route.attributes["weft.capability"] == "convert 70 Fahrenheit to Celsius"
    ranked = [c["agent_id"] for c in route.attributes["candidates"]]
    assert ranked[0] == "unit_converter" and {"translator", "summariser"} <= set(ranked)


async def test_the_workflows_critics_are_not_candidates(router: CapabilityRouter) -> None:
    tracer = MemoryTracer()
    wf = Workflow("w")
    wf.input("task")
    wf.node("a", translator, with_={"text": "${inputs.task}"})
    wf.node("b", capability="proofread and translate this text")
    wf.edge("a", "b", critic=proofreader)
    result = await run_workflow(
        wf, {"task": "hola"}, actions=AGENTS, router=router, record=False, tracer=tracer
    )
    assert result.ok, result.error
    (route,) = [s for s in tracer.spans if s.kind == "route"]
    assert "proofreader" not in [c["agent_id"] for c in route.attributes["candidates"]]


async def test_without_a_router_the_run_is_refused_naming_the_node() -> None:
    called: list[str] = []

    @tool
    def first(task: str) -> str:
        """Runs first."""
        called.append(task)
        return task

    wf = Workflow("w")
    wf.input("task")
    wf.node("start", first, with_={"task": "${inputs.task}"})
    wf.node("translate", capability="translate Spanish to English", after=["start"])
    with pytest.raises(DefinitionError, match="node 'translate' names a capability"):
        await run_workflow(wf, {"task": "hola"}, record=False)
    assert called == []


async def test_no_agent_fits_fails_the_node_with_the_best_candidates(
    minilm: MiniLMEmbedder,
) -> None:
    router = CapabilityRouter.open(minilm, learn=False, weights=ScoringWeights(min_score=0.99))
    try:
        wf = generate("chain", 1, Capability("book a table for two at an Italian restaurant"))
        result = await run_workflow(
            wf, {"task": "tonight"}, actions=AGENTS, router=router, record=False
        )
    finally:
        router.close()
    outcome = result.nodes["n0"]
    assert outcome.state is NodeState.FAILED and outcome.error is not None
    assert outcome.error.type == "NoAgentFits"
    message = outcome.error.message
    assert "node 'n0'" in message and "book a table" in message and "no agent fits" in message


async def test_a_resolver_of_your_own_can_stand_in_for_a_router() -> None:
    class ByKeyword:
        async def resolve(
            self, capability: str, *, node: str, run_id: str, actions: Any
        ) -> Resolution:
            return Resolution("translator" if "Spanish" in capability else None, reason="nope")

    wf = generate("chain", 2, [Capability("Spanish to English"), Capability("poetry")])
    result = await run_workflow(
        wf, {"task": "hola"}, actions=AGENTS, resolver=ByKeyword(), record=False
    )
    assert result.nodes["n0"].output == "english(hola)"
    error = result.nodes["n1"].error
    assert error is not None and error.message == "node 'n1', capability 'poetry': nope"


def test_weft_run_resolves_capability_nodes_of_a_yaml_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = f"capability_agents_{uuid.uuid4().hex[:10]}"
    (tmp_path / f"{module}.py").write_text(
        "from weft import tool\n\n"
        "@tool\ndef translator(text: str) -> str:\n"
        '    """Translate text from Spanish into English."""\n'
        '    return f"english({text})"\n\n'
        "@tool\ndef summariser(text: str) -> str:\n"
        '    """Summarise a long document or report in a few sentences."""\n'
        '    return f"summary({text})"\n'
    )
    (tmp_path / "wf.yaml").write_text(
        textwrap.dedent(
            f"""\
            name: support
            inputs: {{task: hola}}
            actions:
              translator: {{python: "{module}:translator"}}
              summariser: {{python: "{module}:summariser"}}
            nodes:
              translate:
                capability: translate the Spanish ticket into English
                with: {{task: "${{inputs.task}}"}}
              shorten:
                capability: summarise the report in two sentences
                after: [translate]
            """
        )
    )
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["run", "wf.yaml", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["outputs"] == {"shorten": "summary(english(hola))"}


async def test_the_orchestrator_resolves_capability_nodes_with_its_router(
    router: CapabilityRouter,
) -> None:
    from weft.runtime.orchestrator import Orchestrator

    orchestrator = Orchestrator(AGENTS, router=router)
    answer = await orchestrator.ask("hola", workflow=pipeline())
    assert answer.ok, answer.error
    assert answer.answer == "summary(english(hola))"


def _outer_with_a_capability_inside() -> Workflow:
    inner = Workflow("inner")
    inner.input("task")
    inner.node("translate", capability="Spanish to English", with_={"task": "${inputs.task}"})
    outer = Workflow("outer")
    outer.input("task")
    outer.node("sub", inner, with_={"task": "${inputs.task}"})
    return outer


async def test_capability_nodes_inside_a_sub_workflow_are_resolved_too() -> None:
    seen: list[str] = []

    class ByKeyword:
        async def resolve(
            self, capability: str, *, node: str, run_id: str, actions: Any
        ) -> Resolution:
            seen.append(node)
            return Resolution("translator" if "Spanish" in capability else None)

    result = await run_workflow(
        _outer_with_a_capability_inside(),
        {"task": "hola"},
        actions=AGENTS,
        resolver=ByKeyword(),
        record=False,
    )
    assert result.ok, result.error
    assert result.nodes["sub"].output == {"translate": "english(hola)"}
    assert len(seen) == 1 and seen[0].endswith("translate")


async def test_without_a_router_a_capability_inside_a_sub_workflow_is_refused() -> None:
    with pytest.raises(DefinitionError, match="node 'translate' names a capability"):
        await run_workflow(
            _outer_with_a_capability_inside(), {"task": "hola"}, actions=AGENTS, record=False
        )
