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
  a SQLite store keeps each write whole and adds every turn (the write lock is
  taken before the last turn is read), but two processes may still answer the
  same conversation at once, each from the turns kept when it started.
- ``SQLiteSession`` survives a restart; its file is read and written in a
  worker thread, never on the event loop. ``MemorySession`` lives as long as
  its object (tests, notebooks).
- **A file weft cannot use fails the call** ``SessionFileError`` (not retried),
  never with a bare ``sqlite3`` error: a file that is no SQLite database (or is
  damaged), another program's database (no ``turns`` table: the store would
  have added one to it), or one written by a newer weft (``PRAGMA
  user_version`` above ``SESSION_FORMAT``).
- **Offered as a tool** to another LLM agent, an agent with a session does not
  show the model a ``conversation_id`` to invent (``openai_tools.ToolSet``): the
  caller's conversation, when it has one, goes on as ``<caller's id>/<agent>``;
  else the agent's store default is used; else the caller's call stands in
  (``<run>:<node key>/<agent>``, the same when the run is resumed), so the
  tool calls of one caller call share one conversation and the next call
  starts fresh.
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
from urllib.parse import quote

from weft.protocols import ActionFailed
from weft.protocols.sqlite_open import open_patiently

#: The argument naming the conversation of an agent with a session, in its input schema.
SESSION_ID_PROPERTY: dict[str, Any] = {
    "type": "string",
    "description": "Which conversation this call goes on: its earlier turns are sent first.",
}


def is_session_input(schema: dict[str, Any]) -> bool:
    """Whether ``schema`` is an agent's input with the session's ``conversation_id`` (the
    very property above: a tool's own ``conversation_id`` parameter is left alone)."""
    return (schema.get("properties") or {}).get("conversation_id") == SESSION_ID_PROPERTY


def without_session(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` without the session's ``conversation_id`` (what a calling model is shown)."""
    properties = {k: v for k, v in schema.get("properties", {}).items() if k != "conversation_id"}
    required = [r for r in schema.get("required", []) if r != "conversation_id"]
    return {**schema, "properties": properties, "required": required}


__all__ = ["SESSION_FORMAT", "MemorySession", "SQLiteSession", "SessionFileError", "SessionStore"]

#: The format of the session files this weft writes and reads (their ``PRAGMA user_version``;
#: files written before it was stamped read 0 and are the same format).
SESSION_FORMAT = 1
#: ``PRAGMA application_id`` of a session file ("weft" in ASCII): tells one from another
#: program's database whatever its format.
_APPLICATION_ID = 0x77656674


class SessionFileError(ActionFailed):
    """A session file that cannot be used: no SQLite database, damaged, another program's
    database, or written by a newer weft. The message names the file and what to do."""


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
        self,
        path: str | Path,
        *extra: object,
        max_turns: int = 50,
        conversation_id: str | None = None,
    ) -> None:
        if extra:  # ``SQLiteSession("user_1", "conv.db")``, as the OpenAI Agents SDK writes it
            raise TypeError(
                f"SQLiteSession({path!r}, {extra[0]!r}): weft's takes the file only; the "
                "conversation is each call's conversation_id argument, or one fixed for "
                f"every call: SQLiteSession({extra[0]!r}, conversation_id={path!r})"
            )
        super().__init__(max_turns=max_turns, conversation_id=conversation_id)
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"SQLiteSession({str(self.path)!r}, max_turns={self.max_turns})"

    def _connect(self, *, read_only: bool = False) -> sqlite3.Connection:
        """A connection to the file, checked (``SessionFileError``); ``read_only`` neither
        creates the file nor its table (``weft session ls`` of the wrong file changes it not).

        Two writers opening the file at one moment race to switch it to WAL, and SQLite
        answers the loser "database is locked" at once, busy timeout or not (seen in CI
        with two threads adding turns): ``open_patiently`` tries again."""
        return open_patiently(lambda: self._connect_once(read_only=read_only))

    def _connect_once(self, *, read_only: bool) -> sqlite3.Connection:
        if self.path.is_dir():
            raise SessionFileError(f"session file {self.path} is a folder: name a file in it")
        try:
            if read_only:
                uri = f"file:{quote(str(self.path.resolve()))}?mode=ro"
                db = sqlite3.connect(uri, uri=True, timeout=30)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(self.path, timeout=30)
        except (OSError, sqlite3.Error) as exc:
            raise SessionFileError(f"session file {self.path}: cannot open it ({exc})") from None
        try:
            self._check(db)
            if not read_only:
                db.execute("PRAGMA journal_mode=WAL")
                if not _has_turns(db):
                    with db:
                        db.execute(_SCHEMA)
                        db.execute(f"PRAGMA user_version = {SESSION_FORMAT}")
                        db.execute(f"PRAGMA application_id = {_APPLICATION_ID}")
        except BaseException:
            db.close()
            raise
        return db

    def _check(self, db: sqlite3.Connection) -> None:
        """Refuse a file that is no session file this weft can read."""
        try:
            tables = {
                str(name)
                for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            }
            (version,) = db.execute("PRAGMA user_version").fetchone()
            (application,) = db.execute("PRAGMA application_id").fetchone()
        except sqlite3.DatabaseError as exc:
            raise SessionFileError(
                f"session file {self.path}: not a SQLite database, or a damaged one ({exc}); "
                "move it away (its conversations are lost) or give the session another path"
            ) from None
        ours = application == _APPLICATION_ID or "turns" in tables
        if tables and not ours:
            raise SessionFileError(
                f"session file {self.path} is another SQLite database (tables: "
                f"{', '.join(sorted(tables)[:5])}), not a weft session file: give the session "
                "a file of its own"
            )
        if version > SESSION_FORMAT:
            raise SessionFileError(
                f"session file {self.path} was written by a newer weft (format {version}; "
                f"this weft reads {SESSION_FORMAT}): upgrade weft, or give the session "
                "another path"
            )

    def _rows(self, db: sqlite3.Connection, conversation_id: str) -> list[dict[str, Any]]:
        rows = db.execute(
            "SELECT turn, messages FROM turns WHERE conversation_id = ? ORDER BY turn",
            (conversation_id,),
        ).fetchall()
        messages: list[dict[str, Any]] = []
        for turn, text in rows:
            try:
                kept = json.loads(text)
            except (TypeError, json.JSONDecodeError):
                kept = None
            if not isinstance(kept, list) or not all(isinstance(m, dict) for m in kept):
                raise SessionFileError(
                    f"session file {self.path}: turn {turn} of conversation "
                    f"'{conversation_id}' is damaged (not a list of messages); forget the "
                    f"conversation with `weft session clear {self.path} {conversation_id}`"
                )
            messages.extend(kept)
        return messages

    def _read(self, conversation_id: str, read_only: bool = False) -> list[dict[str, Any]]:
        db = self._connect(read_only=read_only)
        try:
            if read_only and not _has_turns(db):
                return []
            return self._rows(db, conversation_id)
        finally:
            db.close()

    def _write(self, conversation_id: str, messages: list[dict[str, Any]]) -> None:
        text = json.dumps(messages, default=str)
        db = self._connect()
        try:
            # One transaction, the turn and the trim or neither, holding the write lock from
            # its start: another process adding to the same conversation between the read
            # of the last turn and the insert failed the call (UNIQUE constraint failed).
            db.execute("BEGIN IMMEDIATE")
            with db:
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
        db = self._connect(read_only=True)
        try:
            if not _has_turns(db):
                return []
            rows = db.execute(
                "SELECT conversation_id, COUNT(*) FROM turns GROUP BY conversation_id "
                "ORDER BY conversation_id"
            ).fetchall()
        finally:
            db.close()
        return [(str(name), int(count)) for name, count in rows]

    async def conversations(self) -> list[tuple[str, int]]:
        """Every conversation kept in the file, with how many turns it holds (read only)."""
        return await asyncio.to_thread(self._list)

    async def read_messages(self, conversation_id: str) -> list[dict[str, Any]]:
        """``messages``, without creating the file or its table (``weft session show``)."""
        return await asyncio.to_thread(self._read, conversation_id, True)

    async def messages(self, conversation_id: str) -> list[dict[str, Any]]:
        return await asyncio.to_thread(self._read, conversation_id)

    async def add_turn(self, conversation_id: str, messages: list[dict[str, Any]]) -> None:
        await asyncio.to_thread(self._write, conversation_id, messages)

    async def clear(self, conversation_id: str) -> None:
        await asyncio.to_thread(self._delete, conversation_id)


def _has_turns(db: sqlite3.Connection) -> bool:
    """Whether a (checked) file has its table yet: an empty file has none."""
    found = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'turns'")
    return found.fetchone() is not None
