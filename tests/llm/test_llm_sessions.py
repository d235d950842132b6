"""LLMAgent sessions: a conversation's earlier turns are sent again on its next call."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from weft import ActionContext, RunState, Workflow, tool
from weft.agents import LLMAgent
from weft.agents.sessions import MemorySession, SessionStore, SQLiteSession
from weft.protocols import DefinitionError
from weft.runtime import Journal, resume_run, run_workflow
from weft.runtime.engine.executor import RunResult
from weft.testing import FunctionModel, ModelRequest, OpenAIServer, ScriptedModel, text, tool_call


async def ask(agent: LLMAgent, task: str, conversation_id: str | None = "ada") -> RunResult:
    arguments: dict[str, Any] = {"task": task}
    if conversation_id is not None:
        arguments["conversation_id"] = conversation_id
    wf = Workflow("chat")
    wf.node("agent", agent, with_=arguments)
    result: RunResult = await run_workflow(wf, record=False)
    return result


def chat(messages: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(m["role"], m.get("content") or "") for m in messages]


async def test_the_next_call_of_a_conversation_sees_its_earlier_turns() -> None:
    model = ScriptedModel([text("Hello Ada."), text("You are Ada.")])
    async with OpenAIServer(model) as server:
        agent = LLMAgent(
            "bot", base_url=server.base_url, instructions="Be brief.", session=MemorySession()
        )
        await ask(agent, "I am Ada.")
        result = await ask(agent, "Who am I?")
    assert result.outputs == {"agent": "You are Ada."}
    assert chat(model.requests[1].messages) == [
        ("system", "Be brief."),
        ("user", "I am Ada."),
        ("assistant", "Hello Ada."),
        ("user", "Who am I?"),
    ]


async def test_conversations_of_other_conversation_ids_do_not_mix() -> None:
    model = ScriptedModel([text("one"), text("two")])
    async with OpenAIServer(model) as server:
        agent = LLMAgent("bot", base_url=server.base_url, session=MemorySession())
        await ask(agent, "I am Ada.", "ada")
        await ask(agent, "Who am I?", "bob")
    assert chat(model.requests[1].messages) == [("user", "Who am I?")]


async def test_the_oldest_turns_beyond_max_turns_are_dropped_whole() -> None:
    @tool
    def clock() -> str:
        """The time."""
        return "noon"

    model = ScriptedModel([tool_call("clock", {}), text("It is noon."), text("b"), text("c")])
    async with OpenAIServer(model) as server:
        agent = LLMAgent(
            "bot", base_url=server.base_url, tools=[clock], session=MemorySession(max_turns=1)
        )
        await ask(agent, "time?")
        await ask(agent, "second")
        await ask(agent, "third")
    second, third = model.requests[2].messages, model.requests[3].messages
    assert [m["role"] for m in second] == ["user", "assistant", "tool", "assistant", "user"]
    assert chat(third) == [
        ("user", "second"),
        ("assistant", "b"),
        ("user", "third"),
    ]


async def test_a_sqlite_session_survives_a_new_store_on_the_same_file(tmp_path: Path) -> None:
    model = ScriptedModel([text("Noted."), text("Blue.")])
    async with OpenAIServer(model) as server:
        first = LLMAgent("bot", base_url=server.base_url, session=SQLiteSession(tmp_path / "c.db"))
        await ask(first, "My colour is blue.")
        again = LLMAgent("bot", base_url=server.base_url, session=SQLiteSession(tmp_path / "c.db"))
        await ask(again, "My colour?")
    assert ("user", "My colour is blue.") in chat(model.requests[1].messages)
    store = SQLiteSession(tmp_path / "c.db")
    assert len(await store.messages("ada")) == 4
    await store.clear("ada")
    assert await store.messages("ada") == []


async def test_two_calls_on_one_conversation_run_one_after_the_other() -> None:
    running: list[str] = []
    overlapped: list[bool] = []

    async def answer(request: ModelRequest) -> str:
        running.append(request.last_user_text)
        overlapped.append(len(running) > 1)
        await asyncio.sleep(0.05)  # long enough for a second call to arrive if not serialised
        running.remove(request.last_user_text)
        return f"re: {request.last_user_text}"

    model = FunctionModel(answer)
    async with OpenAIServer(model) as server:
        agent = LLMAgent("bot", base_url=server.base_url, session=MemorySession())
        await asyncio.gather(ask(agent, "one"), ask(agent, "two"))
    assert overlapped == [False, False]
    later = max(model.requests, key=lambda r: len(r.messages))
    assert len(later.messages) == 3  # the other call's turn, then its own task


async def test_a_failed_call_adds_no_turn() -> None:
    store = MemorySession()
    model = ScriptedModel([text("not json"), text("still not"), text("ok")])
    async with OpenAIServer(model) as server:
        strict = LLMAgent(
            "bot", base_url=server.base_url, session=store, output_type={"type": "object"}
        )
        failed = await ask(strict, "give json")
        assert failed.state is RunState.FAILED
        plain = LLMAgent("bot", base_url=server.base_url, session=store)
        await ask(plain, "hi")
    assert chat(model.requests[2].messages) == [("user", "hi")]


async def test_a_call_without_a_conversation_id_is_refused_unless_the_store_names_one() -> None:
    model = ScriptedModel([text("hi")])
    async with OpenAIServer(model) as server:
        agent = LLMAgent("bot", base_url=server.base_url, session=MemorySession())
        with pytest.raises(
            DefinitionError, match=r"missing required argument\(s\): conversation_id"
        ):
            await ask(agent, "hello", conversation_id=None)
        default = LLMAgent(
            "bot", base_url=server.base_url, session=MemorySession(conversation_id="shared")
        )
        answered = await ask(default, "hello", conversation_id=None)
    assert answered.outputs == {"agent": "hi"}
    assert "conversation_id" not in default.spec.input_schema["required"]


async def test_a_conversation_stopped_for_a_question_keeps_its_turn_once_answered(
    tmp_path: Path,
) -> None:
    @tool
    def refund(order: str, ctx: ActionContext) -> str:
        """Refund an order, once approved."""
        return f"refunded {order}" if ctx.ask("Refund?", choices=["yes", "no"]) == "yes" else "no"

    store: SessionStore = SQLiteSession(tmp_path / "s.db")
    model = ScriptedModel([tool_call("refund", {"order": "A1"}), text("Refunded.")])
    journal = Journal(tmp_path / "journal.db")
    async with OpenAIServer(model) as server:
        agent = LLMAgent("bot", base_url=server.base_url, tools=[refund], session=store)
        wf = Workflow("chat")
        wf.node("agent", agent, with_={"task": "Refund A1", "conversation_id": "ada"})
        first = await run_workflow(wf, journal=journal, tracer=False)
        assert await store.messages("ada") == []
        await resume_run(
            first.run_id, journal=journal, definition=wf, answers={"agent": "yes"}, tracer=False
        )
    kept = await store.messages("ada")
    assert [m["role"] for m in kept] == ["user", "assistant", "tool", "assistant"]
    assert json.loads(json.dumps(kept))[-1]["content"] == "Refunded."


async def test_a_handed_to_agent_sees_the_conversations_earlier_turns() -> None:
    model = ScriptedModel(
        [text("Hello Ada."), tool_call("transfer_to_refunds", {}), text("Refunded, Ada.")]
    )
    async with OpenAIServer(model) as server:
        refunds = LLMAgent("refunds", base_url=server.base_url, instructions="Refunds.")
        triage = LLMAgent(
            "triage", base_url=server.base_url, handoffs=[refunds], session=MemorySession()
        )
        await ask(triage, "I am Ada.")
        result = await ask(triage, "Refund A1.")
    assert result.outputs == {"agent": "Refunded, Ada."}
    assert chat(model.requests[2].messages)[:3] == [
        ("system", "Refunds."),
        ("user", "I am Ada."),
        ("assistant", "Hello Ada."),
    ]


async def test_a_call_answered_by_an_action_handed_to_keeps_its_turn(tmp_path: Path) -> None:
    """A handoff to a tool (no agent) answered, but the session kept nothing: the next
    call's model did not know what the customer had been told."""

    @tool
    def desk(task: str, ctx: ActionContext) -> str:
        """A person at the help desk."""
        return "A person calls you at 5." if ctx.ask("Call back?", choices=["yes"]) else "no"

    store = MemorySession()
    model = ScriptedModel(
        [text("Hello Ada."), tool_call("transfer_to_desk", {}), text("At 5, as told.")]
    )
    journal = Journal(tmp_path / "journal.db")
    async with OpenAIServer(model) as server:
        triage = LLMAgent("triage", base_url=server.base_url, handoffs=[desk], session=store)
        await ask(triage, "I am Ada.")
        wf = Workflow("chat")
        wf.node("agent", triage, with_={"task": "A human, please.", "conversation_id": "ada"})
        first = await run_workflow(wf, journal=journal, tracer=False)
        assert first.state is RunState.NEEDS_INPUT
        done = await resume_run(
            first.run_id, journal=journal, definition=wf, answers={"agent": "yes"}, tracer=False
        )
        assert done.nodes["agent"].agent == "desk"
        result = await ask(triage, "When?")
    assert result.outputs == {"agent": "At 5, as told."}
    assert chat(await store.messages("ada"))[2:] == [
        ("user", "A human, please."),
        ("assistant", ""),
        ("tool", '{"transferred_to": "desk"}'),
        ("assistant", "A person calls you at 5."),
        ("user", "When?"),
        ("assistant", "At 5, as told."),
    ]
    assert chat(model.requests[2].messages)[-2:] == [
        ("assistant", "A person calls you at 5."),
        ("user", "When?"),
    ]


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"not a database" * 20, "not a SQLite database, or a damaged one"),
        (None, "written by a newer weft (format 5; this weft reads 1)"),
        ("folder", "is a folder: name a file in it"),
    ],
)
async def test_a_session_file_it_cannot_use_fails_the_call_with_a_clear_error(
    tmp_path: Path, content: bytes | str | None, says: str
) -> None:
    """The call failed with a bare ``sqlite3.DatabaseError`` and its traceback."""
    import sqlite3

    path = tmp_path / "support.db"
    if content == "folder":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    else:
        await SQLiteSession(path).add_turn("ada", [{"role": "user", "content": "hi"}])
        with sqlite3.connect(path) as db:
            db.execute("PRAGMA user_version = 5")
    model = ScriptedModel([])
    async with OpenAIServer(model) as server:
        agent = LLMAgent("bot", base_url=server.base_url, session=SQLiteSession(path))
        result = await ask(agent, "Hello")
    error = result.nodes["agent"].error
    assert error is not None and error.type == "SessionFileError"
    assert says in error.message and str(path) in error.message
    assert "traceback" not in error.details and not error.retryable
    assert model.requests == []


async def test_a_damaged_turn_names_the_conversation_to_clear(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "support.db"
    await SQLiteSession(path).add_turn("ada", [{"role": "user", "content": "hi"}])
    with sqlite3.connect(path) as db:
        db.execute("UPDATE turns SET messages = '{oops'")
    with pytest.raises(Exception, match=r"turn 1 of conversation 'ada' is damaged.*clear"):
        await SQLiteSession(path).messages("ada")


def test_two_writers_on_one_conversation_each_add_every_turn(tmp_path: Path) -> None:
    """Two processes (here: two connections in threads) answering one conversation: the
    second to insert failed the call with ``UNIQUE constraint failed`` and lost its turn."""
    from concurrent.futures import ThreadPoolExecutor

    path = tmp_path / "support.db"

    def writer(name: str) -> None:
        store = SQLiteSession(path, max_turns=1000)
        for i in range(100):
            asyncio.run(store.add_turn("ada", [{"role": "user", "content": f"{name}{i}"}]))

    with ThreadPoolExecutor(2) as pool:
        for done in [pool.submit(writer, "a"), pool.submit(writer, "b")]:
            done.result()
    kept = asyncio.run(SQLiteSession(path, max_turns=1000).messages("ada"))
    assert len(kept) == 200


def test_an_open_answered_database_is_locked_is_tried_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two writers opening a new file at one moment race to switch it to WAL; SQLite
    answered the loser "database is locked" at once, busy timeout or not, and its turn
    was lost (CI, ``test_two_writers_on_one_conversation_each_add_every_turn``)."""
    store = SQLiteSession(tmp_path / "support.db")
    really_open = store._connect_once
    refused: list[bool] = []

    def locked_once(*, read_only: bool) -> sqlite3.Connection:
        if not refused:
            refused.append(True)
            raise sqlite3.OperationalError("database is locked")
        return really_open(read_only=read_only)

    monkeypatch.setattr(store, "_connect_once", locked_once)
    asyncio.run(store.add_turn("ada", [{"role": "user", "content": "hello"}]))
    assert refused
    assert asyncio.run(store.messages("ada")) == [{"role": "user", "content": "hello"}]


def test_the_sdks_argument_order_is_refused_with_weft_s_spelling() -> None:
    """``SQLiteSession("user_1", "conv.db")`` (the SDK's id, then file) failed with a bare
    "takes 2 positional arguments"; the fix a user then tried made a file named user_1."""
    with pytest.raises(TypeError, match=r"SQLiteSession\('conv.db', conversation_id='user_1'\)"):
        SQLiteSession("user_1", "conv.db")


async def test_the_agent_that_answered_goes_on_when_it_shares_the_store() -> None:
    """As the SDK's ``result.last_agent`` is run next (docs: Coming from the SDK)."""
    model = ScriptedModel([tool_call("transfer_to_refunds", {}), text("Refunded."), text("Yes.")])
    store = MemorySession()
    async with OpenAIServer(model) as server:
        refunds = LLMAgent("refunds", base_url=server.base_url, instructions="R.", session=store)
        triage = LLMAgent("triage", base_url=server.base_url, handoffs=[refunds], session=store)
        first = await ask(triage, "Refund A1.")
        assert first.nodes["agent"].agent == "refunds"
        await ask(refunds, "Did it work?")
    assert chat(model.requests[2].messages) == [
        ("system", "R."),
        ("user", "Refund A1."),
        ("assistant", ""),
        ("tool", '{"transferred_to": "refunds"}'),
        ("assistant", "Refunded."),
        ("user", "Did it work?"),
    ]
    assert len(await store.messages("ada")) == 6  # two turns: 4 messages, then 2
