"""Offline answers for the launch team: a function model that plays each member's part.

Served by ``weft.testing.OpenAIServer`` on loopback, it answers every
request the way the member's instructions ask, reading the conversation in
the prompt (``Conversation so far``), so the example runs without a model and
takes every path of the protocol: an async and a sync assignment, a pause
until the async task reports, a proposal and a vote. The scripted research
takes as long as it takes the team to pause: it answers once ``release`` is
set (``run.py`` sets it when the pause appears on the team topic), the way a
real researcher is still busy when the lead decides to wait.
"""

from __future__ import annotations

import asyncio
import json

from weft.testing import FunctionModel
from weft.testing.models import ModelRequest

FACTS = (
    "weft teams converse on one MQTT topic per conversation\n"
    "exactly one member speaks per turn\n"
    "a paused team resumes only when its tasks report"
)
OUTLINE = "1. what teams are  2. how they take turns  3. how they wait for work"


def _reply(**fields: object) -> str:
    return json.dumps({"text": "", **fields})


def answer(request: ModelRequest) -> str:
    """The reply of the member whose instructions head ``request`` (see the module docstring)."""
    role = request.system.split()[3]  # "You are the lead/researcher/writer ..."
    prompt = str(request.last_message.get("content", ""))
    facts_in = "facts (task_result)" in prompt or "researcher (task_result)" in prompt
    if "assigned you task" in prompt:
        return _reply(act="speak", text=FACTS if role == "researcher" else OUTLINE)
    if "Vote:" in prompt:
        return _reply(act="vote", vote="yes", text="the note uses the facts")
    if role == "lead":
        if "(assign_sync)" not in prompt:
            return _reply(
                act="assign",
                text="researcher: facts (async); writer: outline (sync)",
                tasks=[
                    {
                        "id": "facts",
                        "to": "researcher",
                        "task": "three facts about the topic",
                        "mode": "async",
                    },
                    {
                        "id": "outline",
                        "to": "writer",
                        "task": "a three-point outline",
                        "mode": "sync",
                    },
                ],
            )
        if "(pause)" not in prompt:
            return _reply(act="pause", text="waiting for the facts", wait_for=["facts"])
        return _reply(act="speak", text="facts are in; writer, the note please", to="writer")
    if role == "researcher":
        return _reply(act="speak", text="facts are in" if facts_in else "still researching")
    if not facts_in:
        return _reply(act="speak", text="outline done; waiting for the facts", to="lead")
    note = "weft now has teams: " + FACTS.replace("\n", "; ") + "."
    return _reply(act="propose", text=note)


def scripted_model(release: asyncio.Event) -> FunctionModel:
    """The offline model; research answers only once ``release`` is set."""

    async def respond(request: ModelRequest) -> str:
        if "assigned you task facts" in str(request.last_message.get("content", "")):
            await release.wait()
        return answer(request)

    return FunctionModel(respond, name="launch-team-offline")
