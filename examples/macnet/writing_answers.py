"""Scripted answers for the writing team, so the example runs without a model.

``scripted_model()`` answers every request the way the role in its system
prompt would, deterministically: an actor writes a short contribution (a
revised one when the task carries a reviewer's instructions); the critic
sends back every first draft once with an instruction, and approves
revisions. Served by ``weft.testing.OpenAIServer``, it is reached through
the real ``openai`` client, like a model.
"""

from __future__ import annotations

import re

from weft.testing import FunctionModel, ModelRequest
from weft.testing.steps import Reply, json_output

ROLE = re.compile(r"You are the ([a-z ]+) of a small writing team")


def answer(request: ModelRequest) -> Reply | str:
    if "You review one teammate's artifact" in request.system:
        artifact = request.last_user_text
        if "(revised)" in artifact:
            return json_output({"approved": True, "feedback": ""})
        return json_output({"approved": False, "feedback": "Cut it to two sentences."})
    found = ROLE.search(request.system)
    role = found.group(1) if found else "writer"
    text = request.last_user_text
    task = text.split("\n\n", 1)[0]
    if "A reviewer sent it back" in text:
        return f"{role}: two tight sentences on '{task}' (revised)"
    return f"{role}: a first take on '{task}'"


def scripted_model() -> FunctionModel:
    return FunctionModel(answer, name="macnet-offline")
