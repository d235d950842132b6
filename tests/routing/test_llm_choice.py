"""The LLM stage of routing, against weft.testing's OpenAI-compatible server and the real client."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from weft.agents.chat_model import ChatModel, ModelSettings
from weft.cli import cli
from weft.protocols import RouteRequest
from weft.runtime.routing.llm_choice import LLMChooser, parse_choice
from weft.runtime.tracing.spans import MemoryTracer
from weft.testing import FunctionModel, OpenAIServer, error
from weft.testing.models import ModelRequest

from .conftest import card

CARDS = [
    card(
        "translator",
        "Translates text between languages, including support tickets and emails. "
        "It does not summarise text.",
        skills=["Spanish", "French", "German"],
    ),
    card(
        "ticket_triage",
        "Sorts incoming customer support tickets by urgency and assigns them to a team. "
        "It does not translate tickets.",
        skills=["ticket categorisation", "priority assignment"],
    ),
    card("summarizer", "Condenses long documents into short summaries.", skills=["key points"]),
]


def chooser_for(server: OpenAIServer, **options: Any) -> LLMChooser:
    settings = ModelSettings(model="router-test", base_url=server.base_url, api_key="test")
    return LLMChooser(ChatModel(settings), **options)


def by_operation(request: ModelRequest) -> str:
    """A model that routes by the subtask's first word, as the prompt asks."""
    subtask = request.last_user_text.split("\n", 1)[0].lower()
    if subtask.startswith("subtask: walk"):
        return json.dumps({"agent": None})
    if "translate" in subtask:
        return json.dumps({"agent": "translator"})
    return json.dumps({"agent": "ticket_triage"})


def test_parse_choice_accepts_json_bare_ids_and_none_only_for_shown_agents() -> None:
    allowed = {"translator", "summarizer"}
    assert parse_choice('{"agent": "translator"}', allowed) == (True, "translator")
    assert parse_choice('Sure: ```{"agent": null}```', allowed) == (True, None)
    assert parse_choice("summarizer", allowed) == (True, "summarizer")
    assert parse_choice('{"agent": "ticket_triage"}', allowed) == (False, None)
    assert parse_choice("I think the translator", allowed) == (False, None)


def test_parse_choice_reads_an_answer_a_server_html_escaped() -> None:
    """llama-cpp-python's chatml-function-calling escapes the prompt; the model echoes it."""
    allowed = {"translator", "summarizer"}
    assert parse_choice("{&#34;agent&#34;: &#34;translator&#34;}", allowed) == (True, "translator")
    assert parse_choice("{&#34;agent&#34;: null}", allowed) == (True, None)
    assert parse_choice("{&quot;agent&quot;: &quot;summarizer&quot;}", allowed) == (
        True,
        "summarizer",
    )
    assert parse_choice("{&#34;agent&#34;: &#34;&lt;id&gt;&#34;}", allowed) == (False, None)


async def test_the_models_pick_among_the_top_cards_wins_and_is_explained(
    minilm: Any, router_for: Any
) -> None:
    model = FunctionModel(by_operation)
    async with OpenAIServer(model) as server:
        tracer = MemoryTracer()
        router = router_for(
            minilm, CARDS, chooser=chooser_for(server, k=3), tracer=tracer, learn=False
        )
        decision = await router.route(
            RouteRequest(text="Translate this urgent support ticket into English.", run_id="r1")
        )
    assert decision.chosen is not None and decision.chosen.agent_id == "translator"
    first = decision.candidates[0]
    assert first.agent_id == "translator" and first.parts["llm"] == 1.0
    assert first.evidence is not None and first.evidence.startswith("llm:")
    prompt = model.requests[0].last_user_text
    assert "- id: ticket_triage" in prompt and "does not: translate tickets" in prompt
    kinds = [s.kind for s in tracer.spans]
    assert kinds == ["llm", "route"]
    assert tracer.spans[0].trace_id == tracer.spans[1].trace_id  # one trace per run
    assert tracer.spans[0].attributes["route.stage"] == "llm"
    assert tracer.spans[1].attributes["route.chosen"] == "translator"


async def test_the_model_may_say_no_agent_fits(minilm: Any, router_for: Any) -> None:
    async with OpenAIServer(FunctionModel(by_operation)) as server:
        router = router_for(minilm, CARDS, chooser=chooser_for(server), learn=False)
        decision = await router.route(
            RouteRequest(text="Walk my dog at six and translate nothing.")
        )
    assert decision.chosen is None
    assert decision.candidates, "the embedding ranking stays in the decision"
    assert decision.candidates[0].parts["llm"] == 0.0


async def test_answers_are_cached_and_the_budget_bounds_the_calls(
    minilm: Any, router_for: Any
) -> None:
    model = FunctionModel(by_operation)
    async with OpenAIServer(model) as server:
        chooser = chooser_for(server, budget=1)
        router = router_for(minilm, CARDS, chooser=chooser, learn=False)
        text = "Translate the complaint ticket from Spanish."
        again = await router.route_many([RouteRequest(text=text), RouteRequest(text=text)])
        over = await router.route(RouteRequest(text="Set the priority of this new ticket."))
    assert len(model.requests) == 1 and chooser.calls == 1
    assert [d.chosen.agent_id for d in again if d.chosen] == ["translator", "translator"]
    assert over.candidates[0].parts["llm_skipped"] == 1.0
    assert "llm" not in over.candidates[0].parts


@pytest.mark.parametrize(
    "answer",
    [error(500, "boom", type="server_error"), '{"agent": "somebody_else"}'],
    ids=["model error", "unknown id"],
)
async def test_a_failed_or_unusable_answer_keeps_the_embedding_decision(
    minilm: Any, router_for: Any, answer: Any
) -> None:
    request = RouteRequest(text="Sort these support tickets by urgency.")
    plain = await router_for(minilm, CARDS, learn=False).route(request)
    async with OpenAIServer(FunctionModel(lambda _: answer)) as server:
        chooser = chooser_for(server)
        chooser.model.retry = chooser.model.retry.model_copy(update={"max_attempts": 1})
        router = router_for(minilm, CARDS, chooser=chooser, learn=False)
        decision = await router.route(request)
    assert decision.chosen == plain.chosen
    assert decision.candidates[0].parts["llm_skipped"] == 2.0


async def test_with_a_margin_only_close_calls_go_to_the_model(minilm: Any, router_for: Any) -> None:
    model = FunctionModel(by_operation)
    request = RouteRequest(text="Translate this ticket into French.")
    async with OpenAIServer(model) as server:
        clear = await router_for(
            minilm, CARDS, chooser=chooser_for(server, margin=0.0), learn=False
        ).route(request)
        assert model.requests == []  # the runner-up is not within 0.0 of the best
        close = await router_for(
            minilm, CARDS, chooser=chooser_for(server, margin=10.0), learn=False
        ).route(request)
    assert len(model.requests) == 1
    assert clear.chosen is not None and "llm" not in clear.candidates[0].parts
    assert close.candidates[0].parts["llm"] == 1.0


def test_weft_route_llm_lets_the_model_pick_and_needs_a_model(tmp_path: Path) -> None:
    cards = tmp_path / "cards.yaml"
    cards.write_text(yaml.safe_dump({"cards": [c.model_dump(exclude_none=True) for c in CARDS]}))
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text('{"text": "Translate the ticket"}\n{"text": "Walk the dog"}\n')
    args = ["route", "--embedder", "hashing", "--cards", str(cards), "--batch", str(tasks)]
    model = FunctionModel(by_operation)
    with OpenAIServer(model) as server:
        result = CliRunner().invoke(
            cli, [*args, "--llm", "--model", "m", "--base-url", server.base_url]
        )
    assert result.exit_code == 0, result.output
    assert [json.loads(x)["chosen"] for x in result.output.splitlines()] == ["translator", None]
    assert len(model.requests) == 2
    unset = {"OPENAI_API_KEY": None, "OPENAI_BASE_URL": None}
    result = CliRunner().invoke(cli, [*args, "--llm"], env=unset)
    assert result.exit_code == 2
    assert "--llm needs a chat model" in result.output


def test_weft_route_says_when_the_llm_stage_was_skipped(tmp_path: Path) -> None:
    """A dead or wrong endpoint must not look like a model that agreed with the embeddings."""
    cards = tmp_path / "cards.yaml"
    cards.write_text(yaml.safe_dump({"cards": [c.model_dump(exclude_none=True) for c in CARDS]}))
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text('{"text": "Translate the ticket"}\n{"text": "Sort the tickets"}\n')
    refusing = FunctionModel(lambda _: error(400, "no such model: m", type="invalid_request_error"))
    with OpenAIServer(refusing) as server:
        args = ["route", "--embedder", "hashing", "--cards", str(cards), "--batch", str(tasks)]
        result = CliRunner().invoke(
            cli, [*args, "--llm", "--model", "m", "--base-url", server.base_url]
        )
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 2  # the embedding decisions, one per subtask
    assert "the LLM stage was skipped for 2 of 2 subtask(s)" in result.stderr
    assert "no such model: m" in result.stderr
