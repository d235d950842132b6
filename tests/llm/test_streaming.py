"""Streamed answers on the real openai client: the same message, text as it comes, nothing kept.

The scripted server streams a reply as OpenAI does (a word per chunk, tool-call
arguments in pieces, a final usage chunk when asked); ``on_chunk`` holds the
stream until the test has seen what must have arrived first.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from pydantic import BaseModel

import weft
from tests.teams.scenarios import run_in_process
from weft import Workflow, tool
from weft.agents import LLMAgent
from weft.agents.chat_model import ChatModel, Completion, ModelSettings
from weft.agents.chat_stream import StreamAssembler, estimate_prompt_tokens
from weft.agents.endpoint_profiles import ENDPOINT_PROFILES
from weft.agents.streaming import TextDeltas, stream_text
from weft.protocols import ActionCall, ActionContext, EventKind, RunEvent
from weft.protocols.streaming import delta_data
from weft.runtime import run_workflow
from weft.runtime.engine.journal import Journal
from weft.runtime.teams import Team
from weft.runtime.tracing.spans import MemoryTracer
from weft.testing import OpenAIServer, ScriptedModel, json_output, text, tool_calls
from weft.testing.steps import ToolCall

ANSWER = "The quick brown fox jumps over the lazy dog, twice."


class Collect:
    """A context with ``progress``: what an agent's session reports to."""

    def __init__(self) -> None:
        self.reports: list[tuple[str, dict[str, Any]]] = []
        self.spans: list[dict[str, Any]] = []

    def record_span(self, span: dict[str, Any]) -> None:
        self.spans.append(span)

    def progress(self, message: str, fraction: float | None = None, **data: Any) -> None:
        self.reports.append((message, data))


async def complete_both(step: Any) -> tuple[Completion, Completion, OpenAIServer]:
    async with OpenAIServer(ScriptedModel([step, step])) as server:
        model = ChatModel(ModelSettings(base_url=server.base_url, model="m"))
        async with model.session(Collect()) as session:
            plain = await session.complete([{"role": "user", "content": "go"}])
            streamed = await session.complete([{"role": "user", "content": "go"}], stream=True)
    return plain, streamed, server


@pytest.mark.parametrize(
    "step",
    [
        text(ANSWER, usage=(11, 7)),
        tool_calls(
            ToolCall("add", {"a": 1, "b": [2, 3]}, id="c1"),
            ToolCall("note", {"text": "a long argument, cut into pieces"}, id="c2"),
            usage=(5, 9),
        ),
        tool_calls(ToolCall("add", {"a": 1}, id="c1"), content="Let me add."),
    ],
    ids=["text", "tool-calls", "text-and-tool-call"],
)
async def test_the_streamed_message_is_the_message_without_streaming(step: Any) -> None:
    plain, streamed, server = await complete_both(step)
    assert streamed.message.model_dump() == plain.message.model_dump()
    assert (streamed.finish_reason, streamed.model) == (plain.finish_reason, plain.model)
    assert streamed.usage.model_dump(exclude={"latency_s"}) == plain.usage.model_dump(
        exclude={"latency_s"}
    )
    assert streamed.streamed and not plain.streamed and not streamed.usage_estimated
    sent = server.requests[1].body
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    assert "stream" not in server.requests[0].body


async def test_text_reaches_a_listener_while_the_answer_is_still_coming() -> None:
    seen = asyncio.Event()
    held_at: list[int] = []

    async def hold(position: int, chunk: dict[str, Any]) -> None:
        if position == 3:  # two words sent: they must be at the listener before more come
            await asyncio.wait_for(seen.wait(), 5)
            held_at.append(position)

    def listen(event: RunEvent) -> None:
        if weft.text_delta(event):
            seen.set()

    async with OpenAIServer(ScriptedModel([text(ANSWER)]), on_chunk=hold) as server:
        agent = LLMAgent("writer", base_url=server.base_url, model="m", stream=True)
        wf = Workflow("w")
        wf.node("writer", agent, with_={"task": "write"})
        result = await run_workflow(wf, listeners=[listen], record=False)
    assert result.ok and result.outputs == {"writer": ANSWER}
    assert held_at == [3]


async def test_stream_workflow_yields_the_text_and_ends_with_the_result() -> None:
    async with OpenAIServer(ScriptedModel([text(ANSWER, usage=(4, 10))])) as server:
        agent = LLMAgent("writer", base_url=server.base_url, model="m")  # stream=None
        wf = Workflow("w")
        wf.node("writer", agent, with_={"task": "write"})
        stream = weft.stream_workflow(wf, record=False)
        pieces = []
        kinds = []
        async for event in stream:
            kinds.append(event.kind)
            if (piece := weft.text_delta(event)) is not None:
                pieces.append((event.key, piece))
    assert "".join(p for _, p in pieces) == ANSWER
    assert {key for key, _ in pieces} == {"writer"}
    assert kinds[0] is EventKind.RUN_STARTED and kinds[-1] is EventKind.RUN_FINISHED
    result = stream.result
    assert result.outputs == {"writer": ANSWER}
    assert (result.usage.llm_calls, result.usage.prompt_tokens) == (1, 4)
    assert result.usage.completion_tokens == 10


async def test_stream_workflow_on_langgraph_s_engine_yields_the_text_too() -> None:
    async with OpenAIServer(ScriptedModel([text(ANSWER)])) as server:
        agent = LLMAgent("writer", base_url=server.base_url, model="m")  # stream=None
        wf = Workflow("w")
        wf.node("writer", agent, with_={"task": "write"})
        stream = weft.stream_workflow(wf, engine="langgraph", record=False)
        pieces = [(e.key, p) async for e in stream if (p := weft.text_delta(e)) is not None]
    assert "".join(p for _, p in pieces) == ANSWER and {k for k, _ in pieces} == {"writer"}
    assert stream.result.outputs == {"writer": ANSWER}


async def test_an_orchestrator_ask_streams_its_answer_to_its_listeners() -> None:
    from weft.runtime.orchestrator import LLMAggregator, Orchestrator, RulePlanner

    @tool
    def research(topic: str) -> str:
        """Research facts about a topic."""
        return "facts on " + topic

    pieces: list[tuple[str | None, str]] = []

    def listen(event: RunEvent) -> None:
        if (piece := weft.text_delta(event)) is not None:
            pieces.append((event.key, piece))

    async with OpenAIServer(ScriptedModel([text(ANSWER)])) as server:
        aggregator = LLMAggregator(base_url=server.base_url, model="m")
        orchestrator = Orchestrator(
            [research], planner=RulePlanner(), aggregator=aggregator, listeners=[listen]
        )
        with stream_text():
            answer = await orchestrator.ask("Research solar power.")
    assert answer.ok and answer.answer == ANSWER
    assert "".join(p for _, p in pieces) == ANSWER and {k for k, _ in pieces} == {"answer"}


async def test_an_agent_left_at_none_streams_only_when_someone_reads_the_text() -> None:
    model = ScriptedModel([text("a"), text("b")])
    async with OpenAIServer(model) as server:
        agent = LLMAgent("writer", base_url=server.base_url, model="m")
        call = ActionCall(action="writer", arguments={"task": "t"})
        await agent.invoke(call, Collect())  # type: ignore[arg-type]
        with stream_text():
            await agent.invoke(call, Collect())  # type: ignore[arg-type]
    assert [r.body.get("stream") for r in model.requests] == [None, True]


async def test_stream_false_never_streams() -> None:
    model = ScriptedModel([text("a")])
    async with OpenAIServer(model) as server:
        agent = LLMAgent("writer", base_url=server.base_url, model="m", stream=False)
        with stream_text():
            await agent.invoke(ActionCall(action="writer", arguments={"task": "t"}), Collect())  # type: ignore[arg-type]
    assert "stream" not in model.requests[0].body


async def test_the_journal_the_result_and_the_spans_keep_no_pieces_of_text(tmp_path: Any) -> None:
    long_answer = " ".join(f"word{n}" for n in range(400))
    journal = Journal(tmp_path / "journal.db")
    tracer = MemoryTracer()
    got: list[str] = []
    async with OpenAIServer(ScriptedModel([text(long_answer), text("short")])) as server:
        agent = LLMAgent("writer", base_url=server.base_url, model="m", stream=True)
        wf = Workflow("w")
        wf.node("writer", agent, with_={"task": "write"})
        listen = [lambda e: got.append(p) if (p := weft.text_delta(e)) else None]
        result = await run_workflow(wf, journal=journal, tracer=tracer, listeners=listen)
        direct = await agent.invoke(ActionCall(action="writer", arguments={"task": "t"}), Collect())  # type: ignore[arg-type]
    assert "".join(got) == long_answer
    assert len(got) < 100  # coalesced: far fewer reports than the 400 words
    assert [e for e in journal.events(result.run_id) if e.kind is EventKind.PROGRESS] == []
    assert direct.progress == []
    (llm,) = tracer.by_kind("llm")
    assert llm.attributes["llm.streamed"] is True
    assert llm.attributes["output"]["content"] == long_answer
    journal.close()


async def test_a_server_that_sends_no_usage_gets_an_estimate_that_says_so() -> None:
    model = ScriptedModel([text(ANSWER)])
    ctx = Collect()
    async with OpenAIServer(model, stream_options="ignore") as server:
        agent = LLMAgent("writer", base_url=server.base_url, model="m", stream=True)
        result = await agent.invoke(ActionCall(action="writer", arguments={"task": "t"}), ctx)  # type: ignore[arg-type]
    assert result.output == ANSWER
    words = len(ANSWER.split())  # the server sends a chunk per word: one token each
    usage = result.usage
    # the prompt by rule of thumb: 1 character of task, one message, the reply opener
    assert estimate_prompt_tokens(model.requests[0].body) == 1 + 4 + 3
    assert (usage.llm_calls, usage.prompt_tokens, usage.completion_tokens) == (1, 8, words)
    (span,) = ctx.spans
    assert span["attributes"]["llm.usage_estimated"] is True


def test_the_prompt_estimate_counts_messages_tool_calls_and_tool_definitions() -> None:
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    calls = [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": "s" * 40},
        {"role": "user", "content": [{"type": "text", "text": "hi"}]},
        {"role": "assistant", "content": "", "tool_calls": calls},
        {"role": "tool", "tool_call_id": "c1", "content": "12"},
    ]
    chars = 40 + len(json.dumps(messages[1]["content"])) + len(json.dumps(calls)) + 2
    chars += len(json.dumps(tools))
    expected = -(-chars // 4) + 4 * len(messages) + 3
    assert estimate_prompt_tokens({"messages": messages, "tools": tools}) == expected
    assert estimate_prompt_tokens({"messages": []}) == 3


async def test_a_refused_stream_options_is_dropped_and_remembered() -> None:
    model = ScriptedModel([text("one"), text("two")])
    async with OpenAIServer(model, stream_options="refuse") as server:
        agent = LLMAgent("writer", base_url=server.base_url, model="m", stream=True)
        call = ActionCall(action="writer", arguments={"task": "t"})
        first = await agent.invoke(call, Collect())  # type: ignore[arg-type]
        second = await agent.invoke(call, Collect())  # type: ignore[arg-type]
        profile = ENDPOINT_PROFILES.get(server.base_url, "m")
    assert (first.output, second.output) == ("one", "two")
    assert first.usage.llm_calls == 1 and first.progress == []  # no retry was spent
    assert [r.body.get("stream_options") for r in server.requests] == [
        {"include_usage": True},
        None,
        None,
    ]
    assert not profile.stream_options and "stream_options refused" in profile.notes[0]


async def test_an_endpoint_that_sends_an_empty_stream_for_tools_is_asked_whole_from_then_on() -> (
    None
):
    """llama-cpp-python's server answers a streamed request with tools by an empty stream;
    weft asks again unstreamed at once (no retry spent) and remembers it for the endpoint,
    while answers without tools still stream."""

    @tool
    def lookup(name: str) -> str:
        """Look a name up."""
        return f"{name} is fine"

    model = ScriptedModel([tool_calls(ToolCall("lookup", {"name": "x"}, id="c1")), text(ANSWER)])
    async with OpenAIServer(model, stream_tools="empty") as server:
        agent = LLMAgent("writer", base_url=server.base_url, model="m", tools=[lookup], stream=True)
        wf = Workflow("w")
        wf.node("writer", agent, with_={"task": "t"})
        stream = weft.stream_workflow(wf, record=False)
        pieces = [p async for e in stream if (p := weft.text_delta(e))]
        profile = ENDPOINT_PROFILES.get(server.base_url, "m")
    assert stream.result.outputs == {"writer": ANSWER}
    assert "".join(pieces) == ""  # every request carried tools: none was streamed
    assert model.requests[1].tool_results()[0]["content"] == "x is fine"
    assert [r.body.get("stream") for r in server.requests] == [True, None, None]
    assert not profile.stream_with_tools and "empty stream" in profile.notes[0]


class Verdict(BaseModel):
    ok: bool
    reason: str


async def test_structured_output_and_tool_turns_work_streamed() -> None:
    @tool
    def lookup(name: str) -> str:
        """Look a name up."""
        return f"{name} is fine"

    model = ScriptedModel(
        [
            tool_calls(ToolCall("lookup", {"name": "x"}, id="c1")),
            json_output(Verdict(ok=True, reason="x is fine")),
        ]
    )
    async with OpenAIServer(model) as server:
        agent = LLMAgent(
            "judge", base_url=server.base_url, model="m", tools=[lookup], output_type=Verdict
        )
        wf = Workflow("w")
        wf.node("judge", agent, with_={"task": "judge x"})
        stream = weft.stream_workflow(wf, record=False)
        pieces = [p async for e in stream if (p := weft.text_delta(e))]
    assert stream.result.outputs == {"judge": {"ok": True, "reason": "x is fine"}}
    assert "".join(pieces) == '{"ok": true, "reason": "x is fine"}'  # the JSON, as it came
    assert model.requests[1].tool_results()[0]["content"] == "x is fine"
    model.assert_complete()


def test_pieces_within_the_interval_are_sent_together() -> None:
    now = [0.0]
    sent: list[str] = []
    deltas = TextDeltas(sent.append, interval=0.05, clock=lambda: now[0])
    deltas.add("a")  # the first goes at once
    deltas.add("b")
    deltas.add("c")
    now[0] = 0.06
    deltas.add("d")
    deltas.add("e")
    deltas.flush()
    assert sent == ["a", "bcd", "e"]


async def test_text_held_back_is_sent_when_the_interval_is_up_without_a_further_piece() -> None:
    sent: list[str] = []
    arrived = asyncio.Event()

    def report(text: str) -> None:
        sent.append(text)
        if len(sent) == 2:
            arrived.set()

    deltas = TextDeltas(report, interval=0.02)
    deltas.add("a")  # at once
    deltas.add("b")  # held: no piece comes after it
    await asyncio.wait_for(arrived.wait(), 5)
    assert sent == ["a", "b"]
    deltas.add("c")
    deltas.flush()  # the end: the pending timer is cancelled with it
    assert sent == ["a", "b", "c"] and deltas._timer is None


async def test_a_model_that_pauses_mid_answer_does_not_hold_back_what_it_wrote() -> None:
    """The stream stops after two words until the listener has both: the second came
    within the interval of the first, so only the timer can send it."""
    pieces: list[str] = []
    both = asyncio.Event()

    async def pause(position: int, chunk: dict[str, Any]) -> None:
        if position == 3:
            await asyncio.wait_for(both.wait(), 5)

    def listen(event: RunEvent) -> None:
        if (piece := weft.text_delta(event)) is not None:
            pieces.append(piece)
            if "".join(pieces) == "The quick ":
                both.set()

    async with OpenAIServer(ScriptedModel([text(ANSWER)]), on_chunk=pause) as server:
        agent = LLMAgent("writer", base_url=server.base_url, model="m", stream=True)
        wf = Workflow("w")
        wf.node("writer", agent, with_={"task": "write"})
        result = await run_workflow(wf, listeners=[listen], record=False)
    assert result.ok and result.outputs == {"writer": ANSWER}
    assert "".join(pieces) == ANSWER and pieces[:2] == ["The ", "quick "]


def test_tool_calls_without_an_index_and_names_sent_again_are_assembled_once() -> None:
    from openai.types.chat import ChatCompletionChunk

    def chunk(delta: dict[str, Any], finish: str | None = None) -> Any:
        return ChatCompletionChunk.construct(
            id="x",
            object="chat.completion.chunk",
            created=1,
            model="m",
            choices=[{"index": 0, "delta": delta, "finish_reason": finish}],
        )

    assembler = StreamAssembler()
    for delta in [
        {"role": "assistant", "reasoning_content": "think "},
        {"reasoning_content": "more"},
        {"tool_calls": [{"id": "a", "function": {"name": "f", "arguments": '{"x"'}}]},
        {"tool_calls": [{"function": {"name": "f", "arguments": ": 1}"}}]},
        {"tool_calls": [{"id": "b", "function": {"name": "g", "arguments": "{}"}}]},
    ]:
        assembler.add(chunk(delta))
    assembler.add(chunk({}, "tool_calls"))
    message = assembler.completion().choices[0].message
    assert [(c.id, c.function.name, c.function.arguments) for c in message.tool_calls] == [
        ("a", "f", '{"x": 1}'),
        ("b", "g", "{}"),
    ]
    assert message.content is None
    assert message.reasoning_content == "think more"  # type: ignore[attr-defined]


async def test_a_team_member_s_streamed_text_is_not_posted_to_the_team() -> None:
    @tool
    async def worker(task: str, context: dict[str, Any], ctx: ActionContext) -> Any:
        if context["mode"] == "task":
            ctx.progress("", None, **delta_data("built it"))  # what a streaming agent reports
            ctx.progress("half way", 0.5)
            return "built"
        if context["turn"] == 1:
            return {"act": "assign", "tasks": [{"id": "b", "to": "worker", "task": "build"}]}
        return {"act": "conclude", "text": "shipped"}

    outcome, log = await run_in_process(Team("progress", [worker]), "ship")
    assert outcome.task_results == {"b": "built"}
    assert [(m.type.value, m.text) for m in log if m.task_id] == [
        ("progress", "half way"),
        ("task_result", "built"),
    ]


async def test_a_stream_that_breaks_off_is_retried_and_streams_again(no_wait: Any) -> None:
    broken: list[int] = []

    async def break_once(position: int, chunk: dict[str, Any]) -> None:
        if position == 3 and not broken:
            broken.append(position)
            raise ConnectionResetError("scripted: the connection drops mid-answer")

    ctx = Collect()
    model = ScriptedModel([text(ANSWER), text(ANSWER)])
    async with OpenAIServer(model, on_chunk=break_once) as server:
        agent = LLMAgent("writer", base_url=server.base_url, model="m", stream=True, retry=no_wait)
        result = await agent.invoke(ActionCall(action="writer", arguments={"task": "t"}), ctx)  # type: ignore[arg-type]
    assert result.output == ANSWER and broken == [3]
    assert result.usage.llm_calls == 1  # the broken answer is not counted
    (note,) = result.progress
    assert note.data["error_type"] == "APIConnectionError"  # retried as a connection error
    pieces = [d["delta"] for _, d in ctx.reports if "delta" in d]
    assert "".join(pieces) == "The quick " + ANSWER  # the retry streams from its start


async def test_a_workflow_that_cannot_run_raises_from_the_stream() -> None:
    wf = Workflow("broken")
    wf.node("a", "no_such_action")
    stream = weft.stream_workflow(wf, record=False)
    with pytest.raises(weft.DefinitionError, match="no_such_action"):
        async for _ in stream:
            pass
    with pytest.raises(RuntimeError, match="has not ended"):
        _ = stream.result


async def test_closing_the_stream_early_cancels_the_run() -> None:
    started = asyncio.Event()

    @tool
    async def slow() -> str:
        """Wait for ever."""
        started.set()
        await asyncio.Event().wait()
        return "never"

    wf = Workflow("slow")
    wf.node("s", slow)
    async with weft.stream_workflow(wf, record=False) as stream:
        async for event in stream:
            if event.kind is EventKind.NODE_STARTED:
                break
        await asyncio.wait_for(started.wait(), 5)
    assert stream._task is not None and stream._task.cancelled()
