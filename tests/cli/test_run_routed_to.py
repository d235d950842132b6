"""A capability node's line in ``weft run``'s summary names the action it was routed to.

The choice comes from the progress event the capability node's call sends
when its router decides (``weft.runtime.engine.capability``); the run is
routed by the router ``weft run`` uses (MiniLM when installed, else the
keyword router), among two local actions whose descriptions are far apart.
"""

from __future__ import annotations

import json
import textwrap
import uuid
from pathlib import Path

from click.testing import CliRunner

from weft.cli import cli
from weft.cli._placement import Placements
from weft.protocols import EventKind, NodeState, RunEvent
from weft.runtime.engine.outcomes import NodeOutcome

TOOLS = '''
import weft

@weft.tool
def translator(text: str) -> str:
    """Translate text from Spanish into English."""
    return f"english({text})"

@weft.tool
def summariser(text: str) -> str:
    """Summarise a long document or report in a few sentences."""
    return f"summary({text})"
'''


def routed(node: str, key: str, chosen: str | None) -> RunEvent:
    """The progress event a capability node's call sends once its router decided."""
    data = {"message": f"routed to {chosen}", "capability": "c", "chosen": chosen}
    return RunEvent(run_id="r", kind=EventKind.PROGRESS, at=0.0, node=node, key=key, data=data)


def test_a_capability_node_is_shown_with_the_action_it_was_routed_to(tmp_path: Path) -> None:
    module = f"routed_tools_{uuid.uuid4().hex[:12]}"
    (tmp_path / f"{module}.py").write_text(TOOLS)
    path = tmp_path / "wf.yaml"
    path.write_text(
        textwrap.dedent(
            f"""
            name: support
            actions:
              translator: {{python: "{module}:translator"}}
              summariser: {{python: "{module}:summariser"}}
            nodes:
              translate:
                capability: translate the Spanish ticket into English
                with: {{task: "hola"}}
              shorten:
                capability: summarise the report in two sentences
                after: [translate]
              plain:
                action: translator
                with: {{text: "adios"}}
            """
        )
    )
    argv = ["run", str(path), "--journal", str(tmp_path / "journal.db")]
    result = CliRunner().invoke(cli, argv, env={"WEFT_HOME": str(tmp_path)})
    assert result.exit_code == 0, result.output
    lines = {line.split()[1]: line for line in result.stdout.splitlines() if line.startswith("  ✓")}
    assert lines["translate"].endswith("  local, routed to translator"), lines
    assert lines["shorten"].endswith("  local, routed to summariser"), lines
    assert lines["plain"].endswith("  local"), lines  # a node naming its action: as before


def test_a_foreach_routed_to_several_actions_counts_the_calls_of_each() -> None:
    placements = Placements()
    for i, chosen in enumerate(["summariser", "translator", "summariser"]):
        placements.on_event(routed("work", f"work[{i}]", chosen))
    assert placements.routed_to("work") == "routed to summariser (2 calls), translator (1 call)"


def test_a_retry_routed_again_counts_as_the_action_that_served_it_last() -> None:
    placements = Placements()
    placements.on_event(routed("work", "work", "translator"))
    placements.on_event(routed("work", "work", "summariser"))
    assert placements.routed_to("work") == "routed to summariser"


def test_nodes_without_a_routing_choice_name_no_action() -> None:
    placements = Placements()
    placements.on_event(routed("work", "work", None))  # no agent fits: the error says why
    progress = RunEvent(
        run_id="r", kind=EventKind.PROGRESS, at=0.0, node="tool", key="tool",
        data={"message": "half way", "chosen": "x"},  # a tool's own progress, not a route
    )  # fmt: skip
    placements.on_event(progress)
    placements.on_event(routed("inner", "sub/inner", "translator"))  # in a sub-workflow
    assert placements.chosen == {}
    outcome = NodeOutcome(name="work", key="work", state=NodeState.SUCCEEDED, attempts=1)
    assert placements.where(outcome) == "local" and placements.routed_to("work") == ""


def test_run_json_names_the_actions_a_capability_node_was_routed_to(tmp_path: Path) -> None:
    """``--json`` gives each node ``routed_to``: the chosen action with its calls (a
    ``foreach`` counts one per item), ``{}`` for a node that names its action."""
    module = f"routed_tools_{uuid.uuid4().hex[:12]}"
    (tmp_path / f"{module}.py").write_text(TOOLS)
    path = tmp_path / "wf.yaml"
    path.write_text(
        textwrap.dedent(
            f"""
            name: support
            actions:
              translator: {{python: "{module}:translator"}}
              summariser: {{python: "{module}:summariser"}}
            nodes:
              translate:
                capability: translate the Spanish ticket into English
                with: {{task: "hola"}}
              tickets:
                capability: translate the Spanish ticket into English
                foreach: [uno, dos, tres]
                with: {{task: "${{item}}"}}
              shorten:
                capability: summarise the report in two sentences
                after: [translate]
              plain:
                action: translator
                with: {{text: "adios"}}
            """
        )
    )
    argv = ["run", str(path), "--json", "--journal", str(tmp_path / "journal.db")]
    result = CliRunner().invoke(cli, argv, env={"WEFT_HOME": str(tmp_path)})
    assert result.exit_code == 0, result.output
    nodes = json.loads(result.stdout)["nodes"]
    routes = {name: node["routed_to"] for name, node in nodes.items()}
    assert routes == {
        "translate": {"translator": 1},
        "tickets": {"translator": 3},
        "shorten": {"summariser": 1},
        "plain": {},
    }
    assert all(node["agents"] == [] for node in nodes.values())  # all ran in this process


def test_routes_of_lists_each_action_with_its_calls_most_first() -> None:
    """What ``routed_to`` holds for a ``foreach`` whose items went to several actions
    (a fixed capability text routes every item alike through the CLI's router)."""
    placements = Placements()
    for i, chosen in enumerate(["translator", "summariser", "summariser"]):
        placements.on_event(routed("work", f"work[{i}]", chosen))
    assert list(placements.routes_of("work").items()) == [("summariser", 2), ("translator", 1)]
    assert placements.routes_of("other") == {}
