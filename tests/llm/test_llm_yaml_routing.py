"""An ``llm:`` action's ``skills`` are its capability card: a capability node routes by them.

Both agents have the same description, so only their skills tell them apart;
the node's capability fits the second one's, so a router that ignored the
skills (a tie) would take the first. ``weft run`` in a subprocess, the real
``openai`` client against the local scripted server, the capability router on
the hashing embedder (offline, deterministic) over a real Chroma index.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from weft.testing import OpenAIServer, ScriptedModel, text

WORKFLOW = """\
name: desk
actions:
  clerk_a:
    llm:
      instructions: "You are clerk A."
      skills: ["translate Spanish text into English", "translation"]
    description: "A clerk."
  clerk_b:
    llm:
      instructions: "You are clerk B."
      skills: ["summarise a long report in two sentences", "summary"]
    description: "A clerk."
nodes:
  work:
    capability: summarise the report in two sentences
    with: {task: "The quarterly report is long."}
"""


def test_a_capability_node_routes_to_the_llm_action_whose_skills_fit(tmp_path: Path) -> None:
    path = tmp_path / "desk.yaml"
    path.write_text(WORKFLOW)
    model = ScriptedModel([text("Sales rose. Costs fell.")])
    with OpenAIServer(model) as server:
        done = subprocess.run(
            [sys.executable, "-m", "weft", "run", str(path), "--json"],
            capture_output=True,
            text=True,
            timeout=120,
            env={
                **os.environ,
                "OPENAI_BASE_URL": server.base_url,
                "WEFT_MODEL": "m",
                "WEFT_EMBEDDER": "hashing",
            },
        )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    # routed_to names the action chosen (agents lists remote answerers only)
    assert report["nodes"]["work"]["routed_to"] == {"clerk_b": 1}
    assert report["outputs"]["work"] == "Sales rose. Costs fell."
    assert [r.system for r in model.requests] == ["You are clerk B."]
