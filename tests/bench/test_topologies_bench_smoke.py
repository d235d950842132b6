"""The topology benchmark runs end to end at tiny sizes, and its counts are right.

No timing assertions: the numbers belong to ``bench/topologies.py``. What is
checked is what the tables rest on: every generator runs every node, the
token counts grow linearly with artifact-only passing and faster with full
history, and the sync rows receive every card.
"""

from __future__ import annotations

import dataclasses

from .conftest import load_bench

bench = load_bench("topologies")
mqtt = load_bench("topology_mqtt")

TINY = dataclasses.replace(
    mqtt.Sizes.quick(),
    nodes=(12,),
    mesh_max=12,
    token_nodes=(10, 20),
    history_max=20,
    cards=(30,),
    agents=12,
    macnet=(12,),
)


def quiet(_message: str) -> None:
    pass


async def test_every_topology_runs_every_node() -> None:
    rows = await bench.inproc_section(TINY, quiet)
    assert {r.kind for r in rows} == {*bench.KINDS, "mesh"}
    assert all(r.nodes == 12 and r.run_s > 0 and r.peak_mb > 0 for r in rows)


async def test_artifact_only_input_is_linear_and_full_history_grows_faster() -> None:
    rows = {(r.kind, r.nodes): r for r in await bench.tokens_section(TINY, quiet)}
    chain_10, chain_20 = rows[("chain", 10)], rows[("chain", 20)]
    # chain: every node but the first gets the task and one 100-character artifact
    assert chain_10.artifact_chars == 10 * 100 + 9 * 100
    assert chain_20.artifact_chars == 20 * 100 + 19 * 100
    # full history: node i gets the task and i artifacts, 1 + ... + (n-1) of them in all
    assert chain_20.history_chars == 20 * 100 + 100 * 19 * 20 // 2
    for kind in ("chain", "layered", "random"):
        row = rows[(kind, 20)]
        assert row.history_chars is not None and row.history_chars > row.artifact_chars


async def test_sync_rows_receive_every_card_in_every_client() -> None:
    text = await mqtt.registry_section(TINY, quiet)
    rows = [line for line in text.splitlines() if line.startswith("| 30 |")]
    clients = [line.split("|")[2].strip() for line in rows]
    assert clients == [
        "bare aiomqtt (receive only)",
        "LiveRegistry.start()",
        "weft agents --json, first listing (whole command)",
        "weft agents --json, listed before (whole command)",
    ]
    assert all(line.rstrip(" |").endswith("| 30") for line in rows)


async def test_live_agents_play_a_macnet_over_mqtt() -> None:
    text = await mqtt.agents_section(TINY, quiet)
    assert "| layered, 12 nodes" in text
    assert text.count("| 12 | ") >= 3  # the three sync rows received all 12 cards
