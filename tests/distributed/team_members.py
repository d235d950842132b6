"""Team members served by their own agent processes in the remote-team tests.

They follow the team member protocol (``weft.runtime.teams.member``): alice
opens and, once bob has spoken, concludes; bob speaks when it is his turn.
Each reply carries the process id, so a test can tell who answered where.
"""

from __future__ import annotations

import os
from typing import Any


def alice(task: str, context: dict[str, Any]) -> Any:
    if context.get("mode") == "task":
        return f"alice did {context['task']['task']}"
    if context["turn"] == 1:
        return {"act": "speak", "text": f"alice opens on {task} (pid {os.getpid()})"}
    return {"act": "conclude", "text": "agreed: " + context["history"][-1].get("text", "")}


def bob(task: str, context: dict[str, Any]) -> Any:
    if context.get("mode") == "task":
        return f"bob did {context['task']['task']}"
    return {"act": "speak", "text": f"bob adds a plan (pid {os.getpid()})"}
