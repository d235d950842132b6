"""LLM spans keep the messages sent and the reply: stored, redacted, cut, shown and exported."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from weft import Workflow, tool
from weft.agents import LLMAgent
from weft.cli._app import cli
from weft.runtime import run_workflow
from weft.runtime.tracing.export import otel_attributes, to_otlp_json
from weft.runtime.tracing.layout import view_model
from weft.runtime.tracing.spans import SpanRecord
from weft.runtime.tracing.store import TraceStore
from weft.testing import OpenAIServer, ScriptedModel, text, tool_call

INSTRUCTIONS = "Count words with word_count, then answer."


@tool
def word_count(text: str) -> int:
    """Count the words of a text."""
    return len(text.split())


@pytest.fixture(autouse=True)
def _no_model_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "WEFT_MODEL", "WEFT_TRACE_CONTENT"):
        monkeypatch.delenv(name, raising=False)
    yield


async def _traced_agent_run(
    store_path: Path, task: str = "How many words: 'a b c'?", **agent_options: Any
) -> tuple[str, list[SpanRecord]]:
    """An agent that calls word_count once and answers; the run's llm spans, by start."""
    model = ScriptedModel([tool_call("word_count", {"text": "a b c"}), text("Three words.")])
    async with OpenAIServer(model) as server:
        agent = LLMAgent(
            "counter",
            instructions=INSTRUCTIONS,
            model="gpt-test",
            base_url=server.base_url,
            tools=[word_count],
            **agent_options,
        )
        wf = Workflow("count")
        wf.node("count", agent, with_={"task": task})
        with TraceStore(store_path) as store:
            result = await run_workflow(wf, tracer=store)
            assert result.ok, result.error
            spans = store.spans(result.run_id)
    model.assert_complete()
    return result.run_id, [s for s in spans if s.kind == "llm"]


async def test_an_llm_span_keeps_the_messages_sent_and_the_reply(tmp_path: Path) -> None:
    _, (first, second) = await _traced_agent_run(tmp_path / "traces.db")
    assert first.name == "chat gpt-test"
    assert first.attributes["gen_ai.request.model"] == "gpt-test"
    assert first.attributes["input"] == [
        {"role": "system", "content": INSTRUCTIONS},
        {"role": "user", "content": "How many words: 'a b c'?"},
    ]
    [call] = first.attributes["output"]["tool_calls"]
    assert call["name"] == "word_count" and json.loads(call["arguments"]) == {"text": "a b c"}
    assert first.attributes["gen_ai.response.finish_reasons"] == ["tool_calls"]
    # The second request sent the whole conversation so far, and got the answer.
    sent = second.attributes["input"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "tool"]
    assert sent[3]["content"] == "3" and sent[3]["tool_call_id"] == call["id"]
    assert second.attributes["output"] == {"role": "assistant", "content": "Three words."}


async def test_secrets_in_messages_are_masked_like_any_input(tmp_path: Path) -> None:
    _, spans = await _traced_agent_run(
        tmp_path / "traces.db", task="Count 'a b c'. My password=hunter2-secret by the way."
    )
    stored = json.dumps([s.attributes["input"] for s in spans])
    assert "hunter2-secret" not in stored
    assert "[REDACTED]" in stored


async def test_content_is_kept_whole_up_to_the_content_cap_and_cut_past_it(
    tmp_path: Path,
) -> None:
    longer_than_a_value = "word " * 1500  # 7,500 chars: over the 4 KiB cap of other values
    _, spans = await _traced_agent_run(tmp_path / "a.db", task=longer_than_a_value)
    assert spans[0].attributes["input"][1]["content"] == longer_than_a_value

    _, spans = await _traced_agent_run(
        tmp_path / "b.db", task="word " * 10_000
    )  # 50,000 chars: over the 16 KiB content cap
    kept = spans[0].attributes["input"]
    assert len(json.dumps(kept)) <= 16_384 + 100
    assert "[truncated: 50000 chars]" in kept[1]["content"]


async def test_weft_trace_content_0_keeps_prompts_and_replies_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEFT_TRACE_CONTENT", "0")
    _, spans = await _traced_agent_run(tmp_path / "traces.db")
    assert len(spans) == 2
    for span in spans:
        assert span.attributes.get("input") is None and span.attributes.get("output") is None
        assert span.attributes["gen_ai.request.model"] == "gpt-test"  # the rest is kept


async def test_an_agent_can_keep_its_own_content_out(tmp_path: Path) -> None:
    _, spans = await _traced_agent_run(tmp_path / "traces.db", trace_content=False)
    assert all(span.attributes.get("input") is None for span in spans)


async def test_the_html_view_hands_the_messages_to_the_details_panel(tmp_path: Path) -> None:
    _, spans = await _traced_agent_run(tmp_path / "traces.db")
    model = view_model(None, spans)
    llm = [s for s in model["spans"] if s["kind"] == "llm"]
    assert llm[1]["attributes"]["output"]["content"] == "Three words."
    assert llm[0]["attributes"]["input"][1]["role"] == "user"


async def test_trace_show_prints_the_last_message_sent_and_the_reply(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id, _ = await _traced_agent_run(tmp_path / "traces.db")
    store = str(tmp_path / "traces.db")
    shown = CliRunner().invoke(cli, ["trace", "show", run_id, "--store", store])
    assert shown.exit_code == 0, shown.output
    assert "→ user: How many words: 'a b c'?" in shown.output
    assert '← call word_count({"text": "a b c"})' in shown.output
    assert "→ tool " in shown.output and "← Three words." in shown.output
    assert INSTRUCTIONS not in shown.output  # the system prompt only with --full

    full = CliRunner().invoke(cli, ["trace", "show", run_id, "--store", store, "--full"])
    assert full.exit_code == 0, full.output
    assert f"→ system: {INSTRUCTIONS}" in full.output


async def test_otlp_export_follows_the_genai_message_conventions(tmp_path: Path) -> None:
    _, (first, second) = await _traced_agent_run(tmp_path / "traces.db")
    attributes = otel_attributes(second)
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.provider.name"] == "openai"
    assert attributes["gen_ai.request.model"] == "gpt-test"
    assert attributes["server.address"] == "127.0.0.1"
    assert attributes["gen_ai.usage.input_tokens"] > 0
    assert attributes["gen_ai.usage.output_tokens"] > 0
    sent = json.loads(str(attributes["gen_ai.input.messages"]))
    assert sent[0] == {"role": "system", "parts": [{"type": "text", "content": INSTRUCTIONS}]}
    [call] = sent[2]["parts"]
    assert call["type"] == "tool_call" and call["name"] == "word_count"
    assert call["arguments"] == {"text": "a b c"}
    assert sent[3] == {
        "role": "tool",
        "parts": [{"type": "tool_call_response", "id": call["id"], "response": "3"}],
    }
    assert json.loads(str(attributes["gen_ai.output.messages"])) == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": "Three words."}],
            "finish_reason": "stop",
        }
    ]
    first_reply = json.loads(str(otel_attributes(first)["gen_ai.output.messages"]))
    assert first_reply[0]["finish_reason"] == "tool_call"
    document = to_otlp_json([second])
    [span] = document["resourceSpans"][0]["scopeSpans"][0]["spans"]
    keys = {attribute["key"] for attribute in span["attributes"]}
    assert {"gen_ai.input.messages", "gen_ai.output.messages"} <= keys


async def test_the_live_otlp_exporter_sends_the_messages(tmp_path: Path) -> None:
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from weft.runtime.tracing.otlp import OtlpTracer

    _, spans = await _traced_agent_run(tmp_path / "traces.db")
    memory = InMemorySpanExporter()
    tracer = OtlpTracer(memory)
    for span in spans:
        tracer.record(span)
    tracer.close()
    exported = {s.name: s for s in memory.get_finished_spans()}
    attributes = exported["chat gpt-test"].attributes
    assert attributes is not None
    assert "Three words." in str(attributes["gen_ai.output.messages"])
