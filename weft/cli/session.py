"""``weft session ls | show | clear``: the conversations an LLM agent's SQLite session keeps.

An agent with ``session=SQLiteSession(FILE)`` (YAML: ``session: {path: FILE}``)
keeps each conversation's turns in ``FILE`` (``weft.agents.sessions``). These
commands read that file, for a person checking what an agent will remember, and
forget a conversation (a customer's request, a test run).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from weft.protocols import WeftError
from weft.protocols.hints import did_you_mean

if TYPE_CHECKING:
    from weft.agents.sessions import SQLiteSession

_FILE = click.argument("file", type=click.Path(dir_okay=False))


def _store(file: str) -> SQLiteSession:
    from weft.agents.sessions import SQLiteSession

    path = Path(file)
    if not path.exists():
        raise WeftError(f"no session file {path} (an agent creates it when a call first answers)")
    return SQLiteSession(path)


def _missing(store: SQLiteSession, conversation: str) -> WeftError:
    """The error for a conversation the file does not keep, naming close ones it does."""
    kept = [name for name, _ in asyncio.run(store.conversations())]
    hint = did_you_mean(conversation, kept)
    if not hint:
        hint = (
            f" (it keeps {len(kept)}: `weft session ls {store.path}`)"
            if kept
            else " (it keeps none)"
        )
    return WeftError(f"{store.path} keeps no conversation '{conversation}'{hint}")


@click.group("session")
def session_group() -> None:
    """The conversations an LLM agent's SQLite session keeps."""


@session_group.command("ls")
@_FILE
def ls_command(file: str) -> None:
    """List the conversations in FILE, with their turns."""
    store = _store(file)
    rows = asyncio.run(store.conversations())
    for name, turns in rows:
        click.echo(f"{name}\t{turns} turn(s)")
    if not rows:
        click.echo("no conversations", err=True)


@session_group.command("show")
@_FILE
@click.argument("conversation")
@click.option("--json", "as_json", is_flag=True, help="Print the messages as a JSON list.")
def show_command(file: str, conversation: str, as_json: bool) -> None:
    """Print the messages kept for CONVERSATION, oldest first."""
    store = _store(file)
    messages = asyncio.run(store.read_messages(conversation))
    if not messages:
        raise _missing(store, conversation)
    if as_json:
        click.echo(json.dumps(messages, indent=2))
        return
    for message in messages:
        calls = [c["function"]["name"] for c in message.get("tool_calls") or []]
        text = message.get("content") or ""
        shown = " ".join(p for p in (text, f"[calls {', '.join(calls)}]" if calls else "") if p)
        click.echo(f"{message.get('role', '?')}: {shown}")


@session_group.command("clear")
@_FILE
@click.argument("conversation")
def clear_command(file: str, conversation: str) -> None:
    """Forget CONVERSATION: its next call starts afresh."""
    store = _store(file)
    if conversation not in {name for name, _ in asyncio.run(store.conversations())}:
        raise _missing(store, conversation)  # a misspelt id must not pass for forgotten
    asyncio.run(store.clear(conversation))
    click.echo(f"cleared {conversation}", err=True)


def register(group: click.Group) -> None:
    group.add_command(session_group)
