"""Conversation memory of an ``LLMAgent`` across calls: what the OpenAI Agents SDK calls sessions.

An agent given a session store (``LLMAgent(session=SQLiteSession("support.db"))``)
sends the earlier turns of a conversation before each new task, and adds the
new turn once the call has answered. Which conversation is the call's
``conversation_id`` argument (the agent's input schema gains it), or the store's
own ``conversation_id`` when the call gives none; a call with neither is refused
(``ValidationError``), so two users' conversations cannot mix by accident.
The argument is not called ``session_id`` (the SDK's word) on purpose: keys
like that are masked as secrets (a web session's id is a credential) in
journals and traces, and a resumed call rebuilt from its journaled inputs
would lose which conversation it was.

- **A turn** is one call's exchange: the user's message, the tool calls and
  replies, handoffs, and the final answer. The store keeps at most
  ``max_turns`` turns per conversation and drops the oldest whole turns, so a
  tool call is never kept without its reply (an endpoint refuses that).
- **Only finished calls are kept.** A call that fails adds nothing; one that
  stops for a person's answer (``needs_input``) adds its turn when resumed and
  answered (its saved state holds the conversation meanwhile).
- **One call at a time per conversation** in a process: a second call on the
  same ``conversation_id`` waits until the first has finished, so it sees the first
  one's turn (calls on other conversations run in parallel). Between processes
  a SQLite store keeps each write whole, but two processes may still answer the
  same conversation at once.
- ``SQLiteSession`` survives a restart; its file is read and written in a
  worker thread, never on the event loop. ``MemorySession`` lives as long as
  its object (tests, notebooks).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

__all__ = ["MemorySession", "SQLiteSession", "SessionStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS turns (
    conversation_id TEXT NOT NULL,
    turn INTEGER NOT NULL,
    messages TEXT NOT NULL,
    PRIMARY KEY (conversation_id, turn)
)
"""


class SessionStore:
    """Where conversations are kept; subclasses store turns, this class serialises calls.

    ``max_turns`` turns are kept per conversation (oldest dropped);
    ``conversation_id`` is the conversation of a call that names none.
    """

    def __init__(self, *, max_turns: int = 50, conversation_id: str | None = None) -> None:
        if max_turns < 1:
            raise ValueError("max_turns must be at least 1")
        self.max_turns = max_turns
        self.conversation_id = conversation_id
        # One lock per (event loop, conversation), with how many calls hold or wait for it:
        # an asyncio lock belongs to one loop, and a conversation nobody waits on is dropped.
        self._locks: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, dict[str, tuple[asyncio.Lock, int]]
        ] = weakref.WeakKeyDictionary()

    @asynccontextmanager
    async def held(self, conversation_id: str) -> AsyncIterator[None]:
        """Hold conversation ``conversation_id`` for one call: later calls on it wait."""
        locks = self._locks.setdefault(asyncio.get_running_loop(), {})
        lock, users = locks.get(conversation_id, (asyncio.Lock(), 0))
        locks[conversation_id] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = locks[conversation_id]
            if users <= 1:
                del locks[conversation_id]
            else:
                locks[conversation_id] = (lock, users - 1)

    async def messages(self, conversation_id: str) -> list[dict[str, Any]]:
        """The messages of the turns kept for ``conversation_id``, oldest first."""
        raise NotImplementedError

    async def add_turn(self, conversation_id: str, messages: list[dict[str, Any]]) -> None:
        """Keep one finished call's messages; drop the oldest turns beyond ``max_turns``."""
        raise NotImplementedError

    async def clear(self, conversation_id: str) -> None:
        """Forget conversation ``conversation_id``."""
        raise NotImplementedError


class MemorySession(SessionStore):
    """Conversations kept in this object: gone with it (tests, notebooks)."""

    def __init__(self, *, max_turns: int = 50, conversation_id: str | None = None) -> None:
        super().__init__(max_turns=max_turns, conversation_id=conversation_id)
        self._turns: dict[str, list[list[dict[str, Any]]]] = {}

    async def messages(self, conversation_id: str) -> list[dict[str, Any]]:
        return [m for turn in self._turns.get(conversation_id, []) for m in turn]

    async def add_turn(self, conversation_id: str, messages: list[dict[str, Any]]) -> None:
        turns = self._turns.setdefault(conversation_id, [])
        turns.append(json.loads(json.dumps(messages, default=str)))  # a copy, as stored
        del turns[: -self.max_turns]

    async def clear(self, conversation_id: str) -> None:
        self._turns.pop(conversation_id, None)

    def __repr__(self) -> str:
        return f"MemorySession(max_turns={self.max_turns})"


class SQLiteSession(SessionStore):
    """Conversations in a SQLite file (created with its folder when missing).

    Each operation opens its own connection in a worker thread (WAL mode, a
    busy timeout), so several agents and processes may share one file.
    """

    def __init__(
        self, path: str | Path, *, max_turns: int = 50, conversation_id: str | None = None
    ) -> None:
        super().__init__(max_turns=max_turns, conversation_id=conversation_id)
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"SQLiteSession({str(self.path)!r}, max_turns={self.max_turns})"

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(_SCHEMA)
        return db

    def _read(self, conversation_id: str) -> list[dict[str, Any]]:
        db = self._connect()
        try:
            rows = db.execute(
                "SELECT messages FROM turns WHERE conversation_id = ? ORDER BY turn",
                (conversation_id,),
            ).fetchall()
        finally:
            db.close()
        return [m for (text,) in rows for m in json.loads(text)]

    def _write(self, conversation_id: str, messages: list[dict[str, Any]]) -> None:
        text = json.dumps(messages, default=str)
        db = self._connect()
        try:
            with db:  # one transaction: the turn and the trim, or neither
                (last,) = db.execute(
                    "SELECT COALESCE(MAX(turn), 0) FROM turns WHERE conversation_id = ?",
                    (conversation_id,),
                ).fetchone()
                db.execute(
                    "INSERT INTO turns (conversation_id, turn, messages) VALUES (?, ?, ?)",
                    (conversation_id, last + 1, text),
                )
                db.execute(
                    "DELETE FROM turns WHERE conversation_id = ? AND turn <= ?",
                    (conversation_id, last + 1 - self.max_turns),
                )
        finally:
            db.close()

    def _delete(self, conversation_id: str) -> None:
        db = self._connect()
        try:
            with db:
                db.execute("DELETE FROM turns WHERE conversation_id = ?", (conversation_id,))
        finally:
            db.close()

    def _list(self) -> list[tuple[str, int]]:
        db = self._connect()
        try:
            rows = db.execute(
                "SELECT conversation_id, COUNT(*) FROM turns GROUP BY conversation_id "
                "ORDER BY conversation_id"
            ).fetchall()
        finally:
            db.close()
        return [(str(name), int(count)) for name, count in rows]

    async def conversations(self) -> list[tuple[str, int]]:
        """Every conversation kept in the file, with how many turns it holds."""
        return await asyncio.to_thread(self._list)

    async def messages(self, conversation_id: str) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self._read, conversation_id)

    async def add_turn(self, conversation_id: str, messages: list[dict[str, Any]]) -> None:
        await asyncio.to_thread(self._write, conversation_id, messages)

    async def clear(self, conversation_id: str) -> None:
        await asyncio.to_thread(self._delete, conversation_id)
